"""The compiled inner loops (ostl.compiled) equal the NumPy definition they are generated from.

The rule-level equality (every rule, cell and readout through the blocked engine, compiled and
NumPy, against the step-by-step evaluation) is in tests/test_blocked.py; here the kernels
themselves, the engine's choice and its command-line option."""

import json

import numpy as np
import pytest

import ostl
import ostl.compiled
import ostl.compiled.layer
import ostl.compiled.sweep
from ostl import ALIF, LIF, SNU, Layer, Network, OnlineLearner, Readout, SoftResetSNU
from ostl.blocked import BlockCoefficients
from ostl.compiled import resolve_engine
from ostl.compiled.ctrace import CExpr
from ostl.compiled.layer import layer_kernel
from ostl.compiled.sweep import block_sweep
from ostl.errors import BackendUnavailableError, ParameterError
from ostl.ops import NUMPY

from .helpers import poisson_input, relative_deviation, targets_for

CELLS = [LIF(tau_m=10.0, v_th=0.5), ALIF(tau_m=10.0, tau_a=50.0, beta=0.5, v_th=0.5), SNU(decay=0.9),
         SNU(decay=0.7, activation="relu"), SNU(decay=0.7, activation={"name": "leaky_relu", "alpha": 0.1}),
         SNU(decay=0.8, output="sigmoid"), SoftResetSNU(decay=0.9, threshold=0.8)]


def _ids(cells):
    return [json.dumps(c.spec(), sort_keys=True) for c in cells]


@pytest.mark.parametrize("recurrent", [False, True], ids=["feed-forward", "recurrent"])
@pytest.mark.parametrize("cell", CELLS, ids=_ids(CELLS))
def test_layer_kernel_equals_the_cells_steps(cell, recurrent):
    """The traced C step of every cell and activation gives the NumPy steps' states and outputs."""
    rng = np.random.default_rng(4)
    n, K = 23, 77
    layer = Layer(n, cell, recurrent=recurrent)
    params = Network(n, [layer], Readout(2)).init_params(seed=2, weight_scale=3.0)
    if cell.neuron_param and f"layer0.{cell.neuron_param}" in params:   # per-neuron values, not one default
        params[f"layer0.{cell.neuron_param}"] = params[f"layer0.{cell.neuron_param}"] + rng.normal(0, 0.1, n)
    feed = poisson_input(rng, K, n) @ params["layer0.W"].T
    H, neuron_param = layer.step_inputs(params, "layer0")
    carry = layer.initial_carry(NUMPY)
    states, outputs = [], []
    c = carry
    for k in range(K):
        c, step = layer.advance(NUMPY, c, feed[k], H, neuron_param)
        states.append(np.stack(step.state))
        outputs.append(step.y)
    (state, y), S_prev, S, Y_prev, Y = layer_kernel(cell).run(carry, feed, H, neuron_param)
    states, outputs = np.array(states), np.array(outputs)
    assert 0.05 < outputs.mean() < 0.95, "a silent or saturated layer would not test the output"
    np.testing.assert_allclose(np.moveaxis(S, 0, 1), states, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(Y, outputs, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(Y_prev[1:], Y[:-1])
    np.testing.assert_array_equal(np.moveaxis(S_prev, 0, 1)[1:], np.moveaxis(S, 0, 1)[:-1])
    np.testing.assert_array_equal(np.stack(state), S[:, -1])
    np.testing.assert_array_equal(y, Y[-1])


def test_traced_step_keeps_the_reference_order_of_operations():
    """The C expression is the cell's arithmetic in Python's order, constants as exact hex literals."""
    cell = LIF(tau_m=20.0, v_th=0.6)
    (v,) = cell.update(ostl.compiled.ctrace.C_OPS, (CExpr("v"),), CExpr("y"), CExpr("I"), None)
    assert str(v) == f"(((((real){cell.alpha.hex()}) * v) + I) - (((real){(0.6).hex()}) * y))"
    with pytest.raises(TypeError, match="no truth value"):
        bool(CExpr("v") > 0)


@pytest.mark.parametrize("D", [1, 2, 3])
@pytest.mark.parametrize("K", [1, 2, 37])
def test_block_sweep_equals_numpy(D, K):
    rng = np.random.default_rng(D * 100 + K)
    n = 11
    M, W = rng.normal(size=(K, n, D, D)), rng.normal(size=(K, n, D))
    reference = BlockCoefficients(M, W, "numpy")
    B, P, carry_G, carry_Z = block_sweep(M, W)
    for got, want in ((B, reference.B), (P, reference.P), (carry_G, reference.carry_G), (carry_Z, reference.carry_Z)):
        assert got.shape == want.shape
        assert relative_deviation(got, want) < 1e-14   # terms of a product summed in another order
    if D == 1:   # products of one factor: the same operations, bit for bit
        np.testing.assert_array_equal(B, reference.B)
        np.testing.assert_array_equal(P, reference.P)


@pytest.mark.parametrize("rule", ["eprop", "ostl_no_h", "ostl"])
def test_learner_and_forward_agree_between_engines(rule):
    rng = np.random.default_rng(7)
    recurrent = rule != "ostl"
    net = Network(9, [Layer(20, ALIF(), recurrent=recurrent)], Readout(3, leak=0.8))
    params = net.init_params(seed=5, weight_scale=2.0)
    x = poisson_input(rng, 300, 9)
    y = targets_for(net.readout, rng, 300)
    numpy_run = OnlineLearner(net, rule, params, engine="numpy").run(x, y)
    compiled_run = OnlineLearner(net, rule, params, engine="compiled").run(x, y)
    assert compiled_run.loss == pytest.approx(numpy_run.loss, rel=1e-12)
    for name, grad in numpy_run.grads.items():
        np.testing.assert_allclose(compiled_run.grads[name], grad, rtol=1e-10, atol=1e-12 * np.abs(grad).max())
    a = net.forward(params, x, y, engine="numpy")
    b = net.forward(params, x, y, engine="compiled")
    np.testing.assert_array_equal(a.layer_outputs[0], b.layer_outputs[0])
    np.testing.assert_allclose(b.potentials, a.potentials, rtol=1e-12, atol=1e-13)


STEP_CELLS = [LIF(tau_m=10.0, v_th=0.5), ALIF(tau_m=10.0, tau_a=50.0, beta=0.5, v_th=0.5), SNU(decay=0.9),
              SoftResetSNU(decay=0.9, threshold=0.8)]


@pytest.mark.parametrize("leak", [0.0, 0.8], ids=["no-leak", "leaky"])
@pytest.mark.parametrize("rule", ["eprop", "ostl_no_h", "osttp", "ostl"])
@pytest.mark.parametrize("cell", STEP_CELLS, ids=_ids(STEP_CELLS))
def test_online_updates_and_recordings_agree_between_engines(cell, rule, leak):
    """The step-by-step evaluation (online mode with Adam at every step; deferred with the
    eligibility vectors recorded) with the compiled trace step (ostl.compiled.traces) gives the
    NumPy definition's weights, gradients and traces. Two layers, the lower one recurrent
    except for exact OSTL (whose recurrent traces are coupled and stay NumPy)."""
    from ostl.optim import Adam

    rng = np.random.default_rng(11)
    net = Network(7, [Layer(12, cell, recurrent=rule != "ostl"), Layer(9, cell)], Readout(3, leak=leak))
    params = net.init_params(seed=3, weight_scale=2.0)
    x = poisson_input(rng, 120, 7)
    y = targets_for(net.readout, rng, 120)
    runs = {}
    for engine in ("numpy", "compiled"):
        online = OnlineLearner(net, rule, params, mode="online", optimizer=Adam(lr=0.01), engine=engine)
        result = online.run(x, y)
        recorded = OnlineLearner(net, rule, params, engine=engine).run(
            x, y, record=("eligibility_vector", "eligibility_trace"))
        runs[engine] = (online.params, result, recorded)
    (p_numpy, r_numpy, rec_numpy), (p_compiled, r_compiled, rec_compiled) = runs["numpy"], runs["compiled"]
    assert r_compiled.loss == pytest.approx(r_numpy.loss, rel=1e-12)
    for name, value in p_numpy.items():
        assert not np.array_equal(value, params[name]) or name.startswith("layer") and name.endswith(".tau"), name
        np.testing.assert_allclose(p_compiled[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    for name, grad in rec_numpy.grads.items():
        np.testing.assert_allclose(rec_compiled.grads[name], grad, rtol=1e-12, atol=1e-14 * np.abs(grad).max())
    for kind in ("eligibility_vector", "eligibility_trace"):
        assert sorted(rec_compiled.records[kind]) == sorted(rec_numpy.records[kind])
        for name, value in rec_numpy.records[kind].items():
            assert np.abs(value).max() > 0 or not name.endswith((".W", ".H")), (kind, name)   # (the compiled ones)
            np.testing.assert_allclose(rec_compiled.records[kind][name], value, rtol=1e-12, atol=1e-14, err_msg=name)


def test_engine_choice():
    assert resolve_engine("numpy") == "numpy"
    assert resolve_engine(None) == "compiled"   # the test set-up has a C compiler
    with pytest.raises(ParameterError, match="engine must be one of"):
        resolve_engine("fortran")


def test_without_a_compiler_the_default_is_numpy_and_compiled_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("OSTL_CACHE_DIR", str(tmp_path))   # nothing built here yet
    monkeypatch.setattr(ostl.compiled, "_available", None)
    monkeypatch.setattr(ostl.compiled, "_libraries", {})
    assert resolve_engine(None) == "numpy"
    with pytest.raises(BackendUnavailableError, match="no-such-compiler"):
        resolve_engine("compiled")


def test_every_kernel_is_declared_with_its_c_prototype():
    """ctypes passes an undeclared extra argument as a C int: a pointer would be cut to 32 bits.
    Every exported function's argtypes match its prototype's parameter count."""
    import re

    import ostl.compiled.adjoint
    import ostl.compiled.traces

    checked = 0
    for dtype in (np.float64, np.float32):
        libraries = {ostl.compiled.sweep.SOURCE: ostl.compiled.sweep.sweep_library(dtype),
                     ostl.compiled.traces.SOURCE: ostl.compiled.traces.traces_library(dtype),
                     ostl.compiled.adjoint.SOURCE: None, layer_kernel(LIF(), dtype).source: None}
        for source, library in libraries.items():
            for name, parameters in re.findall(r"^void (ostl_\w+)\(([^)]*)\)", source, flags=re.MULTILINE):
                if name == "ostl_layer_block":
                    function = layer_kernel(LIF(), dtype)._function
                elif name == "ostl_adjoint_sweep":
                    function = ostl.compiled.adjoint._function(dtype)
                else:
                    function = getattr(library, name)
                assert len(function.argtypes) == len(parameters.split(",")), name
                checked += 1
    assert checked == 12


def test_no_kernel_argument_is_a_temporary_array():
    """``address(a)`` keeps no reference to ``a``: an array made inside a kernel call's arguments
    (``address(np.empty(n))``) is freed before the kernel writes into it (heap corruption, seen as
    "malloc(): unaligned tcache chunk detected"). Every argument of ``address`` is a name."""
    import ast
    from pathlib import Path

    offenders = []
    for path in sorted(Path(ostl.compiled.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "address":
                if not all(isinstance(arg, ast.Name) for arg in node.args):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


# -- float32 (ostl.precision) ---------------------------------------------------------------------
def _float32_problem(seed=9, leak=0.8, recurrent=True, cell=None):
    rng = np.random.default_rng(seed)
    net = Network(12, [Layer(25, cell or ALIF(), recurrent=recurrent)], Readout(3, leak=leak))
    params = net.init_params(seed=seed, weight_scale=2.0)
    return net, params, poisson_input(rng, 260, 12), rng.normal(size=(260, 3))


def test_float32_runs_in_single_precision_throughout():
    """Every array of a float32 block is float32 (one float64 array would promote the rest)."""
    from ostl.blocked import forward_block
    from ostl.precision import cast

    net, params, x, _ = _float32_problem()
    for engine in ("numpy", "compiled"):
        carry = cast(net.initial_carry(NUMPY), np.float32)
        _, fw = forward_block(net, cast(params, np.float32), carry, x[:64].astype(np.float32), derivatives=True,
                              engine=engine)
        arrays = [fw.potentials, fw.outputs, *fw.layer_outputs, *fw.prev_outputs, *fw.slopes]
        arrays += [value for value in vars(fw.derivatives[0]).values()]
        assert all(a.dtype == np.float32 for a in arrays), engine


@pytest.mark.parametrize("rule", ["eprop", "ostl_no_h"])
def test_float32_engines_agree_and_stay_near_float64(rule):
    net, params, x, y = _float32_problem()
    exact = OnlineLearner(net, rule, params, engine="numpy").run(x, y)
    single = {engine: OnlineLearner(net, rule, params, engine=engine, dtype="float32").run(x, y)
              for engine in ("numpy", "compiled")}
    for name, grad in exact.grads.items():
        assert single["compiled"].grads[name].dtype == np.float64   # returned for the float64 optimiser
        assert relative_deviation(single["compiled"].grads[name], single["numpy"].grads[name]) < 1e-5, name
        deviation = relative_deviation(single["numpy"].grads[name], grad)
        assert 1e-9 < deviation < 1e-4, (name, deviation)   # single precision, and close
    assert single["compiled"].loss == pytest.approx(exact.loss, rel=1e-5)


def test_float32_bptt_and_forward():
    from ostl.bptt import bptt_sequence

    net, params, x, y = _float32_problem(cell=LIF(), leak=0.0)
    exact = bptt_sequence(net, params, x, y)
    single = bptt_sequence(net, params, x, y, dtype="float32")
    for name, grad in exact.grads.items():
        assert 1e-9 < relative_deviation(single.grads[name], grad) < 1e-4, name
    a, b = net.forward(params, x, y), net.forward(params, x, y, dtype="float32")
    assert 1e-12 < abs(b.loss - a.loss) / a.loss < 1e-5


def test_float32_is_refused_where_it_does_not_run():
    net, params, x, y = _float32_problem()
    with pytest.raises(ParameterError, match="float32.*mode must be 'deferred'"):
        OnlineLearner(net, "eprop", params, mode="online", optimizer=ostl.SGD(0.1), dtype="float32")
    learner = OnlineLearner(net, "eprop", params, dtype="float32")
    with pytest.raises(ParameterError, match="'float32' runs the blocked evaluation only"):
        learner.run(x, y, record=["output"])
    with pytest.raises(ParameterError, match="dtype must be one of"):
        OnlineLearner(net, "eprop", params, dtype="float16")
    with pytest.raises(ParameterError, match="coupled"):   # exact OSTL on a recurrent layer: step by step
        OnlineLearner(net, "ostl", params, dtype="float32")
