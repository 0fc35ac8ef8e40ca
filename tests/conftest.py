"""Test-suite configuration: hypothesis profiles for the fuzz tests and the count of cases
each fuzzed entry point received (printed at the end of the run)."""

import collections
import os

from hypothesis import HealthCheck, settings

#: cases tried per fuzzed entry point (tests/test_fuzz.py adds to it)
FUZZ_CASES = collections.Counter()

# CI-sized and reproducible by default; `make test-all` runs the long profile
settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=400, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    if FUZZ_CASES:
        terminalreporter.write_sep("-", "fuzzing: cases tried per entry point")
        for name, count in sorted(FUZZ_CASES.items()):
            terminalreporter.write_line(f"{name:40s} {count:6d}")
