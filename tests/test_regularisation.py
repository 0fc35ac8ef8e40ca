"""Firing-rate regularisation (ostl.regularisation; the e-prop paper's Methods, NEST's c_reg and
f_target): exact against PyTorch's autodiff where the traces are exact, the same on every
evaluation path, NEST's shipped regularised losses from the reference engine, and refusals."""

import numpy as np
import pytest

from ostl import ALIF, LIF, SNU, Layer, Network, OnlineLearner, Readout
from ostl.errors import ParameterError
from ostl.gated import GatedLayer
from ostl.regularisation import FiringRateRegularisation

from .helpers import poisson_input, relative_deviation, short_training_run

# NEST 3.10, testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py, loss_nest_reference
# (c_reg = 300, f_target = 10 Hz); also pinned against NEST itself in tests/test_nest_native_eprop.py
NEST_REFERENCE_LOSS = [101.964356999041, 103.466731126205, 103.340607074771, 103.680244037686,
                       104.412775748752]
REGULARISER = FiringRateRegularisation(c_reg=50.0, f_target=0.05)
CELLS = {"lif": LIF(tau_m=10.0, v_th=0.5), "alif": ALIF(tau_m=10.0, tau_a=30.0, beta=0.3, v_th=0.5),
         "snu": SNU(decay=0.9)}


@pytest.mark.parametrize("leak", [0.0, 0.8], ids=["no-leak", "leaky"])
@pytest.mark.parametrize("recurrent", [False, True], ids=["feed-forward", "recurrent"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_exact_traces_give_the_autodiff_gradient_of_loss_plus_regulariser(cell, recurrent, leak):
    """One layer with exact OSTL traces (coupled when recurrent): the gradient of
    ``E + E_reg`` equals PyTorch's to rounding, on both evaluations (blocked, step by step)."""
    pytest.importorskip("torch")
    from ostl.bptt import bptt_gradients

    rng = np.random.default_rng(0)
    net = Network(6, [Layer(8, CELLS[cell], recurrent=recurrent)], Readout(2, leak=leak))
    params = net.check_params(net.init_params(seed=1, weight_scale=3.0))
    x = poisson_input(rng, 90, 6)
    y = rng.normal(size=(90, 2))
    loss, oracle = bptt_gradients(net, params, x, y, regularisation=REGULARISER)
    _, unregularised = bptt_gradients(net, params, x, y)
    share = max(relative_deviation(oracle[k], unregularised[k]) for k in oracle if k.startswith("layer0"))
    assert share > 0.01, "the regulariser must change the gradient (10 orders above the tolerance)"
    for block in (128, 1):
        result = OnlineLearner(net, "ostl", params, regularisation=REGULARISER, block=block).run(x, y)
        assert result.loss + result.regularisation_loss == pytest.approx(loss, rel=1e-13)
        for name, grad in oracle.items():
            assert relative_deviation(result.grads[name], grad) < 1e-12, (name, block)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("rule", ["eprop", "ostl_no_h", "osttp"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_every_evaluation_path_adds_the_same_regulariser(cell, rule, engine):
    """Blocked (both engines, blocks splitting the sequence) and step by step agree, two
    regularised layers, neuron parameters trainable, a leaky readout."""
    rng = np.random.default_rng(1)
    net = Network(5, [Layer(9, CELLS[cell], recurrent=True), Layer(7, CELLS[cell])], Readout(3, leak=0.7))
    params = net.init_params(seed=2, weight_scale=3.0)
    x = poisson_input(rng, 70, 5)
    y = rng.normal(size=(70, 3))
    step = OnlineLearner(net, rule, params, regularisation=REGULARISER, block=1).run(x, y)
    plain = OnlineLearner(net, rule, params, block=1).run(x, y)
    assert step.regularisation_loss > 0
    for block in (128, 16):
        blocked = OnlineLearner(net, rule, params, regularisation=REGULARISER, block=block, engine=engine).run(x, y)
        assert blocked.regularisation_loss == pytest.approx(step.regularisation_loss, rel=1e-13)
        for name, grad in step.grads.items():
            assert relative_deviation(blocked.grads[name], grad) < 1e-11, (name, block)
            if name.startswith("layer"):
                assert not np.allclose(grad, plain.grads[name]), name


def test_reference_engine_reproduces_nests_regularised_losses():
    """NEST's e-prop sine-wave regression with c_reg = 300 towards 10 Hz (the losses NEST's
    test-suite ships): the reference engine's e-prop with the regulariser, in NEST's
    parametrisation (nestml_models.native_eprop), gives them to rounding."""
    from nestml_models import native_eprop

    run = native_eprop.run_reference(n_iter=5, c_reg=300.0)
    np.testing.assert_allclose(run["loss"], NEST_REFERENCE_LOSS, rtol=1e-12)
    unregularised = native_eprop.run_reference(n_iter=2)
    assert abs(unregularised["loss"][1] - NEST_REFERENCE_LOSS[1]) > 1.0   # the regulariser matters here


def test_gradient_descent_on_the_regulariser_moves_rates_towards_the_target():
    """e-prop's regulariser alone (readout weights zero and a zero target: no task error)
    brings the rates towards 20 Hz (measured: E_reg 1.02 -> 0.20 in 20 updates)."""
    rng = np.random.default_rng(3)
    net = Network(10, [Layer(20, LIF(tau_m=10.0, v_th=1.0), recurrent=True)], Readout(2))
    params = net.init_params(seed=4, weight_scale=1.5)
    params["readout.W"] = np.zeros_like(params["readout.W"])
    x = poisson_input(rng, 200, 10)
    y = np.zeros((200, 2))
    regulariser = FiringRateRegularisation.from_hz(c_reg=1.0, f_target_hz=20.0)
    values = []
    for _ in range(20):
        learner = OnlineLearner(net, "eprop", params, regularisation=regulariser, trainable=["layer0.W", "layer0.H"])
        result = learner.run(x, y)
        assert result.loss == 0.0
        values.append(result.regularisation_loss)
        for name, grad in result.grads.items():
            params[name] = params[name] - 0.04 * grad
    assert values[-1] < 0.3 * values[0], values


def test_bad_regularisation_is_refused_naming_the_parameter():
    net = Network(3, [Layer(4, LIF(), recurrent=True)], Readout(2))
    params = net.init_params()
    with pytest.raises(ParameterError, match=r"c_reg must be in \[0, inf\)"):
        FiringRateRegularisation(-1.0, 0.01)
    with pytest.raises(ParameterError, match=r"f_target must be in \[0, 1\]"):
        FiringRateRegularisation(1.0, 2.0)
    with pytest.raises(ParameterError, match=r"f_target \(Hz\) must be in \[0, 1000\]"):
        FiringRateRegularisation.from_hz(1.0, 5000.0)
    with pytest.raises(ParameterError, match="regularisation must be"):
        OnlineLearner(net, "eprop", params, regularisation={"c": 1.0})
    from ostl.optim import SGD

    with pytest.raises(ParameterError, match="mode must be 'deferred'"):
        OnlineLearner(net, "eprop", params, mode="online", optimizer=SGD(lr=0.1),
                      regularisation={"c_reg": 1.0, "f_target": 0.01})
    gated = Network(3, [GatedLayer(4, "lstm")], Readout(2))
    with pytest.raises(ParameterError, match="gated layers"):
        OnlineLearner(gated, "ostl", gated.init_params(), regularisation={"c_reg": 1.0, "f_target": 0.01})
    assert OnlineLearner(net, "eprop", params, regularisation={"c_reg": 0.0, "f_target": 0.01}).regularisation is None


PATTERN = {"name": "pattern_generation", "n_in": 8, "n_out": 2, "steps": 120, "seed": 0}


def _trainer(rule="eprop", **options):
    from ostl.training import Trainer

    net = Network(8, [Layer(12, LIF(tau_m=10.0, v_th=0.5), recurrent=True)], Readout(2, leak=0.8))
    return Trainer(PATTERN, net, rule, {"name": "adam", "lr": 0.005}, seed=0,
                   regularisation={"c_reg": 5.0, "f_target": 0.02}, **options)


def test_training_with_the_regulariser_saves_and_resumes_bit_for_bit(tmp_path):
    from ostl.training import Trainer

    reference = _trainer()
    reference.train(6)
    first = _trainer()
    first.train(3)
    first.save(tmp_path / "state.npz")
    resumed = Trainer.load(tmp_path / "state.npz")
    assert resumed.regularisation == reference.regularisation
    resumed.train(6)
    for name in reference.params:
        assert np.array_equal(resumed.params[name], reference.params[name]), name
    assert resumed.history == reference.history
    assert all(record["regularisation_loss"] > 0 for record in reference.history)


def test_bptt_trains_with_the_regulariser_through_autodiff():
    pytest.importorskip("torch")
    from ostl.bptt import bptt_gradients, bptt_sequence

    trainer = _trainer("bptt")
    trainer.train(2)
    assert trainer.history[-1]["regularisation_loss"] > 0
    rng = np.random.default_rng(5)
    net, params = trainer.network, trainer.params
    x, y = poisson_input(rng, 60, 8), rng.normal(size=(60, 2))
    result = bptt_sequence(net, params, x, y, regularisation=trainer.regularisation)
    loss, oracle = bptt_gradients(net, params, x, y, regularisation=trainer.regularisation)
    assert result.loss + result.regularisation_loss == pytest.approx(loss, rel=1e-13)
    assert result.regularisation_loss > 0
    for name, grad in oracle.items():
        np.testing.assert_array_equal(result.grads[name], grad)
    with pytest.raises(ParameterError, match="firing-rate regularisation"):
        bptt_sequence(net, params, x, y, dtype="float32", regularisation=trainer.regularisation)


def test_command_line_regulariser_and_its_refusals(tmp_path):
    import json

    done = short_training_run(tmp_path, "--rule", "eprop", "--c-reg", "2", "--f-target", "15", "--summary-json",
                              str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["regularisation"] == {"c_reg": 2.0, "f_target": 0.015}
    assert all(entry["regularisation_loss"] > 0 for entry in summary["curve"])
    for argv, message in ((("--c-reg", "-1"), "--c-reg must be in [0, inf)"),
                          (("--c-reg", "1", "--f-target", "2000"), "--f-target must be in [0, 1000]"),
                          (("--f-target", "5"), "--f-target needs --c-reg"),
                          (("--c-reg", "1", "--mode", "online"), "mode must be 'deferred'"),
                          (("--c-reg", "1", "--backend", "spinnaker"), "not available on the spinnaker backend")):
        done = short_training_run(tmp_path, *argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, (argv, done.stderr)


@pytest.mark.parametrize("cell", list(CELLS))
def test_brian2_adds_the_same_regulariser(cell):
    """Brian2 sums y^t and the unfiltered e^t in the neurons and synapses and adds r_j sum_t e^t
    after the trial: the reference engine's gradient (neuron parameters too), two layers."""
    pytest.importorskip("brian2")
    from brian2_ostl import Brian2Network

    rng = np.random.default_rng(0)
    net = Network(5, [Layer(7, CELLS[cell], recurrent=True), Layer(6, CELLS[cell])], Readout(3, leak=0.7))
    params = net.init_params(seed=2, weight_scale=3.0)
    x = poisson_input(rng, 60, 5)
    y = rng.normal(size=(60, 3))
    reference = OnlineLearner(net, "eprop", params, regularisation=REGULARISER).run(x, y)
    brian2 = Brian2Network(net, "eprop", params, steps=60, target="numpy", regularisation=REGULARISER).run(x, y)
    assert brian2.regularisation_loss == pytest.approx(reference.regularisation_loss, rel=1e-13)
    for name, grad in reference.grads.items():
        assert relative_deviation(brian2.grads[name], grad) < 1e-12, name


def test_the_trainer_regularises_on_brian2_as_on_the_reference_engine():
    pytest.importorskip("brian2")
    reference = _trainer()
    reference.train(3)
    brian2 = _trainer(backend="brian2", backend_options={"target": "numpy"})
    brian2.train(3)
    for name, value in reference.params.items():
        np.testing.assert_allclose(brian2.params[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    assert [r["regularisation_loss"] for r in brian2.history] == pytest.approx(
        [r["regularisation_loss"] for r in reference.history], rel=1e-12)


@pytest.mark.parametrize("simulator", ["brian2", "nest"])
def test_a_pynn_script_regularises_like_the_reference_engine(simulator):
    """examples/pynn_pattern_generation.py with ``c_reg`` on the OSTLSynapse, on pyNN.brian2 and
    pyNN.nest: the regulariser enters the gradient at every trial's end inside the simulation
    (trial_duration); the weights follow the reference engine's regularised training."""
    import importlib
    import os
    import sys

    pytest.importorskip(f"pyNN.{simulator}")
    sim = importlib.import_module(f"pyNN.{simulator}")

    from ostl import Adam

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import pynn_pattern_generation as example

    iterations, c_reg, f_target_hz = 3, 20.0, 5.0
    result = example.build_and_run(sim, iterations=iterations, steps=150, c_reg=c_reg, f_target=f_target_hz)
    regulariser = FiringRateRegularisation.from_hz(c_reg, f_target_hz)
    net = example.reference_network(50, 32, 3)
    learner = OnlineLearner(net, "ostl", result["initial_params"], trainable=["layer0.W", "readout.W"],
                            regularisation=regulariser)
    plain = {k: v.copy() for k, v in result["initial_params"].items()}
    optimizer, plain_optimizer = Adam(0.01), Adam(0.01)
    # on pyNN.nest the last PAUSE steps of every trial_duration are NEST's pause (the neurons rest):
    # its trial, and so the regulariser's rate, is the steps before it
    trial = slice(0, 150 - example.PAUSE if simulator == "nest" else 150)
    x, target, mask = result["x"][trial], result["target"][trial], result["mask"][trial]
    for _ in range(iterations):
        run = learner.run(x, target, mask)
        assert run.regularisation_loss > 0
        optimizer.step(learner.params, run.grads)
        unregularised = OnlineLearner(net, "ostl", plain, trainable=["layer0.W", "readout.W"]).run(x, target, mask)
        plain_optimizer.step(plain, unregularised.grads)
    assert relative_deviation(result["W"], learner.params["layer0.W"]) < 1e-6
    assert relative_deviation(result["W_out"], learner.params["readout.W"]) < 1e-6
    assert relative_deviation(result["W"], plain["layer0.W"]) > 1e-4, "the regulariser must change the weights"


def test_pynn_refuses_bad_regularisation():
    pytest.importorskip("pyNN")
    import pyNN_ostl.standardmodels as sm

    with pytest.raises(ParameterError, match=r"c_reg must be in \[0, inf\)"):
        sm.EPropSynapse(c_reg=-1.0, trial_duration=100)
    with pytest.raises(ParameterError, match="mode must be 'deferred'"):
        sm.EPropSynapse(c_reg=1.0, mode="online")
    assert sm.EPropSynapse(c_reg=0.0, trial_duration=100).regularisation is None
    assert sm.EPropSynapse(c_reg=2.0, f_target=20.0, trial_duration=100).regularisation == \
        FiringRateRegularisation(2.0, 0.02)


def test_evidence_accumulation_regularises_by_default_where_the_backend_can(tmp_path):
    """The task's default (NEST's example: c_reg 300 towards 10 Hz) without --c-reg on the backends
    that have the regulariser; --c-reg 0 switches it off; a backend without it runs without."""
    import json
    import subprocess
    import sys

    short = ["--task", "evidence_accumulation", "--n-cues", "1", "--cue-steps", "10", "--spacing-steps", "5",
             "--delay-steps", "10", "--recall-steps", "10", "--hidden", "8", "--batch-size", "1", "--iterations", "1",
             "--no-progress", "--no-plot", "--rule", "eprop"]
    summaries = {}
    for name, extra in (("default", []), ("off", ["--c-reg", "0"]), ("spinnaker", ["--backend", "spinnaker",
                                                                                     "--optimizer", "sgd"])):
        done = subprocess.run([sys.executable, "-m", "ostl", "train", *short, *extra, "--out", str(tmp_path / name),
                               "--summary-json", str(tmp_path / f"{name}.json")], capture_output=True, text=True,
                              cwd=tmp_path, timeout=600)
        assert done.returncode == 0, (name, done.stderr)
        summaries[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert summaries["default"]["regularisation"] == {"c_reg": 300.0, "f_target": 0.01}
    assert summaries["default"]["curve"][0]["regularisation_loss"] > 0
    assert "regularisation" not in summaries["off"] and "regularisation" not in summaries["spinnaker"]
