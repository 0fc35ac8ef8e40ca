"""JSB epoch benchmark (issue 10): time per training epoch of the paper's JSB network
(one feed-forward layer of 150 SNUs, d = 0.4, 88 sigmoid readouts, SGD) for ``ostl`` and
``eprop`` (the reference engine) and for BPTT, and peak memory against sequence length.

BPTT gets its best shot: besides the trainer's generic autodiff path (``ostl train --rule
bptt``: the reference equations step by step on torch) it is timed as a hand-vectorised
torch program: the input projection ``W x^t`` of every step in one matrix product, the
cell's elementwise recursion over time, the readout and the loss of every step in one
product, one backward pass (float64 like the reference engine, torch's own threads).

Printed, all measured in one run (fastest of ``--repeats`` interleaved repetitions):

* seconds per epoch over the training chorales, and each rule's ratio to vectorised BPTT;
* for sequences of 64 .. 1024 frames (chorales joined end to end): time per step of
  ``ostl`` and of vectorised BPTT, their ratio, and peak memory above set-up of each (in a
  fresh process, resident memory sampled every 0.5 ms).

Run:  .venv/bin/python benchmarks/bench_jsb.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, ROOT)

from ostl import SNU, Layer, Network, OnlineLearner, Readout  # noqa: E402
from ostl.datatasks import JSBChorales  # noqa: E402
from ostl.optim import SGD  # noqa: E402


def network():
    return Network(88, [Layer(150, SNU(decay=0.4, activation="identity", output="step", pseudo="tanh"))],
                   Readout(88, "sigmoid"))


class VectorisedBPTT:
    """BPTT of the JSB network written for torch: matrix products over all steps at once,
    the SNU recursion (``s = W x + d s (1 - y)``, ``y = Theta(s + b)`` with the 1 - tanh^2
    pseudo-derivative) step by step, one backward pass."""

    def __init__(self, net, params):
        import torch

        self.torch = torch
        self.decay = net.layers[0].cell.decay
        self.params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}

        class Spike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return (x > 0).to(x.dtype)

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * (1.0 - torch.tanh(x) ** 2)

        self.spike = Spike.apply

    def gradients(self, x, target):
        torch, p = self.torch, self.params
        x, target = torch.as_tensor(x), torch.as_tensor(target)
        currents = x @ p["layer0.W"].T                       # all steps at once
        s = torch.zeros(currents.shape[1], dtype=torch.float64)
        y = torch.zeros_like(s)
        outputs = []
        for t in range(currents.shape[0]):                   # the recursion, elementwise
            s = currents[t] + self.decay * s * (1.0 - y)
            y = self.spike(s + p["layer0.bias"])
            outputs.append(y)
        a = torch.stack(outputs) @ p["readout.W"].T + p["readout.b"]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(a, target, reduction="sum")
        grads = torch.autograd.grad(loss, list(p.values()))
        return float(loss.detach()), {k: g.numpy() for k, g in zip(p, grads)}

    def train_step(self, x, target, lr):
        _, grads = self.gradients(x, target)
        with self.torch.no_grad():
            for name, g in grads.items():
                self.params[name] -= lr * self.torch.as_tensor(g)


def epoch_seconds(task, repeats):
    """Fastest epoch of each trainer (interleaved)."""
    from ostl.bptt import bptt_sequence

    net = network()
    params = net.init_params(seed=0)
    trials = task.train

    def run_rule(rule):
        learner = OnlineLearner(net, rule, params)
        optimizer = SGD(lr=0.001)
        for trial in trials:
            result = learner.run(trial.x, trial.target, trial.mask)
            optimizer.step(learner.params, result.grads)

    def run_generic_bptt():
        p = {k: v.copy() for k, v in params.items()}
        optimizer = SGD(lr=0.001)
        for trial in trials:
            optimizer.step(p, bptt_sequence(net, p, trial.x, trial.target, trial.mask).grads)

    def run_vectorised_bptt():
        trainer = VectorisedBPTT(net, params)
        for trial in trials:
            trainer.train_step(trial.x, trial.target, 0.001)

    jobs = {"ostl": lambda: run_rule("ostl"), "eprop": lambda: run_rule("eprop"),
            "bptt (vectorised torch)": run_vectorised_bptt, "bptt (ostl train --rule bptt)": run_generic_bptt}
    best = {name: float("inf") for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def joined(task, steps):
    frames = np.concatenate([t.x for t in task.train])
    targets = np.concatenate([t.target for t in task.train])
    return frames[:steps], targets[:steps]


def step_seconds(task, lengths, repeats):
    net = network()
    params = net.init_params(seed=0)
    learner = OnlineLearner(net, "ostl", params)
    bptt = VectorisedBPTT(net, params)
    best = {(n, k): float("inf") for n in lengths for k in ("ostl", "bptt")}
    x, y = joined(task, 64)
    learner.run(x, y)   # warm up both (first calls allocate)
    bptt.gradients(x, y)
    for _ in range(repeats):
        for steps in lengths:
            x, y = joined(task, steps)
            for name, job in (("ostl", lambda x=x, y=y: learner.run(x, y)),
                              ("bptt", lambda x=x, y=y: bptt.gradients(x, y))):
                started = time.perf_counter()
                job()
                best[steps, name] = min(best[steps, name], (time.perf_counter() - started) / steps)
    return best


_MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
from benchmarks.bench_jsb import network, joined, VectorisedBPTT
from ostl import OnlineLearner
from ostl.datatasks import JSBChorales
from benchmarks.memory import peak_mib_above

rule, steps = {rule!r}, {steps}
task = JSBChorales(seed=0)
x, y = joined(task, steps)
net = network()
params = net.init_params(seed=0)
runner = VectorisedBPTT(net, params) if rule == "bptt" else OnlineLearner(net, rule, params)
run = (lambda: runner.gradients(x, y)) if rule == "bptt" else (lambda: runner.run(x, y))
(runner.gradients(x[:32], y[:32]) if rule == "bptt" else runner.run(x[:32], y[:32]))   # warm up
print(json.dumps({{"peak_mib": peak_mib_above(run)}}))
"""


def peak_memory(rule, steps):
    code = _MEMORY_CHILD.format(root=ROOT, rule=rule, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="40 chorales, 1 repetition (a smoke run)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    task = JSBChorales(seed=0, n_train=40 if args.quick else None)
    repeats = 1 if args.quick else args.repeats
    frames = sum(len(t.x) for t in task.train)
    print(f"JSB epoch: {len(task.train)} chorales, {frames} frames; 150 SNUs (feed-forward), 88 sigmoid readouts, "
          f"SGD; torch {torch.__version__} with {torch.get_num_threads()} threads; fastest of {repeats}")
    # the vectorised BPTT computes the same gradient as OSTL (exact on this network)
    net = network()
    params = net.init_params(seed=0)
    trial = task.train[0]
    _, reference_grads = VectorisedBPTT(net, params).gradients(trial.x, trial.target)
    ostl_grads = OnlineLearner(net, "ostl", params).run(trial.x, trial.target).grads
    deviation = max(np.abs(ostl_grads[k] - g).max() / np.abs(g).max() for k, g in reference_grads.items())
    print(f"check: vectorised BPTT gradient == OSTL gradient, largest relative deviation {deviation:.1e}")
    assert deviation < 1e-9
    epochs = epoch_seconds(task, repeats)
    reference = epochs["bptt (vectorised torch)"]
    print(f"{'trainer':<32}{'s/epoch':>10}{'/ bptt':>10}")
    for name, seconds in epochs.items():
        print(f"{name:<32}{seconds:>10.2f}{seconds / reference:>10.3f}")
    lengths = [64, 128, 256] if args.quick else [64, 128, 256, 512, 1024]
    steps = step_seconds(task, lengths, repeats)
    print("\nper sequence length: time per step (ms) and peak memory above set-up (MiB)")
    print(f"{'T':>6}{'ostl':>10}{'bptt':>10}{'ratio':>8}{'ostl MiB':>10}{'bptt MiB':>10}")
    for T in lengths:
        o, b = steps[T, "ostl"], steps[T, "bptt"]
        print(f"{T:>6}{1e3 * o:>10.3f}{1e3 * b:>10.3f}{o / b:>8.3f}{peak_memory('ostl', T):>10.1f}"
              f"{peak_memory('bptt', T):>10.1f}", flush=True)


if __name__ == "__main__":
    main()
