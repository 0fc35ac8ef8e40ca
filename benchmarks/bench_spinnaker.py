"""SpiNNaker kernels benchmark (issue 12), in one run:

1. **Time per step** of training e-prop on pattern generation (a recurrent layer of N LIF neurons,
   50 inputs, 3 leaky readouts, T = 1000 steps, SGD, one trial per iteration) with the
   host-compiled kernels (``--backend spinnaker``), the float reference engine and NEST, for
   N = 100 and 400: medians of interleaved repetitions, ratios to the reference row of the same
   N.
2. **The on-chip budget**: instructions per synapse-step of the eligibility kernel as the ARM968
   would run it -- ``eligibility.c`` compiled with the ARM flags, linked with a small driver and
   executed instruction by instruction under ``qemu-arm`` (an ARMv5TE core like the ARM968; the
   count is the difference between 2000 and 1000 synapses over 10 steps, so the driver's cost
   drops out). At one instruction per cycle (a lower bound: the ARM968 needs more for
   multiplies and loads) and 200 MHz, a 1 ms real-time tick has 200,000 cycles: that many
   divided by the instructions per synapse is how many synapses a core can update in real time.

Run:  .venv/bin/python benchmarks/bench_spinnaker.py [--quick] [--no-nest]
(part 2 needs ``qemu-user`` and ``gcc-arm-none-eabi`` with newlib: apt-get install qemu-user
gcc-arm-none-eabi)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import presets  # noqa: E402
from ostl.hardware.spinnaker.build import ARM_FLAGS, SOURCE_DIR  # noqa: E402
from ostl.training import Trainer  # noqa: E402

TASK = {"name": "pattern_generation", "seed": 0}
CLOCK_HZ = 200e6
TICK_S = 1e-3


def make(backend, hidden):
    net = presets.build_network(TASK, "eprop", hidden=hidden)
    from ostl.backends import get_plugin

    # weights only (NEST's synapses learn weights, not the readout bias)
    trainable = [n for n in get_plugin("spinnaker").load().trainable_parameters(net) if n != "readout.b"]
    return Trainer(TASK, net, "eprop", {"name": "sgd", "lr": 2e-5}, seed=0, backend=backend, trainable=trainable,
                   init=presets.init_for("pattern_generation"))


def time_per_step(sizes, repeats, with_nest):
    results = {}
    for hidden in sizes:
        trainers = {"reference (float)": make("reference", hidden),
                    "spinnaker kernels (host)": make("spinnaker", hidden)}
        steps = trainers["reference (float)"].task.trial(0, 0).x.shape[0]
        times = {name: [] for name in trainers}
        for trainer in trainers.values():
            trainer.run_iteration()
        for _ in range(repeats):
            for name, trainer in trainers.items():
                started = time.perf_counter()
                trainer.run_iteration()
                times[name].append(time.perf_counter() - started)
        if with_nest:
            try:
                trainer = make("nest", hidden)
                trainer.run_iteration()
                times["NEST"] = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    trainer.run_iteration()
                    times["NEST"].append(time.perf_counter() - started)
            except Exception as exc:   # noqa: BLE001 -- report and go on without NEST
                print(f"NEST: not available ({exc})")
        results[hidden] = {name: float(np.median(t)) / steps for name, t in times.items()}
    return results


DRIVER = r"""
#include <stdlib.h>
#include "ostl_kernels.h"
int main(int argc, char **argv) {
    (void) argc;
    const uint32_t m = (uint32_t) atoi(argv[1]), d = (uint32_t) atoi(argv[2]);
    const int32_t own = atoi(argv[3]), leak = atoi(argv[4]);
    s1615 *eps = calloc(m * (d ? d : 1), 4), *ebar = leak ? calloc(m, 4) : 0, *grad = calloc(m, 4);
    s1615 fd[2] = {30000, 31000}, fo[2] = {-19000, 32768}, fg[2] = {32768, 0}, fq[2] = {5000, -2000};
    s1615 qp[2] = {4000, -1000}, signal = 1234;
    ostl_factors_t f = {fd, fo, fg, fq};
    uint8_t *pre = calloc(m, 1);
    for (uint32_t i = 0; i < m; i += 7) pre[i] = 1;
    ostl_saturations_t sat = {0};
    for (int step = 0; step < 10; ++step)
        if (d == 0) ostl_eligibility_presynaptic(1, m, eps, ebar, grad, &f, pre, &signal, leak ? 26214 : 0, &sat);
        else ostl_eligibility_step(1, m, d, eps, ebar, grad, &f, qp, pre, &signal, leak ? 26214 : 0, own, &sat);
    return (int) (grad[0] & 1);
}
"""

#: (label, d (0: the presynaptic trace of e-prop LIF), own path, readout leak)
CONFIGURATIONS = [("e-prop LIF (presynaptic trace), no leak", 0, 0, 0),
                  ("e-prop LIF, leaky readout (pattern generation)", 0, 0, 1),
                  ("e-prop traces on SNU (d=1, no reset path), leaky readout", 1, 0, 1),
                  ("OSTL / OSTTP LIF or SNU (reset path kept), leaky readout", 1, 1, 1),
                  ("e-prop ALIF (d=2, adaptation path), leaky readout", 2, 1, 1)]


def arm_instructions_per_synapse():
    if not (shutil.which("qemu-arm") and shutil.which("arm-none-eabi-gcc")):
        return None
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "main.c").write_text(DRIVER)
        elf = work / "eligibility.elf"
        subprocess.run(["arm-none-eabi-gcc", *[f for f in ARM_FLAGS if f != "-Werror"], "-I", str(SOURCE_DIR),
                        "--specs=rdimon.specs", str(work / "main.c"), str(SOURCE_DIR / "eligibility.c"), "-o",
                        str(elf)], check=True, capture_output=True)
        out = {}
        for label, d, own, leak in CONFIGURATIONS:
            counts = []
            for m in (1000, 2000):
                log = work / f"trace{m}"
                subprocess.run(["qemu-arm", "-cpu", "arm926", "-singlestep", "-d", "exec,nochain", "-D", str(log),
                                str(elf), str(m), str(d), str(own), str(leak)], capture_output=True)
                with open(log, "rb") as handle:
                    counts.append(sum(chunk.count(b"Trace") for chunk in iter(lambda h=handle: h.read(1 << 20), b"")))
                log.unlink()
            out[label] = (counts[1] - counts[0]) / (1000 * 10)
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-nest", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    results = time_per_step((100, 400), repeats, not args.no_nest)
    print(f"SpiNNaker kernels benchmark: e-prop, pattern generation (N recurrent LIF, 50 inputs, 3 readouts, "
          f"T = 1000), median of {repeats}")
    print(f"{'N':>5}  {'backend':<28}{'us/step':>10}{'vs reference':>14}")
    for hidden, rows in results.items():
        base = rows["reference (float)"]
        for name, value in rows.items():
            print(f"{hidden:>5}  {name:<28}{value * 1e6:>10.1f}{base / value:>13.2f}x")
    counts = arm_instructions_per_synapse()
    if counts is None:
        print("on-chip budget: qemu-arm or arm-none-eabi-gcc not installed "
              "(apt-get install qemu-user gcc-arm-none-eabi)")
        return 0
    print(f"on-chip budget (ARM968, {CLOCK_HZ / 1e6:.0f} MHz, 1 ms tick; at 1 instruction per cycle, a lower bound):")
    print(f"  {'configuration':<58}{'instr/synapse-step':>20}{'synapses/core in real time':>28}")
    for label, per_synapse in counts.items():
        print(f"  {label:<58}{per_synapse:>20.1f}{int(CLOCK_HZ * TICK_S / per_synapse):>28}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
