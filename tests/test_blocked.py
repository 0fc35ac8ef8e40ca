"""The blocked deferred-mode evaluation (ostl.blocked) gives the step-by-step
engine's results: same losses, outputs and gradients to rounding."""

import numpy as np
import pytest

from ostl import ALIF, LIF, SNU, Dense, Layer, Network, OnlineLearner, Readout, SoftResetSNU
from ostl.blocked import BlockCoefficients

from .helpers import poisson_input, relative_deviation, targets_for

CELLS = {"snu": SNU(decay=0.9), "soft_snu": SoftResetSNU(decay=0.9),
         "lif": LIF(tau_m=10.0, v_th=0.5), "alif": ALIF(tau_m=10.0, tau_a=50.0, beta=0.5, v_th=0.5)}


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("rule,recurrent", [("ostl", False), ("ostl_no_h", True), ("eprop", True),
                                            ("osttp", False), ("ostl_rnd", False)])
@pytest.mark.parametrize("leak", [0.0, 0.7], ids=["stateless-readout", "leaky-readout"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_blocked_equals_step_by_step(cell, rule, recurrent, leak, engine):
    """Blocks of both engines (the NumPy definition and the compiled loops) against the step-by-step
    evaluation, which is NumPy whatever the engine."""
    rng = np.random.default_rng(0)
    layers = [Dense(6, "tanh"), Layer(7, CELLS[cell], recurrent=recurrent), Layer(6, SNU(decay=0.8)),
              Dense(4, "relu")]
    net = Network(5, layers, Readout(3, "softmax" if leak else "linear", leak=leak))
    params = net.init_params(seed=1, weight_scale=3.0)
    x = poisson_input(rng, 203, 5)  # not a multiple of the block size
    y = targets_for(net.readout, rng, 203)
    mask = (rng.random(203) < 0.8).astype(float)
    step = OnlineLearner(net, rule, params, block=1).run(x, y, mask)
    for block in (50, 128):
        fast = OnlineLearner(net, rule, params, block=block, engine=engine).run(x, y, mask)
        assert fast.loss == pytest.approx(step.loss, rel=1e-13)
        np.testing.assert_allclose(fast.outputs, step.outputs, rtol=1e-12, atol=1e-14)
        for name in step.grads:
            assert relative_deviation(fast.grads[name], step.grads[name]) < 1e-11, (name, block)


@pytest.mark.parametrize("rule,recurrent", [("ostl", False), ("ostl_no_h", True), ("eprop", True),
                                            ("osttp", False), ("ostl_rnd", False)])
@pytest.mark.parametrize("leak", [0.0, 0.7], ids=["stateless-readout", "leaky-readout"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_compiled_engine_equals_the_numpy_definition(cell, rule, recurrent, leak):
    """Issue 23: the compiled loops against the NumPy blocks they are generated from, 1e-12."""
    rng = np.random.default_rng(8)
    layers = [Dense(6, "tanh"), Layer(7, CELLS[cell], recurrent=recurrent), Layer(6, SNU(decay=0.8)),
              Dense(4, "relu")]
    net = Network(5, layers, Readout(3, "softmax" if leak else "linear", leak=leak))
    params = net.init_params(seed=1, weight_scale=3.0)
    x = poisson_input(rng, 203, 5)
    y = targets_for(net.readout, rng, 203)
    definition = OnlineLearner(net, rule, params, engine="numpy").run(x, y)
    compiled = OnlineLearner(net, rule, params, engine="compiled").run(x, y)
    assert compiled.loss == pytest.approx(definition.loss, rel=1e-12)
    np.testing.assert_allclose(compiled.outputs, definition.outputs, rtol=1e-12, atol=1e-14)
    for name, grad in definition.grads.items():
        assert relative_deviation(compiled.grads[name], grad) < 1e-12, name


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_block_coefficients_solve_the_recursion(engine):
    """Z^t = M^t Z^{t-1} + V^t x^t, G = sum_t W^t.Z^t, checked against the plain loop
    for a 2-dimensional state."""
    rng = np.random.default_rng(1)
    K, n, D, m = 9, 4, 2, 3
    M, V, W, X = rng.normal(size=(K, n, D, D)), rng.normal(size=(K, n, D)), rng.normal(size=(K, n, D)), \
        rng.normal(size=(K, m))
    Z0 = rng.normal(size=(n, D, m))
    Z, G = Z0.copy(), np.zeros((n, m))
    for k in range(K):
        Z = np.einsum("nab,nbm->nam", M[k], Z) + V[k][:, :, None] * X[k][None, None, :]
        G += np.einsum("na,nam->nm", W[k], Z)
    Zb, Gb = Z0.copy(), np.zeros((n, m))
    BlockCoefficients(M, W, engine).accumulate(Zb, V, X, Gb)
    np.testing.assert_allclose(Zb, Z, rtol=1e-12)
    np.testing.assert_allclose(Gb, G, rtol=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_forward_is_the_same_in_blocks_and_steps(engine):
    rng = np.random.default_rng(2)
    net = Network(4, [Layer(6, ALIF(), recurrent=True), Dense(3, "tanh")], Readout(2, leak=0.5))
    params = net.init_params(seed=3, weight_scale=3.0)
    x = poisson_input(rng, 130, 4)
    a = net.forward(params, x, block=1)
    b = net.forward(params, x, block=64, engine=engine)
    np.testing.assert_allclose(b.potentials, a.potentials, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(b.layer_outputs[0], a.layer_outputs[0])
