"""OSTL for gated units (OSTL supplementary S5, S6): for one LSTM layer and one GRU layer
the exact OSTL gradient of every gate's weights equals autodiff BPTT to 1e-9."""

import numpy as np
import pytest

from ostl import Dense, Network, OnlineLearner, Readout
from ostl.bptt import bptt_gradients
from ostl.errors import ParameterError
from ostl.gated import GatedLayer
from ostl.training import Trainer

from .helpers import relative_deviation, targets_for

pytest.importorskip("torch")

RTOL = 1e-9


def _inputs(rng, steps, n_in):
    return rng.normal(0.0, 1.0, size=(steps, n_in))


def _check(net, params, x, y, mask=None, rule="ostl", names=None):
    ref_loss, ref = bptt_gradients(net, params, x, y, mask)
    result = OnlineLearner(net, rule, params).run(x, y, mask)
    assert abs(result.loss - ref_loss) <= RTOL * abs(ref_loss)
    for name in names or ref:
        assert np.any(ref[name] != 0), name   # every parameter gets a gradient
        assert relative_deviation(result.grads[name], ref[name]) < RTOL, name
    return ref


@pytest.mark.parametrize("readout", [Readout(3, "linear"), Readout(3, "sigmoid"), Readout(3, "softmax", leak=0.7)],
                         ids=["mse", "bce", "ce-leaky"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_gated_layer_ostl_equals_bptt(cell, readout):
    rng = np.random.default_rng(11)
    net = Network(4, [GatedLayer(6, cell)], readout)
    params = net.init_params(seed=2, weight_scale=1.5)
    x = _inputs(rng, 60, 4)
    y = targets_for(readout, rng, 60)
    ref = _check(net, params, x, y, mask=(rng.random(60) < 0.8).astype(float))
    gates = {"lstm": ("input", "forget", "output", "candidate"), "gru": ("update", "reset", "candidate")}[cell]
    assert {f"layer0.{k}_{g}" for g in gates for k in "WHb"} <= set(ref)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_layer_between_stateless_layers_stays_exact(cell):
    """OSTL S4: stateless layers keep the gradient of the recurrent layer and of the layers
    above it exact; a trainable stateless layer *below* it misses the recurrence's memory of
    its output (a residual, as for SNU layers: tests/test_bptt_equivalence.py)."""
    rng = np.random.default_rng(5)
    net = Network(3, [Dense(5, "tanh"), GatedLayer(4, cell), Dense(4, "relu")], Readout(2))
    params = net.init_params(seed=3, weight_scale=1.5)
    x, y = _inputs(rng, 40, 3), rng.normal(size=(40, 2))
    ref = _check(net, params, x, y, names=[n for n in params if not n.startswith("layer0.")])
    grads = OnlineLearner(net, "ostl", params).run(x, y).grads
    assert relative_deviation(grads["layer0.W"], ref["layer0.W"]) > 1e-3


def test_stacked_gated_layers_are_not_exact_but_close():
    """Two recurrent layers: OSTL's residual R is not zero (main text), the estimate is close."""
    rng = np.random.default_rng(6)
    net = Network(3, [GatedLayer(4, "lstm"), GatedLayer(4, "gru")], Readout(2))
    params = net.init_params(seed=3)
    x, y = _inputs(rng, 40, 3), rng.normal(size=(40, 2))
    _, ref = bptt_gradients(net, params, x, y)
    grads = OnlineLearner(net, "ostl", params).run(x, y).grads
    assert relative_deviation(grads["layer1.W_candidate"], ref["layer1.W_candidate"]) < RTOL   # top layer: exact
    deviation = relative_deviation(grads["layer0.W_candidate"], ref["layer0.W_candidate"])
    assert 1e-6 < deviation < 0.5


def test_gated_layers_refuse_approximate_traces_and_chained_random_feedback():
    net = Network(3, [GatedLayer(4, "lstm")], Readout(2))
    with pytest.raises(ParameterError, match="exact OSTL traces only"):
        OnlineLearner(net, "eprop", net.init_params())
    deep = Network(3, [Dense(4), GatedLayer(4, "gru")], Readout(2))
    with pytest.raises(ParameterError, match="random feedback down through the gated layer 1"):
        OnlineLearner(deep, "ostl_rnd", deep.init_params())
    OnlineLearner(deep, "osttp", deep.init_params())   # direct projections need no chain
    with pytest.raises(ParameterError, match="gated cell must be one of"):
        GatedLayer(3, "rnn")


def test_an_lstm_learns_and_checkpoints(tmp_path):
    spec = {"n_in": 50, "layers": [{"type": "gated", "size": 8, "cell": {"kind": "lstm"}}],
            "readout": {"size": 3, "activation": "linear", "leak": 0.0, "bias": True}}
    trainer = Trainer({"name": "pattern_generation", "steps": 60}, spec, "ostl", {"name": "adam", "lr": 0.02}, seed=1)
    trainer.train(5, checkpoint=tmp_path / "state.npz")
    resumed = Trainer.load(tmp_path / "state.npz")
    trainer.train(20)
    resumed.train(20)
    np.testing.assert_array_equal(trainer.params["layer0.W_forget"], resumed.params["layer0.W_forget"])
    assert trainer.history[-1]["loss"] < 0.5 * trainer.history[0]["loss"]


@pytest.mark.parametrize("plugin", ["brian2_ostl.network", "nestml_models.network"])
def test_simulator_plugins_refuse_gated_layers(plugin):
    module = pytest.importorskip(plugin)
    net = Network(3, [GatedLayer(4, "lstm")], Readout(2))
    with pytest.raises(ParameterError, match="layer 0 is a gated \\(LSTM\\) layer"):
        module.check_supported(net, "ostl")
