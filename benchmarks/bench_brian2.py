"""Brian2 plugin benchmark (issue: Brian2 plugin).

For N = 100, 400, 1600 neurons with all-to-all feed-forward input of the same size
(N x N plastic synapses), a 3-unit leaky readout and 1 s of biological time (1000 steps
of 1 ms), prints, measured in one run:

* Brian2 cpp_standalone wall time of one trial with learning (``ostl`` on an SNU layer,
  ``eprop`` on a LIF layer; deferred updates) and of the same network with static
  synapses (no eligibility traces, nothing learned); the build is excluded, every figure
  is the fastest of several runs of the built project;
* the ratio learning / static (target: at most 2x);
* the reference engine's wall time for the same work (deferred, blocked evaluation).

Run:  .venv/bin/python benchmarks/bench_brian2.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from brian2_ostl import Brian2Network  # noqa: E402
from ostl import LIF, SNU, Layer, Network, OnlineLearner, Readout  # noqa: E402

STEPS = 1000


def network(kind, n):
    cell = SNU(decay=0.9) if kind == "ostl" else LIF(tau_m=20.0, v_th=0.6)
    return Network(n, [Layer(n, cell)], Readout(3, leak=0.8))


def problem(n, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((STEPS, n)) < 0.05).astype(float)
    y = rng.normal(size=(STEPS, 3))
    return x, y


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 400 only")
    args = parser.parse_args(argv)
    sizes = [100, 400] if args.quick else [100, 400, 1600]
    repeats = 3
    rows = []
    for n in sizes:
        x, y = problem(n)
        row = {"n": n}
        for kind in ("ostl", "eprop"):
            net = network(kind, n)
            params = net.init_params(seed=1, weight_scale=2.0)
            learning = Brian2Network(net, kind, params, steps=STEPS, target="cpp_standalone")
            row[f"{kind}_learning"] = best_of(partial(learning.run, x, y), repeats)
            static = Brian2Network(net, kind, params, steps=STEPS, target="cpp_standalone", trainable=())
            row[f"{kind}_static"] = best_of(partial(static.run, x, y), repeats)
            learner = OnlineLearner(net, kind, params)
            row[f"{kind}_reference"] = best_of(partial(learner.run, x, y), repeats)
        rows.append(row)
    print(f"Brian2 cpp_standalone, N x N feed-forward synapses, 1 s (1000 steps); fastest of {repeats} runs")
    print(f"{'N':>5} {'rule':>6} {'learning':>10} {'static':>10} {'learn/static':>13} {'reference':>10} "
          f"{'ref/learning':>13}")
    for row in rows:
        for kind in ("ostl", "eprop"):
            lrn, st, ref = row[f"{kind}_learning"], row[f"{kind}_static"], row[f"{kind}_reference"]
            print(f"{row['n']:>5} {kind:>6} {lrn:>9.3f}s {st:>9.3f}s {lrn / st:>12.2f}x {ref:>9.3f}s "
                  f"{ref / lrn:>12.2f}x")


if __name__ == "__main__":
    main()
