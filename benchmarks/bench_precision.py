"""float32 against float64 (issue 23): how far single precision moves gradients and training.

1. Gradients: the network of bench_peers.py (recurrent LIF n, m = n Poisson inputs, T = 1000,
   leaky linear readout of 3, MSE) at the same weights in both precisions; per rule the largest
   relative deviation over its parameters (max |g32 - g64| / max |g64|), on the compiled engine.
2. Training: ``ostl train`` on the default task (pattern generation) in both precisions, the same
   seed and iterations; the initial and final losses. Online learning feeds rounding back into
   the dynamics, so the two runs drift apart; the question is whether float32 learns as well.
3. Time per step of both precisions (fastest of ``--rounds``), as bench_peers.py measures it.

Run:  .venv/bin/python benchmarks/bench_precision.py [--sizes 64,256] [--iterations 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

RULES = ("eprop", "ostl_no_h", "bptt")


def gradients(n, rule, dtype):
    from bench_peers import setup

    from ostl import OnlineLearner
    from ostl.bptt import bptt_sequence

    net, params, x, y = setup(n)
    if rule == "bptt":
        return lambda: bptt_sequence(net, params, x, y, dtype=dtype)
    return lambda: OnlineLearner(net, rule, params, dtype=dtype).run(x, y)


def deviation(a, b):
    return max(float(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(b[k]))) for k in b)


def train(dtype, iterations, seed, out):
    summary = Path(out) / f"{dtype}.json"
    done = subprocess.run([sys.executable, "-m", "ostl", "train", "--iterations", str(iterations), "--seed", str(seed),
                           "--dtype", dtype, "--no-progress", "--no-plot", "--out", str(Path(out) / dtype),
                           "--summary-json", str(summary)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    result = json.loads(summary.read_text())
    return result["initial"]["loss"], result["final"]["loss"], result["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256", help="comma-separated n (default 64,256)")
    parser.add_argument("--iterations", type=int, default=200, help="training iterations (default 200)")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds (default 0,1,2)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the fastest is kept (default 3)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.exit(2, "bench_precision: --sizes and --seeds must be comma-separated integers\n")
    if args.iterations < 1 or args.rounds < 1 or any(n < 1 for n in sizes):
        parser.exit(2, "bench_precision: --iterations, --rounds and every size must be at least 1\n")
    print("Gradient deviation float32 vs float64 (max over parameters of max|g32 - g64| / max|g64|), and µs per step")
    print(f"{'n':>5} {'rule':>10} {'deviation':>10} {'float64 µs':>11} {'float32 µs':>11} {'speed-up':>9}")
    rows = {}
    for n in sizes:
        for rule in RULES:
            jobs = {dtype: gradients(n, rule, dtype) for dtype in ("float64", "float32")}
            results = {dtype: job() for dtype, job in jobs.items()}   # also the warm-up (kernels built)
            best = {dtype: float("inf") for dtype in jobs}
            for _ in range(args.rounds):
                for dtype, job in jobs.items():
                    start = time.perf_counter()
                    job()
                    best[dtype] = min(best[dtype], (time.perf_counter() - start) / 1000 * 1e6)
            dev = deviation(results["float32"].grads, results["float64"].grads)
            rows[f"{n}/{rule}"] = {"deviation": dev, "us_float64": best["float64"], "us_float32": best["float32"]}
            print(f"{n:>5} {rule:>10} {dev:>10.2e} {best['float64']:>11.1f} {best['float32']:>11.1f} "
                  f"{best['float64'] / best['float32']:>8.2f}x")
    print(f"ostl train (pattern generation, defaults), {args.iterations} iterations: loss initial -> final")
    training = {}
    with tempfile.TemporaryDirectory() as out:
        for seed in seeds:
            line = f"  seed {seed}:"
            for dtype in ("float64", "float32"):
                first, last, seconds = train(dtype, args.iterations, seed, out)
                training[f"{seed}/{dtype}"] = {"initial": first, "final": last, "seconds": seconds}
                line += f"  {dtype} {first:.2f} -> {last:.2f} ({seconds:.1f} s)"
            print(line)
    print(json.dumps({"gradients": rows, "training": training}))


if __name__ == "__main__":
    main()
