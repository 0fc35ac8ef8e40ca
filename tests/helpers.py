"""Shared helpers for the test-suite."""

import numpy as np


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
