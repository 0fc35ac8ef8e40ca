"""Reliability: a diverging run stops cleanly (or skips the bad update), checkpoints name
what is wrong with them and survive a kill during the write, integer options are checked."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ostl.errors import DivergenceError, ParameterError, ProblemFileError
from ostl.training import CHECKPOINT_VERSION, Trainer, checkpoint_checksum

SMALL = ["--task", "pattern_generation", "--steps", "60", "--hidden", "8", "--no-progress", "--no-plot"]


def _ostl(*args, env=None, cwd=None):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "ostl", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=900)


def _one_line_error(run, code):
    assert run.returncode == code, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    lines = [line for line in run.stderr.splitlines() if line.startswith("ostl:")]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    return lines[0]


def test_an_overflowing_learning_rate_stops_with_exit_3_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    run = _ostl("train", *SMALL, "--optimizer", "sgd", "--lr", "1e6", "--iterations", "30", "--checkpoint-every", "1",
                "--out", out)
    line = _one_line_error(run, 3)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr   # no warnings either
    assert "training diverged at iteration" in line and "non-finite" in line and "rule ostl" in line
    assert "optimizer name sgd, lr 1000000.0" in line
    iteration = int(line.split("at iteration ")[1].split(",")[0])
    assert f"the last checkpoint, {out / 'state.npz'} (iteration {iteration})" in line
    trainer = Trainer.load(out / "state.npz")   # intact, loadable, finite
    assert trainer.iteration == iteration
    assert all(np.all(np.isfinite(v)) for v in trainer.params.values())


@pytest.mark.parametrize("backend", ["reference", "brian2", "nest"])
def test_nan_at_a_chosen_step_stops_every_backend_at_that_iteration(tmp_path, backend):
    if backend == "brian2":
        pytest.importorskip("brian2")
        extra = ["--backend", "brian2", "--brian2-target", "numpy"]
    elif backend == "nest":
        pytest.importorskip("nest")
        extra = ["--backend", "nest"]
    else:
        extra = []
    out = tmp_path / "run"
    run = _ostl("train", *SMALL, *extra, "--iterations", "6", "--checkpoint-every", "1", "--out", out,
                env={"OSTL_INJECT_NAN": "3:17"})
    line = _one_line_error(run, 3)
    assert "training diverged at iteration 3, step 17: non-finite " in line, line
    assert ("non-finite loss" if backend == "reference" else "non-finite readout output") in line, line
    assert f"backend {backend}" in line
    trainer = Trainer.load(out / "state.npz")
    assert trainer.iteration == 3 and len(trainer.history) == 3
    assert all(np.all(np.isfinite(v)) for v in trainer.params.values())


def test_skip_discards_the_diverged_update_and_counts_it(tmp_path):
    out = tmp_path / "run"
    run = _ostl("train", *SMALL, "--iterations", "6", "--out", out, "--on-divergence", "skip",
                env={"OSTL_INJECT_NAN": "2:5"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "skipped: 1 diverged iterations (updates discarded): 2" in run.stdout
    trainer = Trainer.load(out / "state.npz")
    assert trainer.iteration == 6 and trainer.skipped == [2] and len(trainer.history) == 5
    assert [h["iteration"] for h in trainer.history] == [0, 1, 3, 4, 5]
    assert all(np.all(np.isfinite(v)) for v in trainer.params.values())


def test_skip_leaves_weights_and_optimiser_exactly_as_before_the_iteration(monkeypatch):
    from ostl import presets
    from ostl.tasks import make_task

    task = make_task({"name": "pattern_generation", "steps": 40})
    network = presets.build_network(task, "ostl", hidden=6)
    trainer = Trainer(task, network, "ostl", {"name": "adam", "lr": 0.01}, on_divergence="skip")
    trainer.run_iteration()
    before = {k: v.copy() for k, v in trainer.params.items()}
    m_before = {k: v.copy() for k, v in trainer.optimizer.m.items()}
    monkeypatch.setenv("OSTL_INJECT_NAN", "1:0")
    assert trainer.run_iteration() is None
    assert trainer.skipped == [1] and trainer.iteration == 2 and trainer.optimizer.t == 1
    for k in before:
        assert np.array_equal(trainer.params[k], before[k]) and np.array_equal(trainer.optimizer.m[k], m_before[k])
    monkeypatch.setenv("OSTL_INJECT_NAN", "2:0")
    stop = Trainer(task, network, "ostl", {"name": "adam", "lr": 0.01}, params=before)
    stop.iteration = 2
    with pytest.raises(DivergenceError, match="iteration 2, step 0: non-finite loss"):
        stop.run_iteration()
    assert all(np.array_equal(stop.params[k], before[k]) for k in before)


# -- checkpoints --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    run = _ostl("train", *SMALL, "--iterations", "2", "--out", out)
    assert run.returncode == 0, run.stderr[-2000:]
    return out / "state.npz"


def _rewrite(source, target, change):
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    arrays["checksum"] = np.array(checkpoint_checksum(arrays))
    np.savez(target, **arrays)


def _truncated(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


def _corrupted(src, dst):
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)   # inside an entry (zeros instead of data)
    dst.write_bytes(bytes(data))


def _tampered(src, dst):   # an entry changed, the checksum left as it was
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["params/readout.W"] = arrays["params/readout.W"] + 1.0
    np.savez(dst, **arrays)


def _wrong_version(src, dst):
    _rewrite(src, dst, lambda a: a.update(format_version=np.array(99)))


def _wrong_network(src, dst):
    _rewrite(src, dst, lambda a: a.update({"params/readout.W": np.zeros((3, 5))}))


def _not_a_checkpoint(src, dst):
    np.savez(dst, x=np.zeros(3))


def _text(src, dst):
    dst.write_text("not a checkpoint\n")


@pytest.mark.parametrize("damage,message", [
    (_truncated, "is truncated"),
    (_corrupted, "is corrupted"),
    (_tampered, "is corrupted: its checksum does not match"),
    (_wrong_version, "has format version 99; this ostl reads versions 1, 2"),
    (_wrong_network, "holds the weights of another network: readout.W has shape (3, 5)"),
    (_not_a_checkpoint, "is not an ostl training checkpoint"),
    (_text, "is not an ostl training checkpoint (not an .npz archive)"),
])
def test_each_damaged_checkpoint_is_named_for_what_it_is(checkpoint, tmp_path, damage, message):
    damaged = tmp_path / "state.npz"
    damage(checkpoint, damaged)
    with pytest.raises(ProblemFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Trainer.load(damaged)
    run = _ostl("train", "--resume", damaged, "--no-progress", "--no-plot")
    assert message in _one_line_error(run, 2)


def test_checkpoints_carry_a_version_and_a_checksum(checkpoint):
    with np.load(checkpoint) as data:
        assert int(data["format_version"]) == CHECKPOINT_VERSION
        arrays = {k: data[k] for k in data.files}
    assert str(arrays["checksum"]) == checkpoint_checksum(arrays)


def test_a_non_finite_state_is_never_written(tmp_path):
    from ostl import presets
    from ostl.tasks import make_task

    task = make_task({"name": "pattern_generation", "steps": 30})
    trainer = Trainer(task, presets.build_network(task, "ostl", hidden=4), "ostl", {"name": "sgd", "lr": 0.1})
    trainer.save(tmp_path / "state.npz")
    good = (tmp_path / "state.npz").read_bytes()
    trainer.params["readout.W"][0, 0] = np.nan
    with pytest.raises(DivergenceError, match="refusing to save a non-finite state"):
        trainer.save(tmp_path / "state.npz")
    assert (tmp_path / "state.npz").read_bytes() == good


WRITER = r"""
import sys
import numpy as np
from ostl import presets
from ostl.tasks import make_task
from ostl.training import Trainer
task = make_task({"name": "pattern_generation", "steps": 30})
trainer = Trainer(task, presets.build_network(task, "ostl", hidden=400), "ostl", {"name": "adam", "lr": 0.01})
print("ready", flush=True)
while True:
    trainer.iteration += 1
    trainer.save(sys.argv[1])
"""


def test_a_kill_during_the_write_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "state.npz"
    rng = np.random.default_rng(0)
    for _ in range(4):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.3 + rng.random() * 0.4)   # several writes of a ~2 MB state
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        trainer = Trainer.load(path)   # whatever moment the kill hit, the file is a complete state
        assert trainer.iteration >= 1
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".partial")] == ["state.npz"]


# -- integer options ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["train", "--batch-size", "0", "--iterations", "1"], "--batch-size must be >= 1, got 0"),
    (["train", "--checkpoint-every", "0", "--iterations", "1"], "--checkpoint-every must be >= 1, got 0"),
    (["train", "--iterations", "-1"], "--iterations must be >= 0, got -1"),
    (["train", "--steps", "0", "--iterations", "1"], "--steps must be >= 1, got 0"),
    (["train", "--seed", "-3", "--iterations", "1"], "--seed must be >= 0, got -3"),
    (["train", "--batch-size", "two"], "argument --batch-size: invalid int value: 'two'"),
    (["make-problem", "p.npz", "--n", "0"], "--n must be >= 1, got 0"),
    (["make-problem", "p.npz", "--steps", "-5"], "--steps must be >= 1, got -5"),
])
def test_integer_options_are_checked(tmp_path, args, message):
    run = _ostl(*args, cwd=tmp_path)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 or "usage:" in run.stderr


@pytest.mark.parametrize("keyword,value,message", [
    ("batch_size", 0, "batch_size must be >= 1, got 0"),
    ("batch_size", 1.5, "batch_size must be an integer, got 1.5"),
    ("seed", -1, "seed must be >= 0, got -1"),
    ("on_divergence", "ignore", "on_divergence must be one of 'skip', 'stop', got 'ignore'"),
])
def test_the_python_api_checks_the_same(keyword, value, message):
    from ostl import presets
    from ostl.tasks import make_task

    task = make_task({"name": "pattern_generation", "steps": 30})
    with pytest.raises(ParameterError, match=message):
        Trainer(task, presets.build_network(task, "ostl", hidden=4), "ostl", {"name": "sgd", "lr": 0.1},
                **{keyword: value})
    with pytest.raises(ParameterError, match="iterations must be >= 0"):
        Trainer(task, presets.build_network(task, "ostl", hidden=4), "ostl", {"name": "sgd", "lr": 0.1}).train(-2)


def test_history_is_json(checkpoint):
    with np.load(checkpoint) as data:
        assert json.loads(str(data["history"]))[0]["iteration"] == 0
