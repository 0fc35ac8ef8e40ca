"""Quick start with the reference engine (NumPy): build a network, check that OSTL's
online gradient equals BPTT's, then train it online-in-time on pattern generation.

    .venv/bin/python examples/reference_quickstart.py [--iterations N]
"""

import argparse

import numpy as np

from ostl import SNU, Adam, Layer, Network, OnlineLearner, Readout
from ostl.bptt import bptt_gradients
from ostl.tasks import PatternGeneration


def main(iterations=60):
    task = PatternGeneration(seed=0, n_in=50, n_out=3, steps=500)
    # one recurrent layer of 24 spiking SNUs (OSTL eq. 1-2) and a leaky linear readout
    net = Network(task.n_in, [Layer(24, SNU(decay=0.9, pseudo="tanh"), recurrent=True)],
                  Readout(task.n_out, activation="linear", leak=0.8))
    params = net.init_params(seed=1, weight_scale=2.0)
    trial = task.trial(0, 0)

    # 1. exact OSTL (with the recurrent H term) equals BPTT for one recurrent layer
    online = OnlineLearner(net, "ostl", params).run(trial.x[:200], trial.target[:200])
    _, reference = bptt_gradients(net, params, trial.x[:200], trial.target[:200])
    worst = max(np.abs(online.grads[k] - reference[k]).max() / np.abs(reference[k]).max() for k in reference)
    print(f"ostl vs bptt, largest relative deviation over all parameters: {worst:.1e}")

    # 2. train with OSTL w/o H (O(n^2) per step), Adam, deferred updates per sequence
    learner = OnlineLearner(net, "ostl_no_h", params)
    optimizer = Adam(lr=0.01)
    for iteration in range(iterations):
        result = learner.run(trial.x, trial.target)
        optimizer.step(learner.params, result.grads)
        if iteration % 20 == 0 or iteration == iterations - 1:
            print(f"iteration {iteration:3d}  loss {result.loss:9.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=60)
    main(parser.parse_args().iterations)
