"""Backends are discovered through the ``ostl.backends`` entry points; the core names none."""

import ast
import pathlib

import pytest

from ostl import backends
from ostl.errors import BackendUnavailableError, ParameterError

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_installed_plugins_are_found_through_entry_points():
    found = backends.plugins()
    assert {"reference", "brian2", "nest"} <= set(found)
    assert found["nest"].commands[0].name == "build-nest"
    assert [o.flag for o in found["brian2"].options] == ["--brian2-target"]


def test_the_core_imports_no_plugin_by_name():
    for path in sorted((ROOT / "ostl").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("brian2_ostl", "nestml_models", "pyNN_ostl"), (path.name, name)


def test_plugins_import_no_simulator():
    import subprocess
    import sys

    code = ("import sys; from ostl import backends; backends.plugins(); "
            "print(sorted(m for m in ('brian2', 'nest', 'pyNN', 'pynestml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_backend_lists_the_installed_ones():
    with pytest.raises(ParameterError, match=r"backend must be one of .*'brian2'.*'nest'.*'reference'.*got 'nope'"):
        backends.get_plugin("nope")


def test_missing_simulator_gives_the_install_hint():
    plugin = backends.BackendPlugin("ghost", "no_such_package.backend:Backend", "a backend whose package is missing",
                                    install_hint="pip install ghost")
    with pytest.raises(BackendUnavailableError, match=r"backend 'ghost' is not available.*pip install ghost"):
        plugin.load()


def test_backend_class_says_what_it_trains():
    from ostl import presets
    from ostl.tasks import make_task

    task = make_task("pattern_generation")
    network = presets.build_network(task, "eprop", cell="lif", hidden=8, recurrent=True)
    assert backends.get_plugin("reference").load().trainable_parameters(network) is None
    nest_backend = pytest.importorskip("nest") and backends.get_plugin("nest").load()
    # the weights and the readout's bias (a LIF neuron has no parameter of its own that learns)
    assert nest_backend.trainable_parameters(network) == ["layer0.W", "layer0.H", "readout.W", "readout.b"]
    snu = presets.build_network(task, "ostl", cell="snu", hidden=8)
    assert nest_backend.trainable_parameters(snu) == ["layer0.W", "readout.W", "layer0.bias", "readout.b"]
    assert nest_backend.default_batch_size is None   # batches run on NEST: the task's


# -- the worked example of docs/backends.md ---------------------------------------------------
def _example_files():
    """The files of docs/backends.md's worked example: every fenced block whose first line is
    ``# file: PATH``."""
    import re

    text = (ROOT / "docs" / "backends.md").read_text()
    files = {}
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            files[first[len("# file: "):].strip()] = body
    return files


@pytest.fixture(scope="module")
def reservoir_site(tmp_path_factory):
    """docs/backends.md's reservoir backend, pip-installed as a distribution of its own into a
    folder that only this module's runs put on their path."""
    import subprocess
    import sys

    source = tmp_path_factory.mktemp("reservoir-source")
    files = _example_files()
    assert set(files) == {"reservoir_backend/plugin.py", "reservoir_backend/backend.py", "pyproject.toml"}
    for name, body in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(body)
    (source / "reservoir_backend" / "__init__.py").write_text("")
    site = tmp_path_factory.mktemp("reservoir-site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return site


def _ostl_with(site, *args, cwd):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "ostl", *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_the_documented_backend_installs_through_an_entry_point_and_trains(reservoir_site, tmp_path):
    import json

    import numpy as np

    summary = tmp_path / "summary.json"
    run = _ostl_with(reservoir_site, "train", "--backend", "reservoir", "--reservoir-gain", "2", "--task",
                     "pattern_generation", "--steps", "100", "--hidden", "16", "--iterations", "12", "--lr", "0.0003",
                     "--out", tmp_path / "run", "--summary-json", summary, "--no-progress", "--no-plot",
                     cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(summary.read_text())
    assert result["backend"] == "reservoir" and result["optimizer"]["name"] == "sgd"   # its default optimiser
    assert result["curve"][-1]["loss"] < result["curve"][0]["loss"]
    state = np.load(tmp_path / "run" / "state.npz")
    config = json.loads(str(state["config"]))
    assert config["trainable"] == ["readout.W", "readout.b"] and config["backend_options"] == {"gain": 2.0}
    # the reservoir stayed as initialised; the readout learned
    from ostl.network import Network

    initial = Network.from_spec(config["network"]).init_params(seed=config["seed"], **config["init"])
    np.testing.assert_array_equal(state["params/layer0.W"], initial["layer0.W"])
    assert not np.array_equal(state["params/readout.W"], initial["readout.W"])
    # what it declares it cannot run is refused in the one format, before anything runs
    refused = _ostl_with(reservoir_site, "train", "--backend", "reservoir", "--optimizer", "adam", "--iterations",
                         "1", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert ("optimizer must be 'sgd' on the reservoir backend (the example keeps no optimiser state), got 'adam'"
            in refused.stderr)
    bad = _ostl_with(reservoir_site, "train", "--backend", "reservoir", "--reservoir-gain", "20", cwd=tmp_path)
    assert bad.returncode == 2 and "--reservoir-gain must be in (0, 10], got 20.0" in bad.stderr
    assert "--reservoir-gain" in _ostl_with(reservoir_site, "train", "--help", cwd=tmp_path).stdout
