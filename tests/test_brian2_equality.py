"""Step-for-step equality of the Brian2 plugin with the reference engine.

Random networks (several seeds, up to 50 x 50, 1000 steps of Poisson input), every
local rule: membrane states, spikes, eligibility vectors and weights from Brian2 equal
the reference engine's at every step (relative 1e-9, float64), on the numpy target and
on cpp_standalone.
"""

import numpy as np
import pytest

pytest.importorskip("brian2")

from brian2_ostl import Brian2Network  # noqa: E402
from ostl import ALIF, LIF, SGD, SNU, Adam, Layer, Network, OnlineLearner, ParameterError, Readout, SoftResetSNU  # noqa: E402

from .helpers import assert_active, poisson_input  # noqa: E402

RTOL = 1e-9

# Online learning feeds rounding differences (the summation order of Brian2's summed
# variables differs from BLAS) back into the dynamics, and they grow over a trial:
# * with a steep pseudo-derivative and large rates the reference engine itself turns a
#   1e-15 perturbation of one weight into 1e-10..1e-9 (measured: OSTTP's 1/(100|x|+1)^2
#   at SGD 5e-3: 4e-9; ALIF at Adam 2e-3: 3e-11);
# * Adam divides by sqrt(v): rounding-level gradient differences become step-size
#   differences, ~10x growth per 100 steps in a recurrent LIF layer (8e-9 after 1000).
# Hence online runs of 1000 steps use SGD at a rate where the reference is stable to
# ~1e-15 (weights still move by 0.02-0.2 per trial), and online Adam is checked over
# several consecutive 300-step trials.
ONLINE_SGD, ONLINE_ADAM = 0.001, 0.0005

# (rule, network factory, feedback override): every local rule of the plugin
CASES = {
    "ostl-ff-snu": ("ostl", None, lambda: Network(50, [Layer(50, SNU(decay=0.9))], Readout(3, leak=0.8))),
    "ostl-2layers": ("ostl", None, lambda: Network(
        30, [Layer(25, SNU(decay=0.8)), Layer(20, SNU(decay=0.9))], Readout(3))),
    # tanh pseudo-derivative: the slope-100 one makes online runs ill-conditioned (see above)
    "ostl_no_h-rec-soft": ("ostl_no_h", None, lambda: Network(
        40, [Layer(40, SoftResetSNU(decay=0.9, pseudo="tanh"), recurrent=True)], Readout(3, leak=0.5))),
    "ostl_rnd-2layers": ("ostl_rnd", None, lambda: Network(
        30, [Layer(25, SNU(decay=0.8)), Layer(20, SNU(decay=0.9))], Readout(3))),
    "osttp-ff": ("osttp", None, lambda: Network(40, [Layer(40, SNU(decay=0.9))], Readout(3, leak=0.7))),
    "eprop-lif": ("eprop", None, lambda: Network(
        50, [Layer(50, LIF(tau_m=20.0, v_th=0.5), recurrent=True)], Readout(3, leak=0.9))),
    "eprop-alif-random": ("eprop", "random", lambda: Network(
        40, [Layer(40, ALIF(tau_m=20.0, tau_a=200.0, beta=0.5, v_th=0.5), recurrent=True)],
        Readout(2, "softmax", leak=0.8))),
}


# Deferred updates: weights are fixed during a trial, so no feedback amplifies rounding
# and any kink (ReLU's g') is safe to compare exactly. (Online, the ReLU kink flipping
# on a near-zero pre-activation adds ~10x to the growth described above.)
DEFERRED_CASES = {
    "ostl-2layers-relu": ("ostl", None, lambda: Network(
        30, [Layer(25, SNU(decay=0.8, activation="relu")), Layer(20, SNU(decay=0.9, activation={
            "name": "leaky_relu", "alpha": 0.1}))], Readout(3, "sigmoid"))),
}


def _trial(net, seed, steps):
    rng = np.random.default_rng(seed)
    x = poisson_input(rng, steps, net.n_in, prob=0.2)
    if net.readout.activation == "softmax":
        y = np.eye(net.n_out)[rng.integers(0, net.n_out, steps)]
    elif net.readout.activation == "sigmoid":
        y = (rng.random((steps, net.n_out)) < 0.3).astype(float)
    else:
        y = rng.normal(size=(steps, net.n_out))
    mask = (rng.random(steps) < 0.9).astype(float)
    return x, y, mask


def _params(net, seed):
    return net.init_params(seed=seed, weight_scale=2.5, recurrent_scale=1.0)


def _rel(a, b):
    scale = np.max(np.abs(b))
    return 0.0 if scale == 0 and np.max(np.abs(a)) == 0 else float(np.max(np.abs(a - b)) / scale)


def _compare(net, res, ref, rule_online):
    for key in ("state", "output"):
        for layer, (a, b) in enumerate(zip(res.records[key], ref.records[key])):
            assert _rel(a, b) < RTOL, (key, layer)
    for name, eps in res.records["eligibility_vector"].items():
        expected = ref.records["eligibility_vector"][name]
        if name.endswith(".H") and not net.layers[int(name[5])].autapses:
            expected = expected * (1 - np.eye(expected.shape[1]))[None, :, None, :]  # no synapse j -> j
        assert _rel(eps, expected) < RTOL, name
        assert np.max(np.abs(eps)) > 0
    if rule_online:
        for name, w in res.records["weights"].items():
            assert _rel(w, ref.records["weights"][name]) < RTOL, name
    else:
        for name, g in ref.grads.items():
            assert _rel(res.grads[name], g) < RTOL, name
    assert abs(res.loss - ref.loss) <= RTOL * abs(ref.loss)


def _reference(net, rule, feedback_kind, params, feedback, x, y, mask, mode, optimizer):
    learner = OnlineLearner(net, _rule(rule, feedback_kind), params, mode=mode, optimizer=optimizer,
                            feedback=feedback, block=1)
    return learner.run(x, y, mask, record=("state", "output", "eligibility_vector", "weights"))


def _rule(rule, feedback_kind):
    from ostl import make_rule

    return make_rule(rule, feedback=feedback_kind)


@pytest.mark.parametrize("mode", ["deferred", "online"])
@pytest.mark.parametrize("case", list(CASES))
def test_numpy_target_equals_reference(case, mode):
    rule_name, feedback_kind, factory = CASES[case]
    net = factory()
    rule = _rule(rule_name, feedback_kind)
    feedback = rule.make_feedback(net, seed=3)
    steps = 1000
    b2net = None
    for seed in (0, 1):
        params = _params(net, seed)
        x, y, mask = _trial(net, seed + 10, steps)
        assert_active(net.forward(params, x, y), low=0.01, high=0.9)
        optimizer = SGD(ONLINE_SGD) if mode == "online" else None
        ref = _reference(net, rule_name, feedback_kind, params, feedback, x, y, mask, mode,
                         None if optimizer is None else type(optimizer)(optimizer.lr))
        b2net = Brian2Network(net, rule, params, steps=steps, feedback=feedback, mode=mode, optimizer=optimizer,
                              target="numpy", record=("state", "output", "eligibility_vector", "weights"))
        res = b2net.run(x, y, mask)
        _compare(net, res, ref, mode == "online")


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
@pytest.mark.parametrize("case", list(DEFERRED_CASES))
def test_deferred_with_kinked_activations(case, target):
    rule_name, feedback_kind, factory = DEFERRED_CASES[case]
    net = factory()
    rule = _rule(rule_name, feedback_kind)
    b2net = Brian2Network(net, rule, _params(net, 0), steps=1000, target=target,
                          record=("state", "output", "eligibility_vector"))
    for seed in (0, 1):
        params = _params(net, seed)
        x, y, mask = _trial(net, seed + 10, 1000)
        assert_active(net.forward(params, x, y), low=0.01, high=0.9)
        ref = _reference(net, rule_name, feedback_kind, params, None, x, y, mask, "deferred", None)
        _compare(net, b2net.run(x, y, mask, params=params), ref, False)


@pytest.mark.parametrize("case", list(CASES))
def test_cpp_standalone_equals_reference(case):
    """One build per structure; the seeds' weights and inputs go in via run_args."""
    rule_name, feedback_kind, factory = CASES[case]
    net = factory()
    rule = _rule(rule_name, feedback_kind)
    feedback = rule.make_feedback(net, seed=3)
    steps = 1000
    b2net = Brian2Network(net, rule, _params(net, 0), steps=steps, feedback=feedback, mode="online",
                          optimizer=SGD(ONLINE_SGD), target="cpp_standalone",
                          record=("state", "output", "eligibility_vector", "weights"))
    for seed in (0, 1):
        params = _params(net, seed)
        x, y, mask = _trial(net, seed + 10, steps)
        ref = _reference(net, rule_name, feedback_kind, params, feedback, x, y, mask, "online", SGD(ONLINE_SGD))
        res = b2net.run(x, y, mask, params=params)
        _compare(net, res, ref, True)


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
@pytest.mark.parametrize("case", ["eprop-lif", "eprop-alif-random", "ostl_no_h-rec-soft"])
def test_online_adam_over_consecutive_trials(case, target):
    """Weights, Adam moments and step count carry from trial to trial as in the reference."""
    rule_name, feedback_kind, factory = CASES[case]
    net = factory()
    rule = _rule(rule_name, feedback_kind)
    feedback = rule.make_feedback(net, seed=3)
    params = _params(net, 0)
    ref_opt, b2_opt = Adam(ONLINE_ADAM), Adam(ONLINE_ADAM)
    learner = OnlineLearner(net, rule, params, mode="online", optimizer=ref_opt, feedback=feedback, block=1)
    b2net = Brian2Network(net, rule, params, steps=300, mode="online", optimizer=b2_opt, feedback=feedback,
                          target=target, record=("state", "output", "eligibility_vector", "weights"))
    for trial in range(3):
        x, y, mask = _trial(net, 20 + trial, 300)
        ref = learner.run(x, y, mask, record=("state", "output", "eligibility_vector", "weights"))
        res = b2net.run(x, y, mask)
        _compare(net, res, ref, True)
    for name in params:
        assert _rel(b2net.params[name], learner.params[name]) < RTOL, name
    assert b2_opt.t == ref_opt.t == 900
    for name in ref_opt.m:
        assert _rel(b2_opt.m[name], ref_opt.m[name]) < 1e-8, name
        assert _rel(b2_opt.v[name], ref_opt.v[name]) < 1e-8, name


@pytest.mark.parametrize("make,message", [
    (lambda: Brian2Network(Network(4, [Layer(5, SNU(), recurrent=True)], Readout(2)), "ostl",
                           Network(4, [Layer(5, SNU(), recurrent=True)], Readout(2)).init_params(), steps=10),
     "exact OSTL traces.*O\\(n\\^4\\).*reference engine"),
    (lambda: Brian2Network(Network(4, [Layer(5, SNU())], Readout(2)), "backprop", {}, steps=10),
     "rule must be one of"),
    (lambda: Brian2Network(Network(4, [Layer(5, SNU())], Readout(2)), "ostl_rnd",
                           Network(4, [Layer(5, SNU())], Readout(2)).init_params(), steps=10,
                           feedback={"feedback.readout": np.zeros((3, 3))}),
     r"feedback.readout must have shape \(5, 2\), got \(3, 3\)"),
    (lambda: Brian2Network(Network(4, [Layer(5, SNU())], Readout(2)), "ostl",
                           Network(4, [Layer(5, SNU())], Readout(2)).init_params(), steps=10, mode="online"),
     "mode 'online' needs an optimizer"),
    (lambda: Brian2Network(Network(4, [Layer(5, SNU())], Readout(2)), "ostl",
                           Network(4, [Layer(5, SNU())], Readout(2)).init_params(), steps=10, target="gpu"),
     "target must be one of"),
    (lambda: Brian2Network(Network(4, [Layer(5, SNU())], Readout(2)), "ostl",
                           Network(4, [Layer(5, SNU())], Readout(2)).init_params(), steps=10, mode="online",
                           optimizer=SGD(0.1, clip=1.0)),
     "clipping needs the global gradient norm"),
])
def test_bad_input_is_refused_before_the_run(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_cython_target_equals_reference():
    """Brian2's compiled runtime target (first compilation takes about a minute)."""
    rule_name, feedback_kind, factory = CASES["eprop-alif-random"]
    net = factory()
    rule = _rule(rule_name, feedback_kind)
    feedback = rule.make_feedback(net, seed=3)
    params = _params(net, 0)
    x, y, mask = _trial(net, 10, 500)
    b2net = Brian2Network(net, rule, params, steps=500, feedback=feedback, target="cython",
                          record=("state", "output", "eligibility_vector"))
    ref = _reference(net, rule_name, feedback_kind, params, feedback, x, y, mask, "deferred", None)
    _compare(net, b2net.run(x, y, mask), ref, False)
