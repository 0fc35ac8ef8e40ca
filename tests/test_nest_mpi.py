"""NEST under MPI (issue 22): two processes learn what one process with two threads learns (the same
two virtual processes: NEST's results depend on the number of virtual processes, not on how they
are spread over processes) and what the reference engine learns; checkpoints and --resume work
across processes.

These tests need a NEST built with MPI (``make nest-mpi``; run with ``make test-mpi``); with the
pip wheel (no MPI) they are skipped with one line.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
nest = pytest.importorskip("nest")
if not nest.build_info.get("have_mpi"):
    pytest.skip("this NEST has no MPI (make nest-mpi; make test-mpi)", allow_module_level=True)
if shutil.which("mpirun") is None:
    pytest.skip("mpirun not found (apt-get install openmpi-bin)", allow_module_level=True)

#: OpenMPI refuses root without these; two slots on a two-core machine
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def _run(command, cwd, ranks=None, timeout=1800):
    env = dict(os.environ, PYNEST_QUIET="1", **MPI_ENV)
    if ranks:
        command = ["mpirun", "-np", str(ranks), "--bind-to", "none", *command]
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return done


def _weights(path):
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _assert_equal(a, b, names, rtol):
    for name in names:
        scale = np.abs(a[name]).max()
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=rtol * scale, err_msg=name)


def test_the_pynest_example_learns_the_same_weights_on_two_processes(tmp_path):
    script = ROOT / "examples" / "nest_pattern_generation.py"
    _run([sys.executable, script, "--iterations", "12", "--save", tmp_path / "mpi.npz", "--plot",
          tmp_path / "mpi.png"], tmp_path, ranks=2)
    _run([sys.executable, script, "--iterations", "12", "--threads", "2", "--save", tmp_path / "threads.npz",
          "--plot", tmp_path / "threads.png"], tmp_path)
    mpi, threads = _weights(tmp_path / "mpi.npz"), _weights(tmp_path / "threads.npz")
    _assert_equal(mpi, threads, ["layer0.W", "layer0.H", "readout.W", "losses"], 1e-12)
    assert mpi["losses"][-1] < mpi["losses"][0]


def _train(tmp_path, name, ranks=None, threads=None, extra=()):
    out = tmp_path / name
    command = [sys.executable, "-m", "ostl", "train", "--backend", "nest", "--task", "pattern_generation", "--steps",
               "200", "--hidden", "24", "--rule", "eprop", "--cell", "lif", "--recurrent", "--optimizer", "adam",
               "--lr", "0.003", "--seed", "2", "--out", out, "--summary-json", out / "summary.json",
               "--no-progress", "--no-plot", *extra]
    if threads:
        command += ["--nest-threads", str(threads)]
    _run(command, tmp_path, ranks=ranks)
    return out


def test_ostl_train_on_two_processes_equals_two_threads_and_the_reference(tmp_path):
    mpi = _train(tmp_path, "mpi", ranks=2, extra=["--iterations", "6"])
    threads = _train(tmp_path, "threads", threads=2, extra=["--iterations", "6"])
    a, b = _weights(mpi / "state.npz"), _weights(threads / "state.npz")
    names = [key for key in a if key.startswith(("params/", "optimizer/m/", "optimizer/v/"))]
    _assert_equal(a, b, names, 1e-12)
    summary = json.loads((mpi / "summary.json").read_text())
    assert summary["backend"] == "nest" and summary["iterations"] == 6
    # and the reference engine, trained from the run's own configuration on the weights NEST learns
    from ostl.rules import make_rule
    from ostl.training import Trainer

    config = json.loads(str(a["config"]))
    reference = Trainer(config["task"], config["network"], make_rule(config["rule"]), config["optimizer"],
                        batch_size=config["batch_size"], seed=config["seed"], init=config["init"],
                        trainable=config["trainable"])
    reference.train(6)
    for name in config["trainable"]:
        np.testing.assert_allclose(a[f"params/{name}"], reference.params[name], rtol=0,
                                   atol=1e-9 * np.abs(reference.params[name]).max(), err_msg=name)


def test_a_run_on_two_processes_resumes_exactly(tmp_path):
    straight = _train(tmp_path, "straight", ranks=2, extra=["--iterations", "6"])
    part = _train(tmp_path, "part", ranks=2, extra=["--iterations", "3"])
    _run([sys.executable, "-m", "ostl", "train", "--resume", part / "state.npz", "--iterations", "6", "--no-progress",
          "--no-plot"], tmp_path, ranks=2)
    a, b = _weights(straight / "state.npz"), _weights(part / "state.npz")
    assert int(b["iteration"]) == 6
    names = [key for key in a if key.startswith(("params/", "optimizer/"))]
    _assert_equal(a, b, [n for n in names if np.abs(a[n]).max() > 0], 1e-12)
