"""The hand-written BPTT of ostl.backprop (the trainer's --rule bptt) equals PyTorch's autodiff of
the same equations (ostl.bptt.bptt_gradients, the oracle), on both engines, for every cell,
layer kind and readout."""

import numpy as np
import pytest

from ostl import ALIF, LIF, SNU, Dense, Layer, Network, Readout, SoftResetSNU
from ostl.backprop import adjoint_sweep_numpy, backprop, supports
from ostl.bptt import bptt_gradients, bptt_sequence
from ostl.compiled.adjoint import adjoint_sweep
from ostl.errors import ParameterError
from ostl.gated import GatedLayer
from ostl.local_derivatives import LocalDerivatives

from .helpers import poisson_input, relative_deviation, targets_for

pytest.importorskip("torch")

CELLS = {"snu": SNU(decay=0.9), "snu_relu": SNU(decay=0.8, activation="relu"),
         "ssnu": SNU(decay=0.8, output="sigmoid"), "soft_snu": SoftResetSNU(decay=0.9),
         "lif": LIF(tau_m=10.0, v_th=0.5), "alif": ALIF(tau_m=10.0, tau_a=50.0, beta=0.5, v_th=0.5)}
READOUTS = {"linear": ("linear", 0.0), "softmax-leaky": ("softmax", 0.7), "sigmoid-leaky": ("sigmoid", 0.5)}


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("readout", list(READOUTS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_backprop_equals_autodiff(cell, readout, engine):
    rng = np.random.default_rng(3)
    activation, leak = READOUTS[readout]
    layers = [Dense(6, "tanh"), Layer(7, CELLS[cell], recurrent=True), Layer(6, SNU(decay=0.8)), Dense(4, "relu")]
    net = Network(5, layers, Readout(3, activation, leak=leak))
    params = net.check_params(net.init_params(seed=1, weight_scale=3.0))
    x = poisson_input(rng, 103, 5)
    y = targets_for(net.readout, rng, 103)
    mask = (rng.random(103) < 0.8).astype(float)
    loss, oracle = bptt_gradients(net, params, x, y, mask)
    for block in (128, 10):   # one block; eleven, the last one short (adjoints carried between blocks)
        ours, grads, outputs, step_losses = backprop(net, params, x, y, mask, engine=engine, block=block)
        assert ours == pytest.approx(loss, rel=1e-13)
        assert step_losses.sum() == pytest.approx(loss, rel=1e-13)
        assert sorted(grads) == sorted(oracle)
        for name, grad in oracle.items():
            assert relative_deviation(grads[name], grad) < 1e-12, (name, block)


def test_trainer_path_returns_the_trainable_gradients_only():
    rng = np.random.default_rng(5)
    net = Network(4, [Layer(9, ALIF(), recurrent=True)], Readout(2, leak=0.6))
    params = net.init_params(seed=2, weight_scale=2.0)
    x, y = poisson_input(rng, 60, 4), rng.normal(size=(60, 2))
    result = bptt_sequence(net, params, x, y, trainable=["layer0.H", "readout.W"])
    assert sorted(result.grads) == ["layer0.H", "readout.W"]
    _, oracle = bptt_gradients(net, params, x, y)
    for name in result.grads:
        assert relative_deviation(result.grads[name], oracle[name]) < 1e-12
    assert np.all(np.diag(result.grads["layer0.H"]) == 0.0)   # no autapses: masked as the oracle


def test_gated_layers_are_left_to_autodiff():
    rng = np.random.default_rng(6)
    net = Network(3, [GatedLayer(4, "lstm")], Readout(2))
    assert not supports(net) and supports(Network(3, [Dense(4)], Readout(2)))
    params = net.init_params(seed=1)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    result = bptt_sequence(net, params, x, y)
    _, oracle = bptt_gradients(net, params, x, y)
    for name, grad in oracle.items():
        np.testing.assert_array_equal(result.grads[name], grad)
    with pytest.raises(ParameterError, match="float32.*gated"):   # float32 is the hand-written recursion's
        bptt_sequence(net, params, x, y, dtype="float32")


@pytest.mark.parametrize("recurrent", [False, True])
def test_compiled_adjoint_sweep_equals_numpy(recurrent):
    rng = np.random.default_rng(11)
    T, n, d = 40, 13, 2
    deriv = LocalDerivatives(state_decay=rng.normal(size=(T, n, d, d)) * 0.5, reset_path=rng.normal(size=(T, n, d)),
                             adaptation_path=rng.normal(size=(T, n, d)), input_gain=rng.normal(size=(T, n, d)),
                             output_gain=rng.normal(size=(T, n, d)), ds_dneuron_param=np.zeros((T, n, d)),
                             dy_dneuron_param=np.zeros((T, n)))
    H = rng.normal(size=(n, n)) / n if recurrent else None
    direct = rng.normal(size=(T, n))
    into_y, into_s = rng.normal(size=n), rng.normal(size=(n, d))
    for got, want in zip(adjoint_sweep(direct, deriv, H, into_y, into_s),
                         adjoint_sweep_numpy(direct, deriv, H, into_y, into_s)):
        assert relative_deviation(got, want) < 1e-13
