"""BrainScaleS-2 emulation benchmark (issue 13), in one run: time per emulated step against the float
reference engine on the same network, for the two networks of the results (e-prop, pattern
generation: 64 recurrent LIF, 50 inputs, 3 leaky readouts, T = 1000, one trial per iteration;
evidence accumulation: 50 recurrent ALIF, 40 inputs, 2 softmax readouts, T = 225, batches of 8),
with every constraint on and with the PPU's lanes alone, and the wall-clock time the chip itself
would need for the same training at its 1000x acceleration (model time / 1000; the host's part of
the loop not counted).

Run:  .venv/bin/python benchmarks/bench_brainscales2.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import presets  # noqa: E402
from ostl.hardware.brainscales2.chip import ACCELERATION  # noqa: E402
from ostl.training import Trainer  # noqa: E402

#: name -> (task, learning rate, batch size, iterations of the results' runs)
NETWORKS = {
    "pattern generation, 64 LIF": ({"name": "pattern_generation", "seed": 0}, 2e-5, 1, 300),
    "evidence accumulation, 50 ALIF": ({"name": "evidence_accumulation", "seed": 0, "n_cues": 3, "cue_steps": 30,
                                        "spacing_steps": 15, "delay_steps": 50, "recall_steps": 40}, 0.1, 8, 800),
}
SETTINGS = {
    "reference engine (float)": ("reference", None),
    "BrainScaleS-2, all constraints": ("brainscales2", {}),
    "BrainScaleS-2, PPU lanes only": ("brainscales2", {"variation": False, "noise": False, "weights": "float"}),
    "BrainScaleS-2, no constraint": ("brainscales2", {"variation": False, "noise": False, "weights": "float",
                                                      "arithmetic": "float"}),
}


def make(task, lr, batch_size, backend, options):
    net = presets.build_network(task, "eprop")
    from ostl.backends import get_plugin

    trainable = get_plugin("brainscales2").load().trainable_parameters(net)
    return Trainer(task, net, "eprop", {"name": "sgd", "lr": lr}, seed=0, backend=backend, trainable=trainable,
                   batch_size=batch_size, init=presets.init_for(task["name"]), backend_options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    for network, (task, lr, batch_size, iterations) in NETWORKS.items():
        measure(network, task, lr, batch_size, iterations, repeats)
    return 0


def measure(network, task, lr, batch_size, iterations, repeats):
    trainers = {name: make(task, lr, batch_size, *setting) for name, setting in SETTINGS.items()}
    steps = trainers["reference engine (float)"].task.trial(0, 0).x.shape[0] * batch_size
    times = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.run_iteration()   # warm up (and the PPU's range trial)
    for _ in range(repeats):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            trainer.run_iteration()
            times[name].append(time.perf_counter() - started)
    base = np.median(times["reference engine (float)"]) / steps
    chip_seconds = iterations * steps * 1e-3 / ACCELERATION
    print(f"\nBrainScaleS-2 emulation benchmark: e-prop, {network} ({steps // batch_size} steps x {batch_size} "
          f"trials an iteration), median of {repeats}")
    print(f"{'setting':<36}{'us/step':>10}{'/ reference':>13}{f'emulated, {iterations} it.':>22}")
    for name, values in times.items():
        per_step = np.median(values) / steps
        emulated = per_step * steps * iterations
        print(f"{name:<36}{per_step * 1e6:>10.1f}{per_step / base:>12.2f}x{emulated:>20.1f} s")
    print(f"the chip itself at {ACCELERATION:.0f}x: {chip_seconds:.2f} s for {iterations} iterations "
          f"({iterations * batch_size} trials of {steps // batch_size} ms)")


if __name__ == "__main__":
    sys.exit(main())
