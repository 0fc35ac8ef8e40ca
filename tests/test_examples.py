"""The examples in examples/ run as documented."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_reference_quickstart():
    result = _example("reference_quickstart.py", "--iterations", "21")
    assert result.returncode == 0, result.stderr
    deviation = float(result.stdout.splitlines()[0].split()[-1])
    assert deviation < 1e-9
    losses = [float(line.split()[-1]) for line in result.stdout.splitlines()[1:]]
    assert losses[-1] < losses[0]


def test_brian2_example():
    result = _example("brian2_pattern_generation.py", "--iterations", "25", "--show-equations")
    assert result.returncode == 0, result.stderr
    assert "eligibility_vector = jacobian_post*eligibility_vector + input_gain_post*x_pre" in result.stdout
    line = result.stdout.strip().splitlines()[-1]
    assert float(line.split()[-2].rstrip("x")) > 2.0  # mse improvement factor after 25 iterations
