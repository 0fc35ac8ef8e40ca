"""Where a paper claims OSTL equals BPTT, prove it against autodiff BPTT (torch);
where the paper says it does not (the residual R), show the difference.

OSTL (Bohnstingl et al.): for one recurrent SNU layer R = 0 (S1), also when the layer
is embedded between stateless layers (S4); for k >= 2 stateful layers R != 0.
"""

import zlib

import numpy as np
import pytest

from ostl import ALIF, LIF, SNU, Dense, Layer, Network, OnlineLearner, Readout, SoftResetSNU
from ostl.bptt import bptt_gradients

from .helpers import assert_active, poisson_input, relative_deviation, targets_for

RTOL = 1e-9

SINGLE_LAYER_CELLS = {
    "snu-step-tanh": SNU(decay=0.8, output="step", pseudo="tanh"),
    "snu-step-fast_sigmoid": SNU(decay=0.7, output="step", pseudo="fast_sigmoid"),
    "snu-step-piecewise": SNU(decay=0.9, output="step", pseudo={"name": "piecewise_linear", "gamma": 0.5}),
    "ssnu-sigmoid-relu": SNU(decay=0.6, activation="relu", output="sigmoid"),
    "snu-step-leaky_relu": SNU(decay=0.9, activation={"name": "leaky_relu", "alpha": 0.1}, pseudo="tanh"),
    "soft_snu-step-fast_sigmoid": SoftResetSNU(decay=0.9, pseudo="fast_sigmoid", threshold=1.0),
    "soft_snu-step-tanh": SoftResetSNU(decay=0.8, pseudo="tanh", threshold=0.8),
    "soft_snu-sigmoid": SoftResetSNU(decay=0.8, output="sigmoid", threshold=0.5),
    "lif": LIF(tau_m=10.0, v_th=0.5),
    "alif": ALIF(tau_m=10.0, tau_a=50.0, beta=0.5, v_th=0.5),
}


def _gradients(net, rule, params, x, y, mask=None):
    result = OnlineLearner(net, rule, params).run(x, y, mask)
    return result.loss, result.grads


def _assert_equal_to_bptt(net, params, x, y, mask=None, names=None):
    ref_loss, ref = bptt_gradients(net, params, x, y, mask)
    loss, grads = _gradients(net, "ostl", params, x, y, mask)
    assert abs(loss - ref_loss) <= RTOL * abs(ref_loss)
    for name in names or ref:
        assert relative_deviation(grads[name], ref[name]) < RTOL, name
    return ref


@pytest.mark.parametrize("recurrent", [True, False], ids=["recurrent", "feedforward"])
@pytest.mark.parametrize("cell", list(SINGLE_LAYER_CELLS), ids=list(SINGLE_LAYER_CELLS))
def test_single_layer_ostl_equals_bptt(cell, recurrent):
    rng = np.random.default_rng(zlib.crc32(cell.encode()))
    net = Network(4, [Layer(6, SINGLE_LAYER_CELLS[cell], recurrent=recurrent)], Readout(3))
    params = net.init_params(seed=1, weight_scale=3.0)
    x = poisson_input(rng, 300, 4)
    y = targets_for(net.readout, rng, 300)
    assert_active(net.forward(params, x, y))
    _assert_equal_to_bptt(net, params, x, y)


@pytest.mark.parametrize("readout", [
    Readout(3, "linear"), Readout(3, "sigmoid"), Readout(3, "softmax"),
    Readout(3, "linear", leak=0.8), Readout(3, "softmax", leak=0.6), Readout(2, "linear", bias=False),
], ids=["mse", "bce", "ce", "mse-leaky", "ce-leaky", "mse-nobias"])
@pytest.mark.parametrize("cell", ["snu-step-tanh", "soft_snu-step-fast_sigmoid", "alif"])
def test_recurrent_layer_every_loss(cell, readout):
    rng = np.random.default_rng(7)
    net = Network(5, [Layer(5, SINGLE_LAYER_CELLS[cell], recurrent=True)], readout)
    params = net.init_params(seed=2, weight_scale=3.0)
    x = poisson_input(rng, 200, 5)
    y = targets_for(readout, rng, 200)
    mask = (rng.random(200) < 0.7).astype(float)
    assert_active(net.forward(params, x, y))
    _assert_equal_to_bptt(net, params, x, y, mask)


def test_long_sequence_500_steps():
    rng = np.random.default_rng(3)
    net = Network(4, [Layer(7, SNU(decay=0.9, pseudo="tanh"), recurrent=True)], Readout(2))
    params = net.init_params(seed=4, weight_scale=2.5)
    x = poisson_input(rng, 500, 4, prob=0.2)
    y = rng.normal(size=(500, 2))
    assert_active(net.forward(params, x, y))
    _assert_equal_to_bptt(net, params, x, y)


def test_recurrent_layer_between_stateless_layers():
    """S4: stateless layers introduce no residual for the recurrent layer and for the
    stateless layers above it (a dense hidden stack and a softmax readout here)."""
    rng = np.random.default_rng(11)
    layers = [Dense(6, "tanh"), Layer(7, SNU(decay=0.8), recurrent=True), Dense(6, "relu"), Dense(5, "sigmoid")]
    net = Network(4, layers, Readout(3, "softmax"))
    params = net.init_params(seed=5, weight_scale=3.0)
    x = poisson_input(rng, 250, 4)
    y = targets_for(net.readout, rng, 250)
    assert_active(net.forward(params, x, y))
    exact = [n for n in params if not n.startswith("layer0.")]
    ref = _assert_equal_to_bptt(net, params, x, y, names=exact)
    # A *trainable* stateless layer below the recurrent one is not covered by S4: the
    # recurrent state carries its influence forward in time, which the same-step
    # learning signal omits (a residual R, see docs/equations.md). Show it.
    _, grads = _gradients(net, "ostl", params, x, y)
    assert relative_deviation(grads["layer0.W"], ref["layer0.W"]) > 1e-2


def test_stateless_hidden_stack_keeps_equality():
    rng = np.random.default_rng(12)
    layers = [Layer(8, ALIF(tau_m=15.0, tau_a=60.0, beta=0.3, v_th=0.5), recurrent=True),
              Dense(7, "tanh"), Dense(6, {"name": "leaky_relu", "alpha": 0.05})]
    net = Network(5, layers, Readout(2))
    params = net.init_params(seed=6, weight_scale=3.0)
    x = poisson_input(rng, 200, 5)
    y = rng.normal(size=(200, 2))
    assert_active(net.forward(params, x, y))
    _assert_equal_to_bptt(net, params, x, y)


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_two_stateful_layers_show_the_residual(recurrent):
    """k = 2: the top layer is exact (l = k, S1), the lower layer misses R."""
    rng = np.random.default_rng(13)
    net = Network(5, [Layer(8, SNU(decay=0.8), recurrent=recurrent), Layer(6, SNU(decay=0.7), recurrent=recurrent)],
                  Readout(3))
    params = net.init_params(seed=7, weight_scale=3.0)
    x = poisson_input(rng, 200, 5)
    y = rng.normal(size=(200, 3))
    assert_active(net.forward(params, x, y))
    ref = _assert_equal_to_bptt(net, params, x, y, names=[n for n in net.param_shapes() if not n.startswith("layer0")])
    _, grads = _gradients(net, "ostl", params, x, y)
    for name in ("layer0.W", "layer0.bias"):
        assert relative_deviation(grads[name], ref[name]) > 1e-2, name


@pytest.mark.parametrize("rule", ["ostl_no_h", "eprop", "ostl_rnd", "osttp"])
def test_approximate_rules_differ_from_bptt(rule):
    """The approximations are real: on a recurrent layer none of them is exact."""
    rng = np.random.default_rng(14)
    net = Network(4, [Layer(6, SNU(decay=0.8), recurrent=True)], Readout(2))
    params = net.init_params(seed=8, weight_scale=3.0)
    x = poisson_input(rng, 200, 4)
    y = rng.normal(size=(200, 2))
    _, ref = bptt_gradients(net, params, x, y)
    _, grads = _gradients(net, rule, params, x, y)
    assert relative_deviation(grads["layer0.W"], ref["layer0.W"]) > 1e-2
    # the readout always learns from its exact gradient
    assert relative_deviation(grads["readout.W"], ref["readout.W"]) < RTOL


def test_no_h_equals_ostl_in_a_feedforward_layer():
    """Without H the total derivative is the own-neuron one: ostl_no_h == ostl == BPTT."""
    rng = np.random.default_rng(15)
    net = Network(4, [Layer(6, SoftResetSNU(decay=0.9))], Readout(2))
    params = net.init_params(seed=9, weight_scale=3.0)
    x = poisson_input(rng, 200, 4)
    y = rng.normal(size=(200, 2))
    _, ref = bptt_gradients(net, params, x, y)
    _, grads = _gradients(net, "ostl_no_h", params, x, y)
    for name in ref:
        assert relative_deviation(grads[name], ref[name]) < RTOL


def test_numpy_and_torch_forward_agree():
    from ostl.ops import TorchOps

    rng = np.random.default_rng(16)
    net = Network(4, [Layer(6, ALIF(), recurrent=True), Dense(3, "tanh")], Readout(2, "softmax", leak=0.5))
    params = net.init_params(seed=10, weight_scale=3.0)
    x = poisson_input(rng, 100, 4)
    y = targets_for(net.readout, rng, 100)
    ref = net.forward(params, x, y)
    import torch

    loss, potentials = net.forward({k: torch.tensor(v) for k, v in params.items()}, torch.tensor(x),
                                   torch.tensor(y), ops=TorchOps())
    np.testing.assert_allclose(np.array([p.numpy() for p in potentials]), ref.potentials, rtol=1e-12, atol=1e-12)
    assert abs(float(loss) - ref.loss) <= 1e-12 * ref.loss
