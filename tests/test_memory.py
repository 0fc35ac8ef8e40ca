"""Memory per rule follows OSTL Table 1: a feed-forward OSTL layer keeps n*m
eligibility values (per state variable), not T*n activations, and the peak memory of
a run does not grow with the sequence length."""

import tracemalloc

import numpy as np
import pytest

from ostl import ALIF, SNU, Layer, Network, OnlineLearner, Readout


@pytest.mark.parametrize("cell,d", [(SNU(decay=0.9), 1), (ALIF(), 2)])
def test_feedforward_layer_keeps_n_times_m_eligibility_values(cell, d):
    n, m = 30, 20
    net = Network(m, [Layer(n, cell)], Readout(3))
    learner = OnlineLearner(net, "ostl", net.init_params())
    assert learner.traces[0].eps == {}   # allocated by the step-by-step evaluation only (reset)
    learner.reset()
    traces = learner.traces[0]
    assert traces.eps["layer0.W"].shape == (n, d, m)
    assert traces.e["layer0.W"].shape == (n, m)


def test_recurrent_exact_traces_are_n_cubed_and_no_h_is_n_squared():
    n, m = 8, 5
    net = Network(m, [Layer(n, SNU(), recurrent=True)], Readout(2))
    exact, local = (OnlineLearner(net, rule, net.init_params()) for rule in ("ostl", "ostl_no_h"))
    exact.reset()
    local.reset()
    exact, local = exact.traces[0], local.traces[0]
    assert exact.eps["layer0.H"].shape == (n, 1, n, n)  # O(n^3) values (Table 1)
    assert local.eps["layer0.H"].shape == (n, 1, n)  # O(n^2)


def _peak_bytes(steps, n=40, m=40):
    rng = np.random.default_rng(0)
    net = Network(m, [Layer(n, SNU(decay=0.9))], Readout(3))
    learner = OnlineLearner(net, "ostl", net.init_params(seed=1))
    x = (rng.random((steps, m)) < 0.1).astype(float)
    y = rng.normal(size=(steps, 3))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    learner.run(x, y)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def test_peak_memory_is_flat_in_sequence_length():
    short, long = _peak_bytes(200), _peak_bytes(2000)
    # only the (T, n_out) outputs and per-step losses grow: 10x T must not mean 10x memory
    assert long < 1.5 * short + 2000 * 8 * 8, (short, long)
