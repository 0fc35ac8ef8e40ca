"""Reproduce the tables of docs/results.md: every row is one `ostl train` command (printed
with its figures), run for several seeds; the JSON summaries go to results-runs/ and the
learning-curve plots to docs/img/.

Run:  .venv/bin/python benchmarks/results.py [--only jsb|digits|spoken_digits ...] [--seeds 3]

Rows already run (their summary exists) are read, not rerun; delete results-runs/ to
start afresh. A row prints ``test <metric>: mean +- std over seeds (min .. max)``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RUNS_DIR = os.path.join(ROOT, "results-runs")

SNU_JSB = []   # the preset: feed-forward SNU layer, 150 units, d = 0.4, SGD 1e-3
#: the OSTTP paper's hardware experiment (paper 001, III-B): SNU d = 0.6, pseudo-derivative
#: 1 - tanh^2, dense sigmoid readout, SGD 0.001 x 0.6 every 5 epochs; B on its own PCM array
OSTTP_HW = ["--rule", "osttp", "--cell", '{"kind": "snu", "decay": 0.6, "activation": "identity", "output": "step", '
            '"pseudo": "tanh"}', "--optimizer", "sgd", "--lr", "0.001", "--lr-decay", "0.6", "--lr-decay-every", "5"]
SSNU_JSB = ["--cell", '{"kind": "snu", "decay": 0.8, "activation": "relu", "output": "sigmoid"}']

#: (task, row name, rule arguments, extra arguments, epochs, seeds or None for --seeds)
ROWS = [
    ("jsb", "SNU, OSTL", ["--rule", "ostl"], SNU_JSB, 20, None),
    ("jsb", "SNU, BPTT", ["--rule", "bptt"], SNU_JSB, 20, None),
    ("jsb", "SNU, OSTL rnd", ["--rule", "ostl_rnd"], SNU_JSB, 20, None),
    ("jsb", "SNU, random e-prop", ["--rule", "eprop", "--feedback", "random"], SNU_JSB, 20, None),
    ("jsb", "SNU, e-prop", ["--rule", "eprop"], SNU_JSB, 20, None),
    ("jsb", "SNU, OSTTP", ["--rule", "osttp"], SNU_JSB, 20, None),
    ("jsb", "sSNU, OSTL", ["--rule", "ostl", "--lr", "0.0003"], SSNU_JSB, 20, None),
    ("jsb", "sSNU, BPTT", ["--rule", "bptt", "--lr", "0.0003"], SSNU_JSB, 20, 1),   # = OSTL (exact): one seed
    ("jsb", "LSTM (24 units), OSTL", ["--rule", "ostl", "--lr", "0.01"], ["--cell", "lstm", "--hidden", "24"], 5, 1),
    ("jsb", "LSTM (24 units), BPTT", ["--rule", "bptt", "--lr", "0.01"], ["--cell", "lstm", "--hidden", "24"], 5, 1),
    ("jsb", "OSTTP hardware setting, float", OSTTP_HW, [], 20, None),
    ("jsb", "OSTTP hardware setting, PCM 4-device, no drift", OSTTP_HW, ["--synapses", "pcm", "--pcm-drift", "off"],
     20, None),
    ("jsb", "OSTTP hardware setting, PCM 4-device, drift", OSTTP_HW, ["--synapses", "pcm"], 20, None),
    ("jsb", "OSTTP hardware setting, PCM 1 pair, drift", OSTTP_HW, ["--synapses", "pcm", "--pcm-devices", "2"], 20,
     None),
    ("jsb", "OSTTP hardware setting, PCM 4-device, drift, write and verify", OSTTP_HW,
     ["--synapses", "pcm", "--pcm-update-verify", "5"], 20, None),
    ("digits", "2 x 256 sSNU, OSTL", ["--rule", "ostl"], [], 10, None),
    ("digits", "2 x 256 sSNU, BPTT", ["--rule", "bptt"], [], 10, None),
    ("digits", "Fashion-MNIST (10000/2000), 2 x 256 sSNU, OSTL", ["--rule", "ostl"],
     ["--source", "fashion_mnist", "--n-train", "10000", "--n-test", "2000"], 2, 1),
    ("spoken_digits", "450 soft-reset SNU, OSTTP (w/o H)", ["--rule", "osttp"], [], 8, 1),
    ("spoken_digits", "450 soft-reset SNU, OSTL w/o H", ["--rule", "ostl_no_h"], [], 8, 1),
]


#: what the papers' texts say for a row (their figures give no more numbers)
PAPER = {
    "SNU, OSTL": "on par with BPTT (OSTL Fig. 3a)",
    "SNU, BPTT": "on par with OSTL (OSTL Fig. 3a)",
    "SNU, OSTL rnd": "OSTL + 0.16 (OSTL text)",
    "SNU, random e-prop": "OSTL + 0.16 (OSTL text)",
    "SNU, OSTTP": "between DRTP and OSTL (OSTTP Fig. 3b); PCM hardware 11.0 +- 0.2",
    "sSNU, OSTL": "on par with BPTT (OSTL Fig. 3a)",
    "LSTM (24 units), OSTL": "150 units: on par with BPTT (OSTL Fig. 3a)",
    "OSTTP hardware setting, float": "between DRTP and OSTL (OSTTP Fig. 3b)",
    "OSTTP hardware setting, PCM 4-device, drift": "11.0 +- 0.2 (OSTTP, PCM hardware in the loop)",
    "2 x 256 sSNU, OSTL": "MNIST: on par with BPTT (OSTL Fig. 3b)",
    "450 soft-reset SNU, OSTTP (w/o H)": "77 +- 0.8 % (SHD, best of 200 epochs, 5 seeds)",
}


def command(task, rule_args, extra, epochs, seed, summary):
    return (["ostl", "train", "--task", task, *rule_args, *extra, "--epochs", str(epochs), "--seed", str(seed),
             "--no-progress", "--no-plot", "--out", os.path.splitext(summary)[0], "--summary-json", summary])


def slug(task, name):
    return f"{task}-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def run_row(task, name, rule_args, extra, epochs, seeds):
    summaries = []
    for seed in range(seeds):
        summary = os.path.join(RUNS_DIR, f"{slug(task, name)}-seed{seed}.json")
        argv = command(task, rule_args, extra, epochs, seed, summary)
        if not os.path.exists(summary):
            started = time.perf_counter()
            exe = os.path.join(os.path.dirname(sys.executable), argv[0])
            done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"  FAILED ({done.returncode}): {done.stderr.strip()}")
                continue
            print(f"  seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
        with open(summary) as handle:
            summaries.append(json.load(handle))
    return summaries, " ".join(shlex.quote(a) for a in command(task, rule_args, extra, epochs, "S", "run.json"))


def describe(summaries):
    metric = summaries[0]["metric"]
    finals = np.array([s["test"][metric] for s in summaries])
    best = np.array([(min if metric == "nll" else max)(e[f"test_{metric}"] for e in s["epoch_curve"])
                     for s in summaries])
    return metric, finals, best


def group(task, name):
    """Rows plotted together: the PCM experiment apart from the other JSB rows."""
    return f"{task}_pcm" if name.startswith("OSTTP hardware setting") else task


def plot_conductances(task, name, state):
    from ostl.hardware.pcm.plotting import plot_conductances as draw
    from ostl.training import Trainer

    trainer = Trainer.load(state)
    path = os.path.join(ROOT, "docs", "img", f"results_{slug(task, name)}_conductances.png")
    return draw(path, trainer.synapses, title=f"{name}: device conductances (seed 0)")


def plot(task, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    metric = None
    for name, summaries in rows:
        if not summaries:
            continue
        metric = summaries[0]["metric"]
        curves = np.array([[e[f"test_{metric}"] for e in s["epoch_curve"]] for s in summaries])
        epochs = np.arange(1, curves.shape[1] + 1)
        ax.plot(epochs, curves.mean(axis=0), "o-", ms=3, label=name)
        if len(summaries) > 1:
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
    if task == "jsb_pcm":   # the OSTTP paper's PCM hardware result
        ax.axhspan(10.8, 11.2, color="grey", alpha=0.15)
        ax.axhline(11.0, color="grey", ls="--", label="paper, PCM hardware: 11.0 +- 0.2")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(task)
    ax.legend(fontsize=7)
    path = os.path.join(ROOT, "docs", "img", f"results_{task}.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None, help="tasks to run (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", nargs="*", default=None, help="only rows whose name contains one of these")
    args = parser.parse_args()
    os.makedirs(RUNS_DIR, exist_ok=True)
    by_task = {}
    for task, name, rule_args, extra, epochs, seeds in ROWS:
        if args.only and task not in args.only:
            continue
        if args.rows and not any(r in name for r in args.rows):
            continue
        print(f"{task}: {name}", flush=True)
        summaries, cmd = run_row(task, name, rule_args, extra, epochs, seeds or args.seeds)
        by_task.setdefault(group(task, name), []).append((name, summaries))
        if summaries:
            metric, finals, best = describe(summaries)
            seconds = np.mean([s["seconds"] for s in summaries])
            print(f"  test {metric} after {len(summaries[0]['epoch_curve'])} epochs: {finals.mean():.3f} +- "
                  f"{finals.std():.3f} ({finals.min():.3f} .. {finals.max():.3f}); best epoch {best.mean():.3f}; "
                  f"{len(summaries)} seeds; {seconds:.0f} s per run")
            print(f"  command: {cmd}")
    for task, rows in by_task.items():
        print(f"plot: {plot(task, rows)}")
    for task, name, _, extra, _, _ in ROWS:
        if "--synapses" in extra and (not args.rows or any(r in name for r in args.rows)):
            state = os.path.join(RUNS_DIR, f"{slug(task, name)}-seed0", "state.npz")
            if os.path.exists(state):
                print(f"plot: {plot_conductances(task, name, state)}")
    print("\nmarkdown rows (docs/results.md):")
    for task, name, rule_args, extra, epochs, _ in ROWS:
        summaries = dict(by_task.get(group(task, name), [])).get(name)
        if not summaries:
            continue
        metric, finals, best = describe(summaries)
        scale, unit = (100.0, " %") if metric == "accuracy" else (1.0, "")
        cmd = " ".join(shlex.quote(a) for a in command(task, rule_args, extra, epochs, "S", "run.json")[:-6])
        print(f"| {name} | {scale * finals.mean():.2f}{unit} +- {scale * finals.std():.2f} | "
              f"{scale * best.mean():.2f}{unit} | {len(summaries)} | {PAPER.get(name, '')} | `{cmd}` |")


if __name__ == "__main__":
    main()
