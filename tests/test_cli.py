"""The command line: gradient oracle contract, train/resume, one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ostl.cli import main
from ostl.problem import random_problem, save_problem

from .helpers import relative_deviation


@pytest.fixture
def problem(tmp_path):
    path = tmp_path / "problem.npz"
    save_problem(path, **random_problem(seed=1, T=120, n_in=4, n=5, n_out=2))
    return path


def _run(*args, cwd=None):
    """Run the installed console script as a user would."""
    return subprocess.run([sys.executable, "-m", "ostl", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("output,pseudo", [("step", "tanh"), ("step", "fast_sigmoid"), ("sigmoid", "tanh")])
def test_grad_ostl_equals_bptt(tmp_path, output, pseudo):
    path = tmp_path / "p.npz"
    save_problem(path, **random_problem(seed=2, T=150, output=output, pseudo=pseudo))
    assert main(["grad", str(path), "--rule", "bptt", "--out", str(tmp_path / "bptt.npz")]) == 0
    assert main(["grad", str(path), "--rule", "ostl", "--out", str(tmp_path / "ostl.npz")]) == 0
    ref, est = np.load(tmp_path / "bptt.npz"), np.load(tmp_path / "ostl.npz")
    assert set(ref.files) == {"loss", "dW", "dH", "db", "dW_out"}
    assert abs(float(est["loss"]) - float(ref["loss"])) <= 1e-12 * float(ref["loss"])
    for key in ("dW", "dH", "db", "dW_out"):
        assert relative_deviation(est[key], ref[key]) < 1e-9, key


def test_grad_matches_the_documented_equations(problem, tmp_path):
    """The file contract: s^t = W x + H y^{t-1} + d s^{t-1}(1 - y^{t-1}), y = h(s + b),
    E = sum 0.5 |W_out y - y*|^2 -- recomputed here independently of the engine."""
    data = np.load(problem)
    x, W, H, b, W_out, d = data["x"], data["W"], data["H"], data["b"], data["W_out"], float(data["decay"])
    s = np.zeros(W.shape[0])
    y = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(x.shape[0]):
        s = W @ x[t] + H @ y + d * s * (1 - y)
        y = (s + b > 0).astype(float)
        loss += 0.5 * np.sum((W_out @ y - data["y_target"][t]) ** 2)
    assert main(["grad", str(problem), "--rule", "bptt", "--out", str(tmp_path / "g.npz")]) == 0
    assert float(np.load(tmp_path / "g.npz")["loss"]) == pytest.approx(loss, rel=1e-12)


def test_compare_prints_every_rule(problem):
    result = _run("compare", problem)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[3:]}
    assert set(rows) == {"ostl", "ostl_no_h", "ostl_rnd", "osttp", "eprop"}
    assert max(rows["ostl"]) < 1e-9
    assert max(rows["eprop"][:3]) > 1e-3  # dW, dH, db of e-prop are approximate
    assert rows["eprop"][3] < 1e-9  # dW_out is exact for every rule


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("H"), "missing key(s) H"),
    (lambda d: d.update(W=np.zeros((3, 3))), "'W' must have shape (5, 4), got (3, 3)"),
    (lambda d: d.update(x=np.full((10, 4), np.nan)), "'x' contains NaN or inf"),
    (lambda d: d.update(decay=1.2), "decay must be in [0, 1), got 1.2"),
    (lambda d: d.update(pseudo="relu"), "'pseudo' must be 'tanh' or 'fast_sigmoid'"),
    (lambda d: d.update(b=np.zeros((5, 1))), "'b' must be 1-D"),
])
def test_malformed_problem_exits_2_with_one_line(tmp_path, mutate, message):
    data = random_problem(seed=3, T=10)
    mutate(data)
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in data.items()})
    result = _run("grad", path, "--rule", "ostl", "--out", tmp_path / "g.npz")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("args,message", [
    (["grad", "missing.npz", "--rule", "ostl", "--out", "g.npz"], "missing.npz: no such file"),
    (["grad", "x.npz", "--rule", "magic", "--out", "g.npz"], "invalid choice: 'magic'"),
    (["train", "--lr", "-1", "--iterations", "1"], "learning rate must be in (0, inf), got -1.0"),
    (["train", "--hidden", "0", "--iterations", "1"], "layer size must be >= 1, got 0"),
    (["train", "--cell", "{\"kind\": \"snu\", \"decay\": 2}", "--iterations", "1"], "decay must be in [0, 1)"),
    (["train", "--task", "store_recall", "--steps", "100"], "--steps applies to pattern_generation only"),
    (["train", "--resume", "nothing.npz"], "checkpoint nothing.npz does not exist"),
    (["train", "--nest-threads", "2", "--iterations", "1"], "--nest-threads needs --backend nest"),
    (["train", "--backend", "nest", "--nest-threads", "0", "--iterations", "1"], "--nest-threads must be >= 1, got 0"),
    (["train", "--backend", "nest", "--layers", "2", "--iterations", "1"],
     "2 hidden layers on NEST need each layer's learning signal directly from the readouts"),
    (["train", "--layers", "0", "--iterations", "1"], "--layers must be >= 1, got 0"),
    (["train", "--engine", "fortran", "--iterations", "1"], "invalid choice: 'fortran'"),
    (["train", "--dtype", "float16", "--iterations", "1"], "invalid choice: 'float16'"),
    (["train", "--dtype", "float32", "--mode", "online", "--iterations", "1"], "mode must be 'deferred'"),
    (["train", "--backend", "nest", "--engine", "numpy", "--iterations", "1"], "--engine needs --backend reference"),
])
def test_bad_command_lines_exit_2_with_one_line(tmp_path, args, message):
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "ostl-run").exists()  # nothing was started


def test_train_writes_plot_and_resumes_exactly(tmp_path):
    common = ["--task", "pattern_generation", "--steps", "100", "--hidden", "16", "--seed", "3", "--no-progress"]
    full = _run("train", *common, "--iterations", "6", "--out", tmp_path / "full")
    assert full.returncode == 0, full.stderr
    assert "final: iteration 6" in full.stdout
    assert (tmp_path / "full" / "learning_curve.png").stat().st_size > 10_000
    part = _run("train", *common, "--iterations", "3", "--out", tmp_path / "part")
    assert part.returncode == 0, part.stderr
    resumed = _run("train", "--resume", tmp_path / "part" / "state.npz", "--iterations", "6", "--no-progress",
                   "--no-plot")
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(tmp_path / "full" / "state.npz"), np.load(tmp_path / "part" / "state.npz")
    assert int(b["iteration"]) == 6
    for key in a.files:
        if key.startswith(("params/", "optimizer/")):
            assert np.array_equal(a[key], b[key]), key
    conflict = _run("train", "--resume", tmp_path / "part" / "state.npz", "--lr", "0.1")
    assert conflict.returncode == 2 and "drop --lr" in conflict.stderr


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "ostl")
    result = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout


def test_train_in_float32_and_both_engines(tmp_path):
    """ostl train --dtype float32 / --engine numpy run and learn what float64 on the compiled engine learns,
    to single precision (issue 23)."""
    common = ["--task", "pattern_generation", "--steps", "100", "--hidden", "16", "--seed", "3", "--no-progress",
              "--no-plot", "--iterations", "4"]
    finals = {}
    for name, extra in {"compiled64": [], "numpy64": ["--engine", "numpy"], "compiled32": ["--dtype", "float32"],
                        "numpy32": ["--dtype", "float32", "--engine", "numpy"]}.items():
        done = _run("train", *common, *extra, "--out", tmp_path / name, "--summary-json", tmp_path / f"{name}.json")
        assert done.returncode == 0, done.stderr
        finals[name] = json.loads((tmp_path / f"{name}.json").read_text())["final"]["loss"]
    assert finals["numpy64"] == pytest.approx(finals["compiled64"], rel=1e-10)
    assert finals["numpy32"] == pytest.approx(finals["compiled32"], rel=1e-4)
    assert finals["compiled32"] == pytest.approx(finals["compiled64"], rel=1e-3)
    assert finals["compiled32"] != finals["compiled64"]
