"""One description per cell: the symbolic derivation (ostl.symbolic) agrees with the fast
NumPy derivatives, and the simulators' code is generated from it -- a changed equation in
ostl/cells.py reaches the reference engine, the BPTT oracle, Brian2 and NEST alike."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ostl import symbolic
from ostl.cells import ALIF, LIF, SNU, Cell, SoftResetSNU

ROOT = pathlib.Path(__file__).resolve().parent.parent

CELLS = {
    "snu-tanh": SNU(decay=0.8, pseudo="tanh"),
    "snu-relu-fast": SNU(decay=0.7, activation="relu", pseudo={"name": "fast_sigmoid", "slope": 7.0}),
    "snu-leaky-pwl": SNU(decay=0.6, activation={"name": "leaky_relu", "alpha": 0.05}, pseudo="piecewise_linear"),
    "ssnu-sigmoid": SNU(decay=0.4, activation="relu", output="sigmoid"),
    "soft-snu": SoftResetSNU(decay=0.9, pseudo={"name": "fast_sigmoid", "slope": 3.0}, threshold=0.8),
    "soft-snu-sigmoid": SoftResetSNU(decay=0.8, output="sigmoid"),
    "lif": LIF(tau_m=15.0, v_th=0.5),
    "lif-tanh": LIF(tau_m=25.0, v_th=0.7, pseudo="tanh"),
    "alif": ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.5),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_fast_numpy_derivatives_equal_the_symbolic_ones(name):
    cell = CELLS[name]
    rng = np.random.default_rng(11)
    n = 400
    state_prev = tuple(rng.normal(0.3, 1.0, n) for _ in range(cell.state_size))
    y_prev = (rng.random(n) < 0.4).astype(float)
    current = rng.normal(0.0, 1.5, n)
    param = rng.normal(-0.2, 0.5, n) if cell.neuron_param == "bias" else (
        rng.uniform(0.5, 1.5, n) if cell.neuron_param else None)
    state, y = cell.step(__import__("ostl.ops", fromlist=["NUMPY"]).NUMPY, state_prev, y_prev, current, param)
    fast = type(cell).derivatives(cell, state_prev, y_prev, current, state, y, param)
    slow = symbolic.numpy_derivatives(cell)(state_prev, y_prev, current, state, y, param)
    for field in ("state_decay", "reset_path", "adaptation_path", "input_gain", "output_gain", "ds_dneuron_param",
                  "dy_dneuron_param"):
        a, b = getattr(fast, field), getattr(slow, field)
        assert a.shape == b.shape, field
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=field)


def test_a_cell_without_handwritten_derivatives_learns_exactly_like_bptt():
    """The generic derivatives (Cell.derivatives) serve any cell written as update/output:
    OSTL on one such layer equals autodiff BPTT."""
    pytest.importorskip("torch")
    from ostl import Layer, Network, Readout
    from ostl.bptt import bptt_gradients
    from ostl.online import OnlineLearner

    class Adaptive(Cell):   # a new cell: leaky integrator whose spike also decays the membrane
        kind = "adaptive_test"
        state_names = ("v",)
        constants = ("alpha", "v_th")
        alpha, v_th = 0.9, 0.6

        def update(self, ops, state, y_prev, current, neuron_param=None):
            (v,) = state
            return (self.alpha * v * (1.0 - 0.25 * y_prev) + current - self.v_th * y_prev,)

        def output_value(self, ops, state, neuron_param=None):
            (v,) = state
            return ops.heaviside((v - self.v_th) / self.v_th, LIF().pseudo)

        def spec(self):
            return {"kind": self.kind}

    rng = np.random.default_rng(2)
    net = Network(5, [Layer(7, Adaptive(), recurrent=True)], Readout(3, leak=0.5))
    params = net.init_params(seed=3, weight_scale=2.5)
    x = (rng.random((120, 5)) < 0.3).astype(float)
    target = rng.normal(size=(120, 3))
    ostl = OnlineLearner(net, "ostl", params).run(x, target)
    loss, grads = bptt_gradients(net, params, x, target)
    assert np.isclose(ostl.loss, loss, rtol=1e-12)
    for key in grads:
        np.testing.assert_allclose(ostl.grads[key], grads[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert np.abs(grads["layer0.W"]).max() > 1e-3


def test_generated_code_uses_one_name_per_factor():
    from nestml_models import generate

    pytest.importorskip("brian2")
    from brian2_ostl.cells import translate_cell

    alif = translate_cell(ALIF(), "exact")
    assert alif.jacobian_names == (("jacobian_vv", "jacobian_va"), ("jacobian_av", "jacobian_aa"))
    # e-prop drops the reset path: dv/da through the reset is the constant 0
    assert translate_cell(ALIF(), "eprop").jacobian_names[0] == ("jacobian_vv", "0.0")
    assert alif.output_gain_names == ("pseudo_derivative", "pseudo_derivative_a")
    assert alif.input_gain_names == ("1.0", "0.0")
    code = generate.cell_code("alif_neuron")
    for name in ("jacobian_vv", "jacobian_va", "jacobian_av", "jacobian_aa", "pseudo_derivative_a"):
        assert f"{name} = " in code["step"] and f"{name} real = 0" in code["factors"]
    snu = generate.render("snu_neuron")
    assert 'pseudo string = "tanh"' in snu and "[[decay >= 0 and decay < 1]]" in snu


CHANGED_TEST = r'''
import sys, pathlib
import ostl, brian2_ostl.cells, nestml_models.generate
here = pathlib.Path(sys.argv[1])
assert pathlib.Path(ostl.__file__).is_relative_to(here), ostl.__file__   # the changed copy is the one used
from ostl.cells import LIF
update = brian2_ostl.cells.translate_cell(LIF(), "exact").update()
nestml = nestml_models.generate.render("lif_neuron")
assert "0.25" in update and "0.25" in nestml, (update, nestml)
print("generated code follows")
'''


@pytest.mark.skipif(os.environ.get("OSTL_SKIP_SLOW_BUILDS") == "1", reason="OSTL_SKIP_SLOW_BUILDS=1")
def test_every_backend_follows_a_changed_cell_equation(tmp_path):
    """Copy the packages and the equality tests, change the LIF's update in the copy (a
    spike now also shrinks the membrane: a new term in the state, the Jacobian and the
    reset path) and delete its hand-written derivatives: the copy's own tests -- NEST's
    generated model, Brian2's generated statements and OSTL == BPTT -- pass against the
    changed reference, and the changed cell does behave differently."""
    for package in ("ostl", "brian2_ostl", "nestml_models", "tests"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    cells = tmp_path / "ostl" / "cells.py"
    text = cells.read_text()
    old = "return (self.alpha * v_prev + current - self.v_th * y_prev,)"
    assert text.count(old) == 1
    text = text.replace(old, "return (self.alpha * v_prev * (1.0 - 0.25 * y_prev) + current - self.v_th * y_prev,)")
    lif = text.index("class LIF(Cell):")
    fast = text.index("    def derivatives(", lif)
    text = text[:fast] + "    def _handwritten_derivatives_unused(" + text[fast + len("    def derivatives("):]
    cells.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), OSTL_CACHE_DIR=str(tmp_path / "cache"))
    check = subprocess.run([sys.executable, "-c", CHANGED_TEST, str(tmp_path)], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    selection = ["tests/test_bptt_equivalence.py", "-k", "lif",
                 "tests/test_nest_models.py::test_nestml_neurons_follow_the_reference[lif-eprop-recurrent]",
                 "tests/test_brian2_equality.py::test_numpy_target_equals_reference"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout.splitlines()[-1], run.stdout[-2000:]
    # the change is real: the copy's LIF spikes differently from ours
    probe = ("import numpy as np; from ostl import LIF, Layer, Network, Readout; "
             "net = Network(4, [Layer(6, LIF(tau_m=15.0, v_th=0.5), recurrent=True)], Readout(2)); "
             "p = net.init_params(seed=1, weight_scale=3.0); "
             "x = (np.random.default_rng(0).random((200, 4)) < 0.3) * 1.0; "
             "print(int(net.forward(p, x, np.zeros((200, 2))).layer_outputs[0].sum()))")
    changed = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    original = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert changed.returncode == 0 and original.returncode == 0, changed.stderr + original.stderr
    assert changed.stdout.strip() != original.stdout.strip()
