"""Shared helpers for the test-suite."""

import subprocess
import sys

import numpy as np


def short_training_run(tmp_path, *argv):
    """``ostl train`` as a user runs it (``python -m ostl``): two iterations of 100-step pattern
    generation into ``tmp_path/run``, plus ``argv``; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "ostl", "train", "--task", "pattern_generation", "--steps", "100",
                           "--iterations", "2", "--no-progress", "--no-plot", "--out", str(tmp_path / "run"), *argv],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)


def relative_deviation(estimate, reference):
    """max |estimate - reference| / max |reference|."""
    scale = np.max(np.abs(reference))
    assert scale > 0, "reference gradient is identically zero: the test would be vacuous"
    return float(np.max(np.abs(estimate - reference)) / scale)


def poisson_input(rng, steps, n, prob=0.3):
    return (rng.random((steps, n)) < prob).astype(np.float64)


def targets_for(readout, rng, steps):
    """A target sequence suited to the readout's loss."""
    n = readout.size
    if readout.activation == "linear":
        return rng.normal(size=(steps, n))
    if readout.activation == "sigmoid":
        return (rng.random((steps, n)) < 0.3).astype(np.float64)
    return np.eye(n)[rng.integers(0, n, steps)]


def assert_active(forward_result, low=0.02, high=0.98):
    """Every stateful layer spikes, but not always: gradients then depend on the
    pseudo-derivative and the reset, and equality tests are not vacuous."""
    for out, states in zip(forward_result.layer_outputs, forward_result.layer_states):
        if states is None:
            continue
        rate = float(out.mean())
        assert low < rate < high, f"firing rate {rate:.3f} outside ({low}, {high})"


def pynest_example_reference(example, iterations, n_rec, learning_rate=0.003, seed=1):
    """What the reference engine learns on examples/nest_pattern_generation.py's network, initial
    weights and trial (``example``: that module): ``(losses, weights)`` after ``iterations`` trials."""
    from ostl import LIF, Adam, Layer, Network, OnlineLearner, Readout, make_rule

    initial = example.initial_weights(n_rec, seed)
    trial = example.frozen_trial()
    net = Network(example.N_IN, [Layer(n_rec, LIF(tau_m=example.TAU_M, v_th=example.V_TH), recurrent=True,
                                       autapses=False)], Readout(example.N_OUT, "linear", leak=example.LEAK))
    params = net.init_params(seed=0)
    params.update({k: v for k, v in initial.items() if k != "feedback"})
    params["readout.b"][:] = 0.0
    learner = OnlineLearner(net, make_rule("eprop", feedback="random"), params,
                            feedback={"feedback.readout": initial["feedback"]},
                            trainable=["layer0.W", "layer0.H", "readout.W"])
    optimizer = Adam(learning_rate)
    losses = []
    for _ in range(iterations):
        result = learner.run(trial.x, trial.target)
        losses.append(result.loss)
        optimizer.step(learner.params, result.grads)
    return np.array(losses), {k: learner.params[k] for k in ("layer0.W", "layer0.H", "readout.W")}


def pynn_example_reference(example, iterations, learning_rate=0.01):
    """What the reference engine learns on examples/pynn_pattern_generation.py's network, initial
    weights and trial at its defaults (``example``: that module): ``(params, losses)``."""
    from ostl import Adam, OnlineLearner

    x, target, mask = example.task_data()
    net = example.reference_network(x.shape[1], 32, target.shape[1])
    params = net.init_params(seed=1, weight_scale=2.0, readout_scale=1.0)
    learner = OnlineLearner(net, "ostl", params, trainable=["layer0.W", "readout.W"])
    optimizer = Adam(learning_rate)
    losses = []
    for _ in range(iterations):
        result = learner.run(x, target, mask)
        losses.append(result.loss)
        optimizer.step(learner.params, result.grads)
    return learner.params, np.array(losses)
