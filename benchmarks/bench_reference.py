"""Reference-engine benchmark (issue: reference engine).

For a feed-forward SNU layer with n = 64, 128, 256, 512 neurons, m = n Poisson inputs
(5 % spike probability per step), a 10-unit linear readout and T = 1000 steps it
prints, all measured in one run (the machines are noisy: every figure is the
fastest of several interleaved repetitions):

* time per step of the plain forward simulation, of ``ostl`` and ``eprop`` (deferred
  mode, the reference engine), and of autodiff ``bptt`` (torch, forward + backward);
* their ratios to the forward pass;
* the fitted exponent of the ``ostl`` cost in n (log-log slope);
* peak memory of ``ostl`` and ``bptt`` for T = 1000 and T = 4000 (each in a fresh
  process: resident memory sampled every 0.5 ms during the run, minus the resident
  memory just before it; the input data, the network and the learner, warmed up on the
  first 200 steps, are allocated before).

Run:  .venv/bin/python benchmarks/bench_reference.py  [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import SNU, Layer, Network, OnlineLearner, Readout  # noqa: E402
from ostl.bptt import bptt_gradients  # noqa: E402


def setup(n, steps, seed=0):
    rng = np.random.default_rng(seed)
    net = Network(n, [Layer(n, SNU(decay=0.9, pseudo="tanh"))], Readout(10))
    params = net.init_params(seed=seed + 1, weight_scale=2.0)
    x = (rng.random((steps, n)) < 0.05).astype(np.float64)
    y = rng.normal(size=(steps, 10))
    return net, params, x, y


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure_times(sizes, steps, repeats):
    jobs = {}
    for n in sizes:
        net, params, x, y = setup(n, steps)
        jobs[n] = {
            "forward": lambda net=net, p=params, x=x, y=y: net.forward(p, x, y, record=False),
            "ostl": lambda net=net, p=params, x=x, y=y: OnlineLearner(net, "ostl", p).run(x, y),
            "eprop": lambda net=net, p=params, x=x, y=y: OnlineLearner(net, "eprop", p).run(x, y),
            "bptt": lambda net=net, p=params, x=x, y=y: bptt_gradients(net, p, x, y),
        }
    best = {n: {k: float("inf") for k in jobs[n]} for n in sizes}
    for _ in range(repeats):  # interleaved, so that slow phases of the machine hit every entry
        for n in sizes:
            for name, fn in jobs[n].items():
                best[n][name] = min(best[n][name], timed(fn) / steps)
    return best


_MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
from benchmarks.bench_reference import setup
from ostl import OnlineLearner
from ostl.bptt import bptt_gradients
from benchmarks.memory import peak_mib_above

rule, n, steps = {rule!r}, {n}, {steps}
net, params, x, y = setup(n, steps)
# set-up: the learner (with its work arrays), warmed up on the first 200 steps
learner = None if rule == "bptt" else OnlineLearner(net, rule, params)
run = (lambda: bptt_gradients(net, params, x, y)) if rule == "bptt" else (lambda: learner.run(x, y))
(bptt_gradients(net, params, x[:200], y[:200]) if rule == "bptt" else learner.run(x[:200], y[:200]))
print(json.dumps({{"peak_mib": peak_mib_above(run)}}))
"""


def measure_memory(rule, n, steps):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    code = _MEMORY_CHILD.format(root=os.path.abspath(root), rule=rule, n=n, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def measure_guard(hidden, steps, iterations=20):
    """The divergence guard's share of a training iteration (pattern generation, one
    recurrent SNU layer, Adam): the guard's own work (the snapshot of weights and optimiser
    state, the finiteness checks) timed inside the same iterations. Returns (guard seconds,
    iteration seconds) per iteration, medians."""
    from ostl import presets
    from ostl.rules import make_rule
    from ostl.tasks import make_task
    from ostl.training import Trainer, _non_finite_arrays

    task = make_task({"name": "pattern_generation", "steps": steps})
    trainer = Trainer(task, presets.build_network(task, make_rule("ostl_no_h"), hidden=hidden, recurrent=True),
                      "ostl_no_h", {"name": "adam", "lr": 0.003}, batch_size=1)
    guard_time, total_time = [], []
    original = trainer._snapshot, trainer._non_finite_result
    spent = [0.0]

    def timed(function):
        def wrapper(*args):
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent[0] += time.perf_counter() - start
        return wrapper

    trainer._snapshot, trainer._non_finite_result = (timed(f) for f in original)
    for _ in range(iterations):
        spent[0] = 0.0
        start = time.perf_counter()
        trainer.run_iteration()
        total = time.perf_counter() - start
        start = time.perf_counter()
        _non_finite_arrays(trainer.params, "weight")   # the check after the update (inline in run_iteration)
        spent[0] += time.perf_counter() - start
        guard_time.append(spent[0])
        total_time.append(total)
    return float(np.median(guard_time)), float(np.median(total_time))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes (smoke test)")
    args = parser.parse_args(argv)
    sizes = [64, 128] if args.quick else [64, 128, 256, 512]
    steps = 200 if args.quick else 1000
    repeats = 1 if args.quick else 3
    best = measure_times(sizes, steps, repeats)

    print(f"Feed-forward SNU layer, m = n inputs, T = {steps}, time per step (fastest of {repeats})")
    print(f"{'n':>5} {'forward':>10} {'ostl':>10} {'eprop':>10} {'bptt':>10} {'ostl/fwd':>9} {'eprop/fwd':>10}"
          f" {'bptt/fwd':>9}")
    for n in sizes:
        b = best[n]
        print(f"{n:>5} {b['forward'] * 1e6:>8.1f}us {b['ostl'] * 1e6:>8.1f}us {b['eprop'] * 1e6:>8.1f}us "
              f"{b['bptt'] * 1e6:>8.1f}us {b['ostl'] / b['forward']:>8.2f}x {b['eprop'] / b['forward']:>9.2f}x "
              f"{b['bptt'] / b['forward']:>8.2f}x")
    ns = np.array(sizes, dtype=float)
    t_ostl = np.array([best[n]["ostl"] for n in sizes])
    t_fwd = np.array([best[n]["forward"] for n in sizes])
    slope_all = np.polyfit(np.log(ns), np.log(t_ostl), 1)[0]
    slope_top = np.log(t_ostl[-1] / t_ostl[-2]) / np.log(ns[-1] / ns[-2])
    extra = np.maximum(t_ostl - t_fwd, 1e-12)  # the learning work on top of the simulation
    slope_extra = np.polyfit(np.log(ns), np.log(extra), 1)[0]
    print(f"ostl cost exponent in n: {slope_all:.2f} (fit over all n), {slope_top:.2f} "
          f"(n = {sizes[-2]} -> {sizes[-1]}), {slope_extra:.2f} (learning work above the forward pass)")

    print("Divergence guard in the trainer (snapshot + finiteness checks), pattern generation, T = "
          f"{steps}, recurrent SNU layer, Adam; median of 20 iterations")
    for hidden in ([32] if args.quick else [64, 256]):
        guard, total = measure_guard(hidden, steps)
        print(f"  n = {hidden:>4}: guard {guard * 1e6:8.1f}us of {total * 1e3:8.2f}ms per iteration "
              f"({100 * guard / total:.2f} %)")

    n_mem = 128 if args.quick else 256
    lengths = [250, 1000] if args.quick else [1000, 4000]
    print(f"Peak memory above set-up, n = m = {n_mem}")
    print(f"{'T':>6} {'ostl':>10} {'bptt':>10}")
    for steps_mem in lengths:
        print(f"{steps_mem:>6} {measure_memory('ostl', n_mem, steps_mem):>8.1f}MB "
              f"{measure_memory('bptt', n_mem, steps_mem):>8.1f}MB")


if __name__ == "__main__":
    main()
