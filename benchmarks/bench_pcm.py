"""PCM synapses benchmark (issue 11): time per training step with float synapses and with
PCM synapses, measured in one run.

The network and task are ``ostl train``'s pattern generation (64 feed-forward SNUs, 50
inputs, 3 leaky readouts, T = 1000 steps, OSTTP, Adam, deferred updates after each trial).
A training step is one trial's iteration divided by T. Rows:

* reference engine, float weights;
* reference engine, PCM synapses (4-device cells, drift and read noise), read once per
  trial (the default): the overhead is the read of every device per trial and the pulses;
* reference engine, PCM synapses read at every step (a fresh drifted, noisy read per
  step, evaluated step by step): the cost of reading the crossbar at each step;
* the NEST backend, float weights, and with ``ostl_pcm_synapse`` (devices in the synapses,
  pulses at trial ends; the feedback matrix B in software, as NEST keeps it: the reference
  row with B in software is there for the same comparison).

Every figure is the median of interleaved repetitions (the machines are noisy); the
ratios are to the float reference row of the same run.

Run:  .venv/bin/python benchmarks/bench_pcm.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import presets  # noqa: E402
from ostl.training import Trainer  # noqa: E402

TASK = {"name": "pattern_generation", "seed": 0}


def make(backend="reference", synapses=None):
    net = presets.build_network(TASK, "osttp")
    return Trainer(TASK, net, "osttp", {"name": "adam", "lr": 0.001}, seed=0, backend=backend,
                   init=presets.init_for("pattern_generation"), synapses=synapses)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-nest", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 8
    rows = {"reference, float": make(),
            "reference, PCM 4-device (read per trial)": make(synapses={}),
            "reference, PCM 4-device (read every step)": make(synapses={"read": "step"})}
    rows["reference, PCM 4-device, B in software"] = make(synapses={"feedback": False})
    steps = rows["reference, float"].task.trial(0, 0).x.shape[0]
    times = {name: [] for name in rows}
    for trainer in rows.values():   # warm up
        trainer.run_iteration()
    for _ in range(repeats):   # interleaved
        for name, trainer in rows.items():
            started = time.perf_counter()
            trainer.run_iteration()
            times[name].append(time.perf_counter() - started)
    if not args.no_nest:   # one NEST network per process at a time (ResetKernel): one block each
        for name, synapses in (("nest, float", None), ("nest, PCM 4-device, B in software", {"feedback": False})):
            try:
                trainer = make("nest", synapses=synapses)
            except Exception as exc:   # noqa: BLE001 -- report and go on without NEST
                print(f"nest: not available ({exc})")
                break
            trainer.run_iteration()   # builds the network
            times[name] = []
            for _ in range(repeats):
                started = time.perf_counter()
                trainer.run_iteration()
                times[name].append(time.perf_counter() - started)
    base = np.median(times["reference, float"]) / steps
    nest_base = np.median(times["nest, float"]) / steps if "nest, float" in times else None
    print(f"PCM benchmark: pattern generation, 64 SNUs, T = {steps}, OSTTP, median of {repeats}")
    print(f"{'synapses':<44} {'us/step':>9} {'x reference float':>18} {'x same backend float':>21}")
    for name, values in times.items():
        per_step = np.median(values) / steps
        own = nest_base if name.startswith("nest") else base
        print(f"{name:<44} {per_step * 1e6:9.1f} {per_step / base:18.2f} {per_step / own:21.2f}")


if __name__ == "__main__":
    main()
