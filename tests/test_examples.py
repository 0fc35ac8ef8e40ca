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


def test_nest_example_equals_the_reference_and_learns(tmp_path):
    """examples/nest_pattern_generation.py (plain PyNEST) learns the weights of the reference
    engine's e-prop (relative 1e-9) and, run as documented, lowers the loss."""
    import numpy as np
    import pytest

    pytest.importorskip("nest")
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import nest_pattern_generation as example

    from .helpers import pynest_example_reference, relative_deviation

    result = example.train(iterations=3, n_rec=20)
    losses, weights = pynest_example_reference(example, 3, 20)
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-9)
    for key, value in result["weights"].items():
        assert relative_deviation(value, weights[key]) < 1e-9, key

    run = _example("nest_pattern_generation.py", "--iterations", "20", "--plot", str(tmp_path / "nest.png"))
    assert run.returncode == 0, run.stderr
    factor = float(run.stdout.split("x lower")[0].split()[-1])
    assert factor > 2.0
