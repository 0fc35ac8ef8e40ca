"""Test-suite configuration: hypothesis profiles for the fuzz tests, the count of cases each
fuzzed entry point received (printed at the end of the run), and the check that the run leaves
nothing behind in the source tree (``git status --porcelain --ignored`` before and after: a new
entry fails the run, naming it)."""

import atexit
import collections
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

#: cases tried per fuzzed entry point (tests/test_fuzz.py adds to it)
FUZZ_CASES = collections.Counter()

# hypothesis keeps its files in a temporary folder, not in the source tree
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="ostl-hypothesis-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)

# CI-sized and reproducible by default; `make test-all` runs the long profile
settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=400, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


ROOT = Path(__file__).resolve().parent.parent
#: what the tools running the suite keep in the tree (the environment, caches, build metadata)
TOOLING = (".venv/", ".venv-mpi/", ".pytest_cache/", ".ruff_cache/", "ostl.egg-info/")


def _tree_entries():
    """The source tree's untracked, ignored and changed entries, or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    entries = set()
    for line in done.stdout.splitlines():
        path = line[3:]
        if path in TOOLING or path.endswith("__pycache__/") or path.endswith(".pyc"):
            continue
        entries.add(line)
    return entries


def pytest_sessionstart(session):
    session.config._tree_before = None if os.environ.get("PYTEST_XDIST_WORKER") else _tree_entries()


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:   # a pytest-xdist worker: its fuzz counts go to the controller
        workeroutput["fuzz_cases"] = dict(FUZZ_CASES)
    before = getattr(session.config, "_tree_before", None)
    if before is None:
        return
    after = _tree_entries()
    left = sorted((after or set()) - before)
    session.config._tree_left = left
    if left and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: add a finished worker's fuzz counts to the summary's."""
    FUZZ_CASES.update(getattr(node, "workeroutput", {}).get("fuzz_cases", {}))


def pytest_terminal_summary(terminalreporter):
    left = getattr(terminalreporter.config, "_tree_left", None)
    if left:
        terminalreporter.write_sep("!", "the run left files in the source tree (tests must write to tmp_path)")
        for line in left:
            terminalreporter.write_line(line)
    if FUZZ_CASES:
        terminalreporter.write_sep("-", "fuzzing: cases tried per entry point")
        for name, count in sorted(FUZZ_CASES.items()):
            terminalreporter.write_line(f"{name:40s} {count:6d}")
