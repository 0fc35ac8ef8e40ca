"""Pattern generation with PCM synapses (issue 11): OSTTP (Adam 1e-3, 300 iterations, the
``ostl train`` pattern-generation network: 64 feed-forward SNUs, 50 inputs, 3 leaky
readouts) with float weights and with the weights on PCM arrays, each row over three seeds.
The loss reduction is the first iteration's loss over the mean of the last ten.

Rows: float; PCM 4-device cells (drift, read noise, programming noise: the defaults); a
single pair; the 4-device cell with every noise off (the pulse granularity alone); idealised
noise-free devices with a 7.5x finer step (eps 0.1 uS): what is left of the gap when the
step is fine.

Run:  .venv/bin/python benchmarks/pcm_pattern_generation.py   (prints markdown rows)
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import presets  # noqa: E402
from ostl.training import Trainer  # noqa: E402

TASK = {"name": "pattern_generation", "seed": 0}
QUIET = {"read_noise": "off", "programming_noise": False, "drift": "off"}
ROWS = [
    ("float", None, "`ostl train --rule osttp --lr 0.001 --iterations 300 --seed S`"),
    ("PCM 4-device (drift, read and programming noise)", {}, "`... --synapses pcm`"),
    ("PCM 1 pair", {"devices": 2}, "`... --synapses pcm --pcm-devices 2`"),
    ("PCM 4-device, every noise off (granularity alone)", QUIET,
     "`... --synapses pcm --pcm-drift off --pcm-read-noise off` + programming_noise False (API)"),
    ("idealised devices, step eps = 0.1 uS, no noise", dict(QUIET, ideal=True, eps=0.1), "API: synapses={...}"),
]


def run(synapses, seed, iterations=300):
    net = presets.build_network(TASK, "osttp")
    trainer = Trainer(TASK, net, "osttp", {"name": "adam", "lr": 0.001}, seed=seed,
                      init=presets.init_for("pattern_generation"), synapses=synapses)
    trainer.train(iterations)
    losses = np.array([h["loss"] for h in trainer.history])
    return losses[0], losses[-10:].mean()


def main():
    print("| synapses | loss first -> last 10 (mean over seeds) | reduction per seed | command |")
    print("|---|---|---|---|")
    for name, synapses, command in ROWS:
        results = [run(synapses, seed) for seed in range(3)]
        first = np.mean([r[0] for r in results])
        last = np.mean([r[1] for r in results])
        ratios = ", ".join(f"{r[0] / r[1]:.2f}x" for r in results)
        print(f"| {name} | {first:.0f} -> {last:.0f} | {ratios} | {command} |", flush=True)


if __name__ == "__main__":
    main()
