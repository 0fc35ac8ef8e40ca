"""The event-driven closed form of a synapse's eligibility recursion (issue 22) equals the per-step
recursion: random factors, full resets (zero factors) inside silent stretches, sparse and silent
presynaptic neurons, with and without the readout's leak."""

import numpy as np
import pytest

from ostl import closed_form as cf


def _history(rng, steps, kappa, zeros=0.0, scale=1.0):
    segments = cf.Segments(kappa)
    for _ in range(steps):
        J = 0.0 if rng.random() < zeros else scale * rng.uniform(0.5, 1.05)
        segments.append(J, rng.uniform(0.5, 1.5), rng.normal(), rng.normal())
    return segments


def _assert_close(closed, exact):
    for name in ("eps", "ebar", "gradient"):
        a, b = getattr(closed, name), getattr(exact, name)
        assert abs(a - b) <= 1e-10 * max(abs(b), 1e-300), (name, a, b)


@pytest.mark.parametrize("kappa", [0.0, 0.5, 0.9, 0.97, 1.0])
@pytest.mark.parametrize("rate", [0.0, 0.01, 0.2])
@pytest.mark.parametrize("zeros", [0.0, 0.05])
def test_the_closed_form_equals_the_recursion(kappa, rate, zeros):
    rng = np.random.default_rng([int(kappa * 100), int(rate * 100), int(zeros * 100)])
    steps = 700
    segments = _history(rng, steps, kappa, zeros)
    inputs = (rng.random(steps) < rate).astype(float)
    inputs[rng.integers(0, 50)] = 1.0   # at least one input, early
    for until in (steps - 1, steps // 3):
        _assert_close(cf.replay(segments, inputs, until), cf.recursion(segments.factors, kappa, inputs, until))


def test_segments_stay_short_where_the_ranges_demand_it():
    rng = np.random.default_rng(1)
    shrinking = _history(rng, 300, 0.97, scale=0.5)      # the product falls fast
    lengths = np.diff(np.flatnonzero(np.diff(shrinking.start, prepend=-1)))
    assert lengths.max() <= 11 and min(abs(p) for p in shrinking.P) >= cf.RANGE * 0.25
    leaky = _history(rng, 300, 0.3)                        # the leak's power falls fast
    assert np.diff(np.flatnonzero(np.diff(leaky.start, prepend=-1))).max() <= 6
    long = _history(np.random.default_rng(2), 300, 0.99, scale=1.0)
    assert np.diff(np.flatnonzero(np.diff(long.start, prepend=-1))).max() <= cf.SEGMENT


def test_a_zero_factor_forgets_the_eligibility_vector():
    segments = cf.Segments(0.9)
    for t in range(20):
        segments.append(0.0 if t == 10 else 0.95, 1.0, 1.0, 1.0)
    inputs = np.zeros(20)
    inputs[3] = 1.0
    state = cf.replay(segments, inputs, 19)
    assert state.eps == 0.0 and state.ebar != 0.0
    _assert_close(state, cf.recursion(segments.factors, 0.9, inputs, 19))
