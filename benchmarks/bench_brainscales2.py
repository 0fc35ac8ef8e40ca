"""BrainScaleS-2 emulation benchmark (issue 13), in one run: time per emulated step against the float
reference engine on the same network (e-prop, pattern generation: 64 recurrent LIF, 50 inputs, 3
leaky readouts, T = 1000, SGD, one trial per iteration), with every constraint on and with each
alone, and the wall-clock time the chip itself would need for the same training at its 1000x
acceleration (model time / 1000; the host's part of the loop not counted).

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
from ostl.hardware.brainscales2 import ACCELERATION  # noqa: E402
from ostl.training import Trainer  # noqa: E402

TASK = {"name": "pattern_generation", "seed": 0}
SETTINGS = {
    "reference engine (float)": ("reference", None),
    "BrainScaleS-2, all constraints": ("brainscales2", {}),
    "BrainScaleS-2, PPU lanes only": ("brainscales2", {"variation": False, "noise": False, "weights": "float"}),
    "BrainScaleS-2, no constraint": ("brainscales2", {"variation": False, "noise": False, "weights": "float",
                                                      "arithmetic": "float"}),
}


def make(backend, options):
    net = presets.build_network(TASK, "eprop")
    from ostl.backends import get_plugin

    trainable = get_plugin("brainscales2").load().trainable_parameters(net)
    return Trainer(TASK, net, "eprop", {"name": "sgd", "lr": 2e-5}, seed=0, backend=backend, trainable=trainable,
                   init=presets.init_for("pattern_generation"), backend_options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--iterations", type=int, default=300, help="training length for the chip-time column")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    trainers = {name: make(*setting) for name, setting in SETTINGS.items()}
    steps = trainers["reference engine (float)"].task.trial(0, 0).x.shape[0]
    times = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.run_iteration()   # warm up (and the PPU's range trial)
    for _ in range(repeats):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            trainer.run_iteration()
            times[name].append(time.perf_counter() - started)
    base = np.median(times["reference engine (float)"]) / steps
    chip_seconds = args.iterations * steps * 1e-3 / ACCELERATION
    print(f"BrainScaleS-2 emulation benchmark: e-prop, pattern generation (64 LIF, T = {steps}), median of {repeats}")
    print(f"{'setting':<36}{'us/step':>10}{'/ reference':>13}{f'emulated, {args.iterations} it.':>22}")
    for name, values in times.items():
        per_step = np.median(values) / steps
        emulated = per_step * steps * args.iterations
        print(f"{name:<36}{per_step * 1e6:>10.1f}{per_step / base:>12.2f}x{emulated:>20.1f} s")
    print(f"the chip itself at {ACCELERATION:.0f}x: {chip_seconds:.2f} s for {args.iterations} trials of {steps} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
