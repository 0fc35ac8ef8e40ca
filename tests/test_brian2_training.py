"""Training on the Brian2 backend follows the reference engine iteration by iteration."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("brian2")

from ostl import ParameterError, presets  # noqa: E402
from ostl.training import Trainer  # noqa: E402

from .helpers import relative_deviation  # noqa: E402

TASK = {"name": "pattern_generation", "steps": 300, "n_in": 50, "seed": 0}


@pytest.mark.parametrize("rule,mode,optimizer", [("ostl", "deferred", {"name": "adam", "lr": 0.01}),
                                                 ("eprop", "online", {"name": "sgd", "lr": 0.001}),
                                                 ("osttp", "deferred", {"name": "sgd", "lr": 0.01})])
def test_trainer_on_brian2_follows_the_reference(rule, mode, optimizer):
    net = presets.build_network(TASK, rule, hidden=20)
    runs = {}
    for backend, options in (("reference", None), ("brian2", {"target": "numpy"})):
        trainer = Trainer(TASK, net, rule, optimizer, mode=mode, seed=1, init=presets.INIT_DEFAULTS, backend=backend,
                          backend_options=options)
        trainer.train(3)
        runs[backend] = trainer
    for name, value in runs["reference"].params.items():
        assert relative_deviation(runs["brian2"].params[name], value) < 1e-9, name
    for a, b in zip(runs["reference"].history, runs["brian2"].history):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-9)


def test_cli_train_on_brian2_and_resume(tmp_path):
    common = ["--backend", "brian2", "--brian2-target", "numpy", "--steps", "100", "--hidden", "8", "--no-progress",
              "--no-plot"]
    first = subprocess.run([sys.executable, "-m", "ostl", "train", *common, "--iterations", "2", "--out",
                            str(tmp_path)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "final: iteration 2" in first.stdout
    resumed = subprocess.run([sys.executable, "-m", "ostl", "train", "--resume", str(tmp_path / "state.npz"),
                              "--iterations", "3", "--no-progress", "--no-plot"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert int(np.load(tmp_path / "state.npz")["iteration"]) == 3


def test_brian2_backend_refuses_what_it_cannot_run():
    net = presets.build_network(TASK, "ostl", hidden=8, recurrent=True)
    with pytest.raises(ParameterError, match="exact OSTL traces"):
        Trainer(TASK, net, "ostl", {"name": "sgd", "lr": 0.1}, backend="brian2")
    with pytest.raises(ParameterError, match="brian2 target must be one of"):
        Trainer(TASK, presets.build_network(TASK, "ostl", hidden=8), "ostl", {"name": "sgd", "lr": 0.1},
                backend="brian2", backend_options={"target": "gpu"})
    result = subprocess.run([sys.executable, "-m", "ostl", "train", "--brian2-target", "numpy", "--iterations", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--brian2-target needs --backend brian2" in result.stderr


def test_evidence_accumulation_with_softmax_batches_and_regulariser_on_brian2_follows_the_reference():
    """Issue 24: the classification task's network (recurrent ALIF, softmax readout with cross-entropy)
    trained in batches of 4 with the firing-rate regulariser (c_reg 300 towards 10 Hz, the task's
    default) on Brian2: the reference engine's run (losses, accuracy, regulariser values, weights)."""
    task = {"name": "evidence_accumulation", "n_cues": 1, "cue_steps": 10, "spacing_steps": 5, "delay_steps": 10,
            "recall_steps": 10, "seed": 0}
    net = presets.build_network(task, "eprop", hidden=8)
    assert net.readout.activation == "softmax" and net.layers[0].recurrent
    runs = {}
    for backend, options in (("reference", None), ("brian2", {"target": "numpy"})):
        trainer = Trainer(task, net, "eprop", {"name": "adam", "lr": 0.005}, seed=1, batch_size=4,
                          init=presets.init_for("evidence_accumulation"), backend=backend, backend_options=options,
                          regularisation={"c_reg": 300.0, "f_target": 0.01})
        initial = {name: value.copy() for name, value in trainer.params.items()}
        trainer.train(2)
        runs[backend] = trainer
    for name, value in runs["reference"].params.items():
        assert relative_deviation(runs["brian2"].params[name], value) < 1e-9, name
        assert np.abs(value - initial[name]).max() > 1e-6, name   # it learned
    for a, b in zip(runs["reference"].history, runs["brian2"].history):
        for key in ("loss", "accuracy", "regularisation_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-9), key
        assert a["regularisation_loss"] > 0
