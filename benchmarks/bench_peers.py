"""The default engine beside the peer a user would pick instead (issue 23): braintrace (JAX).

The network of issue 23: one recurrent LIF layer of n neurons (tau_m 20 steps), m = n Poisson
inputs at 5 % per step, T = 1000 steps, a leaky linear readout of 3 (kappa = exp(-1/20)), MSE
against a fixed random target, batch 1. Per step, in microseconds, for n = 64, 128, 256, 512:

* ``forward``: the simulation alone (ours: ``Network.forward``; theirs: a jitted scan);
* ``eprop``: ours ``OnlineLearner(net, "eprop")`` (deferred mode, 128-step blocks, float64)
  beside braintrace's ``EProp`` equivalent (its e-prop algorithm, online, float32 and float64);
* ``ostl_no_h``: ours beside braintrace's diagonal RTRL (``D_RTRL``);
* ``ostl_ff``: exact OSTL on the same layer without recurrence (ours ``OnlineLearner(net, "ostl")``)
  beside braintrace's ``D_RTRL`` on that layer (diagonal RTRL is exact without recurrence);
* ``bptt``: ours ``bptt_sequence`` (what the trainer's ``--rule bptt`` runs: the hand-written
  adjoint recursion of :mod:`ostl.backprop`) beside ``jax.grad`` through their jitted scan.

Ours runs on the default engine (compiled where a C compiler builds it, :mod:`ostl.compiled`);
``--engine numpy`` times the NumPy definition instead, ``--dtype float32`` our single precision.
``--nest`` adds NEST's native e-prop per step for context (``eprop_iaf`` and the ``bsshslm_2020``
set, and our NEST plugin, on ``bench_nest.py``'s network of the same size).

Memory (peak extra MiB, a second table): ours is the peak of what the call allocates
(``tracemalloc``, one untimed call after the timed rounds) less the arrays it returns
(gradients, outputs); theirs is XLA's temp-buffer size of the compiled program
(``memory_analysis()``: what it needs beyond its inputs and outputs). Both count the
algorithm's state (eligibility vectors, checkpoints) and work arrays; ours also counts the
learner's validated copy of the parameters.

Every figure is the fastest of ``--rounds`` interleaved rounds (ours, then theirs in float32,
then float64, each round), one core each (BLAS, torch and XLA limited to one thread). braintrace
runs in its own process (``benchmarks/peers_braintrace.py``; compiled once per process, before
its timed calls). Without braintrace (``make peers`` installs it, the ``peers`` extra) its
columns are left out with one line. The peer's own checks (its gradients' cosine to its BPTT)
are in its JSON lines (``peers_braintrace.py`` run alone).

Run:  .venv/bin/python benchmarks/bench_peers.py [--sizes 64,128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

STEPS, P_IN, N_OUT, TAU = 1000, 0.05, 3, 20.0
ALGORITHMS = ("forward", "eprop", "ostl_no_h", "bptt", "ostl_ff")
PEER_SCRIPT = ROOT / "benchmarks" / "peers_braintrace.py"
#: braintrace's algorithm names (peers_braintrace.py) -> ours
OUR_NAME = {"d_rtrl": "ostl_no_h", "ff_d_rtrl": "ostl_ff"}


def setup(n, steps=STEPS, seed=0, recurrent=True):
    """Our network, parameters, inputs and targets of size ``n``."""
    from ostl import LIF, Layer, Network, Readout

    rng = np.random.default_rng(seed)
    net = Network(n, [Layer(n, LIF(tau_m=TAU), recurrent=recurrent)],
                  Readout(N_OUT, leak=float(np.exp(-1.0 / TAU))))
    params = net.init_params(seed=seed + 1)
    x = (rng.random((steps, n)) < P_IN).astype(np.float64)
    y = rng.normal(size=(steps, N_OUT))
    return net, params, x, y


def our_jobs(n, engine=None, dtype=None):
    from ostl import OnlineLearner
    from ostl.bptt import bptt_sequence

    net, params, x, y = setup(n)
    ff_net, ff_params, _, _ = setup(n, recurrent=False)
    return {
        "forward": lambda: net.forward(params, x, y, record=False, engine=engine, dtype=dtype),
        "eprop": lambda: OnlineLearner(net, "eprop", params, engine=engine, dtype=dtype).run(x, y),
        "ostl_no_h": lambda: OnlineLearner(net, "ostl_no_h", params, engine=engine, dtype=dtype).run(x, y),
        "bptt": lambda: bptt_sequence(net, params, x, y, engine=engine, dtype=dtype),
        "ostl_ff": lambda: OnlineLearner(ff_net, "ostl", ff_params, engine=engine, dtype=dtype).run(x, y),
    }


def measure_ours(sizes, engine=None, dtype=None):
    """µs per step of every algorithm at every size (one timed call each)."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    out = {}
    for n in sizes:
        jobs = our_jobs(n, engine, dtype)
        jobs["forward"]()   # warm-up: imports, work arrays
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            out[(n, name)] = (time.perf_counter() - start) / STEPS * 1e6
    return out


def _returned_bytes(value):
    """The bytes of the arrays in what a job returns (a result object, dict, tuple or array)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_returned_bytes(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return sum(_returned_bytes(v) for v in value)
    if hasattr(value, "__dict__"):
        return _returned_bytes(vars(value))
    return 0


def memory_ours(sizes, engine=None, dtype=None):
    """MiB: the peak of what each job allocates (tracemalloc) less the arrays it returns."""
    out = {}
    for n in sizes:
        jobs = our_jobs(n, engine, dtype)
        for job in jobs.values():   # warm-up: kernels loaded, imports done
            job()
        for name, job in jobs.items():
            tracemalloc.start()
            result = job()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out[(n, name)] = max(0, peak - _returned_bytes(result)) / 2 ** 20
    return out


def peer_python():
    """The interpreter that has braintrace: ``.venv-peers`` (``make peers``), or this one; None."""
    venv = ROOT / ".venv-peers" / "bin" / "python"
    if venv.exists():
        return str(venv)
    return sys.executable if importlib.util.find_spec("braintrace") is not None else None


def measure_peer(python, sizes, dtype):
    """braintrace's µs per step in a fresh process (its own fastest of a few calls after compiling)."""
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
               JAX_PLATFORMS="cpu")
    done = subprocess.run([python, str(PEER_SCRIPT), "--dtype", dtype, "--sizes", ",".join(map(str, sizes))],
                          capture_output=True, text=True, env=env, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"braintrace run failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    out, memory = {}, {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            key = (row["n"], OUR_NAME.get(row["algorithm"], row["algorithm"]))
            out[key] = row["us_per_step"]
            if row.get("xla_temp_mb") is not None:
                memory[key] = row["xla_temp_mb"]
    return out, memory


def _best(into, new):
    for key, value in new.items():
        into[key] = min(into.get(key, float("inf")), value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,128,256,512", help="comma-separated n (default 64,128,256,512)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the fastest is kept (default 3)")
    parser.add_argument("--no-peers", action="store_true", help="ours alone, even where braintrace is installed")
    parser.add_argument("--engine", choices=("compiled", "numpy"), default=None,
                        help="our engine (default: compiled where it builds, as ostl train)")
    parser.add_argument("--nest", action="store_true",
                        help="add NEST's native e-prop per step for context (benchmarks/bench_nest.py's network of "
                             "the same n: 100 inputs, 10 readouts; eprop_iaf and the bsshslm_2020 set, one thread)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="our precision (default float64; ours/f64 then compares with their float64, "
                             "with float32 ours/f32 with their float32)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.exit(2, f"bench_peers: --sizes must be comma-separated integers, got {args.sizes!r}\n")
    if args.rounds < 1 or any(n < 1 for n in sizes):
        parser.exit(2, "bench_peers: --rounds and every size must be at least 1\n")
    python = None if args.no_peers else peer_python()
    peers = python is not None
    if not peers and not args.no_peers:
        print("braintrace is not installed (make peers): its columns are left out")
    from ostl.compiled import resolve_engine

    engine = resolve_engine(args.engine)
    ours, f32, f64, memory = {}, {}, {}, {"float32": {}, "float64": {}}
    for _ in range(args.rounds):
        _best(ours, measure_ours(sizes, args.engine, args.dtype))
        if peers:
            for precision, into in (("float32", f32), ("float64", f64)):
                times, temp = measure_peer(python, sizes, precision)
                _best(into, times)
                memory[precision].update(temp)
    our_memory = memory_ours(sizes, args.engine, args.dtype)
    print(f"µs per step, T = {STEPS}, recurrent LIF n, m = n inputs, leaky linear readout of {N_OUT}, MSE, batch 1; "
          f"fastest of {args.rounds} interleaved rounds, one core each. ours: {args.dtype}, engine {engine}; "
          "bt: braintrace float32 / float64")
    print_table(sizes, ours, f32, f64, args.dtype, peers, digits=1)
    print("peak extra memory, MiB (ours: tracemalloc peak of the call less what it returns; "
          "bt: XLA's temp buffers float32 / float64)")
    print_table(sizes, our_memory, memory["float32"], memory["float64"], args.dtype, peers, digits=2)
    summary = {"sizes": sizes, "engine": engine, "dtype": args.dtype,
               "ours": {f"{n}/{k}": v for (n, k), v in ours.items()},
               "ours_memory_mib": {f"{n}/{k}": round(v, 3) for (n, k), v in our_memory.items()}}
    if peers:
        summary["braintrace_float32"] = {f"{n}/{k}": v for (n, k), v in f32.items()}
        summary["braintrace_float64"] = {f"{n}/{k}": v for (n, k), v in f64.items()}
        for precision in ("float32", "float64"):
            summary[f"braintrace_{precision}_memory_mib"] = {f"{n}/{k}": v for (n, k), v in memory[precision].items()}
    if args.nest:
        summary["nest"] = nest_context(sizes)
    print(json.dumps(summary))


PEER_NAMES = {"forward": "forward", "eprop": "EProp", "ostl_no_h": "D-RTRL", "bptt": "BPTT", "ostl_ff": "ff D-RTRL"}


def print_table(sizes, ours, theirs32, theirs64, dtype, peers, digits):
    """One table: per n and algorithm ours, with the peer ``theirs`` in float32 / float64 and
    ours over theirs at our precision (``dtype``)."""
    same = "ours/f32" if dtype == "float32" else "ours/f64"
    header = f"{'n':>5}"
    for name in ALGORITHMS:
        header += f" | {name + ' ours':>15}" + (f" {'bt ' + PEER_NAMES[name] + ' f32/f64':>22} {same:>8}"
                                                  if peers else "")
    print(header)
    for n in sizes:
        line = f"{n:>5}"
        for name in ALGORITHMS:
            value = ours[(n, name)]
            line += f" | {value:>15.{digits}f}"
            if peers:
                a, b = theirs32.get((n, name), float("nan")), theirs64.get((n, name), float("nan"))
                reference = a if dtype == "float32" else b
                ratio = value / reference if reference else float("nan")
                line += f" {a:>10.{digits}f} / {b:>9.{digits}f} {ratio:>8.2f}"
        print(line)


def nest_context(sizes, measure=None):
    """NEST's own e-prop per step, for context: bench_nest.py's rows at N = n (one trial of 1000 steps of
    its network, one thread, the process's second trial; plain NEST in .venv). ``measure(kind, n)``:
    one row (default ``bench_nest._measure``, a NEST process per row)."""
    import bench_nest

    measure = measure or bench_nest._measure

    print("NEST native e-prop, µs per step, for context (bench_nest.py's network at N = n: 100 Poisson inputs, "
          "10 leaky readouts, one thread)")
    print(f"{'n':>5} | {'eprop_iaf':>10} | {'bsshslm_2020':>12} | {'ours (NEST)':>11}")
    rows = {}
    for n in sizes:
        row = {kind: measure(kind, n) for kind in ("eprop_iaf", "bsshslm", "ours")}
        per_step = {kind: r.get("trial_s", float("nan")) / bench_nest.STEPS * 1e6 for kind, r in row.items()}
        rows[n] = per_step
        print(f"{n:>5} | {per_step['eprop_iaf']:>10.1f} | {per_step['bsshslm']:>12.1f} | {per_step['ours']:>11.1f}")
    return rows


if __name__ == "__main__":
    main()
