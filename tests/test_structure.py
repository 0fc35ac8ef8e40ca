"""The code's structure (issue 21): no import cycle in any package (imports inside functions
included), the core's top-level modules import no hardware model, and ``ostl train --help`` lists
exactly the options that the core, the tasks and the installed plugins declare."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ostl", "brian2_ostl", "nestml_models", "pyNN_ostl")


def _modules():
    """``{module name: path}`` of every Python module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(module, path, modules):
    """The project modules ``module`` imports anywhere in its file (inside functions too),
    with the packages each import initialises on the way (except ``module``'s own ancestors)."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in modules and not module.startswith(candidate + ".") and candidate != module:
                    targets.add(candidate)
    return targets


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_package_has_an_import_cycle():
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("def late():\n    from a import x\n")
    modules = {"a": a, "b": b}
    assert _cycles({name: _imported(name, path, modules) for name, path in modules.items()}) == [["a", "b"]]


def test_the_cores_top_level_modules_import_no_hardware():
    modules = _modules()
    for name, path in sorted(modules.items()):
        if name.count(".") == 1 and name.startswith("ostl.") and path.name != "__init__.py":
            hardware = sorted(t for t in _imported(name, path, modules) if t.startswith("ostl.hardware"))
            assert hardware == [], (name, hardware)


def _help(*command):
    return subprocess.run([sys.executable, "-m", "ostl", *command, "--help"], capture_output=True, text=True,
                          check=True).stdout


def test_the_help_lists_exactly_the_declared_options():
    from ostl import backends, cli, synapses
    from ostl.tasks import TASKS

    declared = {"-h", "--help", "--backend", "--synapses", "--recurrent", "--feedforward"}
    declared |= {option.flag for option in cli.RUN_OPTIONS + cli.CONTROL_OPTIONS}
    declared |= {option.flag for task in TASKS.values() for option in task.options}
    plugin_flags = [option.flag for plugin in list(backends.plugins().values()) + list(synapses.plugins().values())
                    for option in plugin.options]
    assert len(plugin_flags) == len(set(plugin_flags)) and not set(plugin_flags) & declared
    listed = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", _help("train").split("options:", 1)[1]))
    assert listed == declared | set(plugin_flags)
    assert {"--nest-threads", "--spinnaker-rounding", "--bss2-seed", "--pcm-devices"} <= listed
    # the sub-commands: the core's and the plugins'
    commands = {c[0] for c in cli.COMMANDS} | {"train"}
    commands |= {command.name for plugin in list(backends.plugins().values()) + list(synapses.plugins().values())
                 for command in plugin.commands}
    assert set(re.search(r"\{(.*?)\}", _help()).group(1).split(",")) == commands
    assert {"build-nest", "spinnaker-build", "pcm-sim"} <= commands
