"""Soak: many trials of a learning network keep the memory of the process flat (the
trainer's learning curve grows by a few hundred bytes a trial) and, on NEST, the learning
neurons' factor history bounded. Short versions run by default; the long ones (5000 NEST
trials, 2000 Brian2 cpp_standalone trials) are marked slow (`make test-all`)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: measured: 0.7 KiB per trial on NEST (the trainer's history records), 0.0 on Brian2
KIB_PER_TRIAL_BOUND = 4.0
STEPS = 100


def _soak(backend, trials):
    run = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "soak.py"), "--backend", backend,
                          "--trials", str(trials), "--steps", str(STEPS), "--json"],
                         capture_output=True, text=True, timeout=3000)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _check(report, nest):
    assert report["kib_per_trial"] < KIB_PER_TRIAL_BOUND, report
    assert report["loss_last"] < report["loss_first"], report   # it learned all along
    if nest:
        from nestml_models.wiring import CATCH_UP_EVERY

        # at most the trials between two catch-ups (and the current one) are kept
        assert report["history_steps_max"] <= (CATCH_UP_EVERY + 2) * (STEPS + 4), report


@pytest.mark.parametrize("backend,trials", [
    pytest.param("nest", 300, id="nest-300"),
    pytest.param("brian2", 200, id="brian2-200"),
    pytest.param("nest", 5000, id="nest-5000", marks=pytest.mark.slow),
    pytest.param("brian2", 2000, id="brian2-2000", marks=pytest.mark.slow),
])
def test_soak_memory_stays_flat(backend, trials):
    pytest.importorskip("nest" if backend == "nest" else "brian2")
    _check(_soak(backend, trials), nest=backend == "nest")
