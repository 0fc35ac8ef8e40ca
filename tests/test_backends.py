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
    assert nest_backend.trainable_parameters(network) == ["layer0.W", "layer0.H", "readout.W"]
    assert nest_backend.default_batch_size == 1
