"""Starting ``ostl`` loads only what every run needs: the simulators, SciPy and PyTorch are
imported where they are used. (``import scipy.signal`` at the top of one engine module made
``import ostl`` take ~1.2 s instead of ~0.2 s, and the spoken-digit build paid it in each of
its per-clip child processes.) The property is which modules are loaded, not a time."""

import subprocess
import sys

import pytest

HEAVY = ("scipy", "torch", "brian2", "nest", "pyNN", "neo", "jax", "matplotlib", "tqdm", "aihwkit")


@pytest.mark.parametrize("module", ["ostl", "ostl.cli", "ostl.training", "ostl.datasets"])
def test_importing_the_package_loads_no_heavy_dependency(module):
    code = (f"import sys, {module}; "
            f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"import {module} loads {done.stdout.strip()}"


def test_the_espeak_child_imports_only_the_standard_library():
    """The per-utterance child is a script run with ``python -I``; it must not import ``ostl``."""
    from ostl.datasets import _espeak_child

    code = (f"import runpy, sys; before = set(sys.modules); "
            f"runpy.run_path({_espeak_child.__file__!r}, run_name='not_main'); "
            f"print(' '.join(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('ostl', 'numpy'))))")
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
