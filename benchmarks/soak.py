"""Soak: many trials of a learning network on one backend, as the trainer runs them.

Prints (or, with ``--json``, writes one JSON line) the resident memory of the process after
the first 100 trials and at the end, the growth per trial in between, and on NEST the
number of steps of factor history the learning neurons keep (it must not grow with the
number of trials).

    .venv/bin/python benchmarks/soak.py --backend nest --trials 5000
    .venv/bin/python benchmarks/soak.py --backend brian2 --trials 2000      # cpp_standalone
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ostl import presets  # noqa: E402
from ostl.rules import make_rule  # noqa: E402
from ostl.tasks import make_task  # noqa: E402
from ostl.training import Trainer  # noqa: E402

WARMUP = 100


def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def history_steps(trainer):
    """NEST: the largest factor history a learning neuron keeps now (None elsewhere)."""
    sim = getattr(trainer.backend, "_sim", None)
    if sim is None:
        return None
    values = list(sim.hidden.get("history_steps")) + list(sim.readout.get("history_steps"))
    return int(max(values))


def soak(backend, trials, steps=100, hidden=20, rule="eprop", target="cpp_standalone"):
    task = make_task({"name": "pattern_generation", "steps": steps})
    network = presets.build_network(task, make_rule(rule), hidden=hidden, recurrent=True)
    from ostl.backends import get_plugin

    backend_class = get_plugin(backend).load()
    options = {"target": target} if backend == "brian2" else {}
    trainer = Trainer(task, network, rule, {"name": "adam", "lr": 0.003}, batch_size=1, backend=backend,
                      trainable=backend_class.trainable_parameters(network), init=presets.INIT_DEFAULTS,
                      backend_options=options)
    report = {"backend": backend, "trials": trials, "steps": steps, "hidden": hidden, "rule": rule}
    history = []
    start = time.perf_counter()
    for trial in range(1, trials + 1):
        trainer.run_iteration()
        if trial == WARMUP or trial == trials:
            gc.collect()
            report["rss_mib_after_%d" % WARMUP if trial == WARMUP else "rss_mib_end"] = resident_mib()
        if trial % 50 == 0:
            steps_kept = history_steps(trainer)
            if steps_kept is not None:
                history.append(steps_kept)
    report["seconds"] = time.perf_counter() - start
    if trials > WARMUP:
        report["kib_per_trial"] = (report["rss_mib_end"] - report[f"rss_mib_after_{WARMUP}"]) * 1024 / (trials - WARMUP)
    if history:
        report["history_steps_max"] = max(history)
        report["history_steps_last"] = history[-1]
    report["loss_first"] = trainer.history[0]["loss"]
    report["loss_last"] = trainer.history[-1]["loss"]
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="nest")
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON line (for scripts and tests)")
    args = parser.parse_args(argv)
    report = soak(args.backend, args.trials, steps=args.steps, hidden=args.hidden)
    if args.json:
        print(json.dumps(report))
        return
    print(f"{args.backend}: {args.trials} trials of {args.steps} steps in {report['seconds']:.1f} s")
    print(f"resident memory after {WARMUP} trials {report[f'rss_mib_after_{WARMUP}']:.1f} MiB, at the end "
          f"{report['rss_mib_end']:.1f} MiB: {report.get('kib_per_trial', 0.0):.3f} KiB per trial")
    if "history_steps_max" in report:
        print(f"factor history kept by a learning neuron: at most {report['history_steps_max']} steps "
              f"(trial + pause = {args.steps + 4} steps)")


if __name__ == "__main__":
    main()
