"""`--rule bptt` trains through the same trainer, optimiser and checkpoints as every rule;
OSTL on one feed-forward SNU layer follows it step for step (its gradient is exact there)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ostl import presets
from ostl.errors import ParameterError
from ostl.tasks import make_task
from ostl.training import Trainer

pytest.importorskip("torch")


def _trainer(rule, **kwargs):
    task = make_task({"name": "pattern_generation", "steps": 80})
    network = presets.build_network(task, "ostl", hidden=10, recurrent=False)
    return Trainer(task, network, rule, {"name": "adam", "lr": 0.01}, seed=3, **kwargs)


def test_ostl_training_follows_bptt_training_on_a_feedforward_snu_layer(tmp_path):
    ostl, bptt = _trainer("ostl"), _trainer("bptt")
    ostl.train(6)
    bptt.train(3, checkpoint=tmp_path / "bptt.npz")
    bptt = Trainer.load(tmp_path / "bptt.npz")   # checkpoints and resume work for bptt too
    bptt.train(6)
    losses = np.array([[h["loss"] for h in t.history] for t in (ostl, bptt)])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    assert losses[1, -1] < losses[1, 0]
    for name in ostl.params:
        np.testing.assert_allclose(ostl.params[name], bptt.params[name], rtol=1e-6, atol=1e-12, err_msg=name)


def test_bptt_needs_deferred_updates_and_the_reference_engine():
    with pytest.raises(ParameterError, match="rule 'bptt' computes the gradient after the sequence"):
        _trainer("bptt", mode="online")
    pytest.importorskip("brian2")
    with pytest.raises(ParameterError, match="rule 'bptt' is the autodiff oracle"):
        _trainer("bptt", backend="brian2")


def test_summary_json_holds_the_final_metrics_and_the_curve(tmp_path):
    summary = tmp_path / "out" / "summary.json"
    run = subprocess.run([sys.executable, "-m", "ostl", "train", "--rule", "bptt", "--steps", "60", "--hidden", "6",
                          "--iterations", "3", "--no-progress", "--no-plot", "--out", tmp_path / "out",
                          "--summary-json", summary], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = json.loads(summary.read_text())
    assert data["status"] == "completed" and data["rule"]["name"] == "bptt" and data["iterations"] == 3
    assert [c["iteration"] for c in data["curve"]] == [0, 1, 2]
    assert set(data["final"]) == {"loss", data["metric"]} and data["final"]["loss"] == data["curve"][-1]["loss"]
    assert data["state"].endswith("state.npz") and data["seconds"] > 0
    diverged = subprocess.run([sys.executable, "-m", "ostl", "train", "--steps", "60", "--hidden", "6",
                               "--optimizer", "sgd", "--lr", "1e6", "--iterations", "40", "--no-progress",
                               "--no-plot", "--out", tmp_path / "div", "--summary-json", tmp_path / "div.json"],
                              capture_output=True, text=True)
    assert diverged.returncode == 3
    data = json.loads((tmp_path / "div.json").read_text())
    assert data["status"] == "diverged" and "training diverged at iteration" in data["message"]
