"""Deferred updates (summed over the sequence, applied at its end) equal one BPTT
gradient step; online updates apply each step's L^t e^t immediately (OSTL Alg. 1)."""

import numpy as np
import pytest

from ostl import SGD, SNU, Adam, Layer, Network, OnlineLearner, Readout
from ostl.bptt import bptt_gradients

from .helpers import assert_active, poisson_input


def _setup(seed=0, steps=150):
    rng = np.random.default_rng(seed)
    net = Network(4, [Layer(6, SNU(decay=0.8), recurrent=True)], Readout(2))
    params = net.init_params(seed=seed + 1, weight_scale=3.0)
    x = poisson_input(rng, steps, 4)
    y = rng.normal(size=(steps, 2))
    assert_active(net.forward(params, x, y))
    return net, params, x, y


def test_deferred_update_equals_one_bptt_step():
    net, params, x, y = _setup()
    lr = 0.05
    learner = OnlineLearner(net, "ostl", params, mode="deferred")
    res = learner.run(x, y)
    SGD(lr).step(learner.params, res.grads)
    _, ref = bptt_gradients(net, params, x, y)
    for name in params:
        expected = params[name] - lr * ref[name]
        np.testing.assert_allclose(learner.params[name], expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
        assert not np.allclose(learner.params[name], params[name])  # the step did something


def test_online_applies_each_steps_contribution_immediately():
    net, params, x, y = _setup(seed=2)
    lr = 0.02
    learner = OnlineLearner(net, "ostl", params, mode="online", optimizer=SGD(lr))
    res = learner.run(x, y, record=("weights", "gradient"))
    weights, grads = res.records["weights"], res.records["gradient"]
    # after step t the weights are those before it minus lr * L^t e^t
    prev = params["layer0.W"]
    for t in range(x.shape[0]):
        np.testing.assert_allclose(weights["layer0.W"][t], prev - lr * grads["layer0.W"][t], rtol=1e-12, atol=1e-15)
        prev = weights["layer0.W"][t]
    # the first step's contribution is the deferred one (same weights so far)
    first = OnlineLearner(net, "ostl", params, mode="deferred").run(x[:1], y[:1])
    np.testing.assert_allclose(grads["layer0.W"][0], first.grads["layer0.W"], rtol=1e-12)
    # later steps see the updated weights: the run differs from the deferred one
    deferred = OnlineLearner(net, "ostl", params, mode="deferred").run(x, y)
    assert not np.allclose(res.grads["layer0.W"], deferred.grads["layer0.W"], rtol=1e-6)


def test_online_approaches_deferred_for_small_learning_rates():
    """Online and deferred differ at second order in the learning rate (a smooth
    sSNU network: with spikes, a tiny weight change can flip a spike)."""
    rng = np.random.default_rng(4)
    net = Network(4, [Layer(6, SNU(decay=0.8, output="sigmoid"), recurrent=True)], Readout(2))
    params = net.init_params(seed=5, weight_scale=3.0)
    x = poisson_input(rng, 60, 4)
    y = rng.normal(size=(60, 2))

    def gap(lr):
        online = OnlineLearner(net, "ostl", params, mode="online", optimizer=SGD(lr))
        online.run(x, y)
        deferred = OnlineLearner(net, "ostl", params, mode="deferred")
        SGD(lr).step(deferred.params, deferred.run(x, y).grads)
        return np.max(np.abs(online.params["readout.W"] - deferred.params["readout.W"]))

    g1, g2 = gap(1e-4), gap(1e-5)
    assert g2 > 0
    assert 30 < g1 / g2 < 300  # ~ lr^2


@pytest.mark.parametrize("mode", ["deferred", "online"])
def test_both_modes_reduce_the_loss(mode):
    net, params, x, y = _setup(seed=6)
    opt = Adam(0.01 if mode == "online" else 0.05)
    learner = OnlineLearner(net, "ostl", params, mode=mode, optimizer=opt)
    losses = []
    for _ in range(20):
        res = learner.run(x, y)
        losses.append(res.loss)
        if mode == "deferred":
            opt.step(learner.params, res.grads)
    assert losses[-1] < 0.7 * losses[0]


def test_masked_recurrent_weights_stay_zero():
    """LIF layers have no autapses: the diagonal of H receives no update."""
    from ostl import LIF

    rng = np.random.default_rng(9)
    net = Network(4, [Layer(5, LIF(tau_m=10.0, v_th=0.5), recurrent=True)], Readout(2))
    params = net.init_params(seed=3, weight_scale=3.0)
    assert np.all(np.diag(params["layer0.H"]) == 0)
    learner = OnlineLearner(net, "eprop", params, mode="online", optimizer=Adam(0.05))
    learner.run(poisson_input(rng, 100, 4), rng.normal(size=(100, 2)))
    assert np.all(np.diag(learner.params["layer0.H"]) == 0)
    assert not np.allclose(learner.params["layer0.H"], params["layer0.H"])
