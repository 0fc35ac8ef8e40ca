"""Learning in NEST (ostl_synapse + the learning neurons) equals the reference engine step
for step: losses of every trial, the synapses' eligibility vectors and gradients during a
trial, and the weights after every deferred update, for every local rule.

The reference runs the same trials with ``OnlineLearner`` (deferred mode) and the same
optimiser applied after each trial; the weights (and, where a test says so, the neurons' own parameters).
"""

import numpy as np
import pytest

nest = pytest.importorskip("nest")
pytest.importorskip("pynestml")

from ostl import ALIF, LIF, SNU, Layer, Network, Readout, SoftResetSNU  # noqa: E402
from ostl.errors import BackendUnavailableError, ParameterError  # noqa: E402
from ostl.online import OnlineLearner  # noqa: E402
from ostl.optim import make_optimizer  # noqa: E402
from ostl.rules import make_rule  # noqa: E402

from .helpers import poisson_input  # noqa: E402


@pytest.fixture(scope="module")
def network_class():
    import nestml_models
    from nestml_models.network import NestNetwork

    try:
        nestml_models.build()
    except BackendUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))
    return NestNetwork


CASES = {
    # name: (cell, recurrent, rule, feedback kind or None, optimiser, readout leak)
    "ostl-snu-feedforward": (SNU(decay=0.8, pseudo="tanh"), False, "ostl", None, {"name": "sgd", "lr": 0.02}, 0.6),
    "ostl_no_h-snu-recurrent": (SNU(decay=0.7, activation="relu", pseudo="fast_sigmoid"), True, "ostl_no_h", None,
                                {"name": "adam", "lr": 0.01}, 0.0),
    "ostl_rnd-soft_snu": (SoftResetSNU(decay=0.9, pseudo="fast_sigmoid", threshold=0.8), False, "ostl_rnd", None,
                          {"name": "sgd", "lr": 0.02}, 0.5),
    "osttp-snu": (SNU(decay=0.8, pseudo="tanh"), False, "osttp", None, {"name": "adam", "lr": 0.01}, 0.6),
    "eprop-lif-recurrent-random": (LIF(tau_m=15.0, v_th=0.5), True, "eprop", "random", {"name": "sgd", "lr": 0.02},
                                   0.7),
    "eprop-alif-recurrent": (ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.5), True, "eprop", None,
                             {"name": "adam", "lr": 0.01}, 0.7),
    "ostl_no_h-alif-recurrent": (ALIF(tau_m=20.0, tau_a=80.0, beta=0.3, v_th=0.6), True, "ostl_no_h", "random",
                                 {"name": "sgd", "lr": 0.02}, 0.0),
}


def _setup(case, seed, n_in=12, n_hidden=10, n_out=2, steps=120, n_trials=3):
    cell, recurrent, rule_name, feedback_kind, optimizer, leak = CASES[case]
    rng = np.random.default_rng(seed)
    net = Network(n_in, [Layer(n_hidden, cell, recurrent=recurrent)], Readout(n_out, leak=leak))
    params = net.init_params(seed=seed + 10, weight_scale=3.0)
    if "layer0.bias" in params:
        params["layer0.bias"] = rng.normal(-0.3, 0.2, size=n_hidden)
    params["readout.b"] = rng.normal(size=n_out)
    rule = make_rule(rule_name, feedback=feedback_kind)
    feedback = rule.make_feedback(net, seed=seed + 20)
    trials = [(poisson_input(rng, steps, n_in, prob=0.2), rng.normal(size=(steps, n_out)),
               (rng.random(steps) < 0.9).astype(float)) for _ in range(n_trials)]
    return net, params, rule, feedback, trials, optimizer


def _weights(net):
    names = []
    for index, layer in enumerate(net.layers):
        names += [f"layer{index}.W"] + ([f"layer{index}.H"] if layer.recurrent else [])
    return names + ["readout.W"]


def _reference(net, params, rule, feedback, trials, optimizer, regularisation=None, regularisation_losses=None,
               names=None):
    names = _weights(net) if names is None else names
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=names, block=1,
                            regularisation=regularisation)
    opt = make_optimizer(optimizer)
    losses, weights = [], []
    for x, target, mask in trials:
        result = learner.run(x, target, mask)
        losses.append(result.loss)
        if regularisation_losses is not None:
            regularisation_losses.append(result.regularisation_loss)
        opt.step(learner.params, {k: result.grads[k] for k in names})
        weights.append({k: learner.params[k].copy() for k in names})
    return np.array(losses), weights


def _assert_weights(nest_weights, reference_weights, rtol=1e-9):
    for name, ref in reference_weights.items():
        scale = np.abs(ref).max()
        np.testing.assert_allclose(nest_weights[name], ref, rtol=0, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_nest_learning_equals_reference(network_class, case, seed):
    net, params, rule, feedback, trials, optimizer = _setup(case, seed)
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer)
    for k, (x, target, mask) in enumerate(trials):
        loss, outputs = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        _assert_weights(sim.weights(), ref_weights[k])
    moved = max(np.abs(ref_weights[-1][n] - params[n]).max() for n in ref_weights[-1])
    assert moved > 1e-3, "the weights did not learn"


DEEP_CASES = {
    # name: (cells of the layers, recurrent, rule, feedback, optimiser, readout leak). SGD in the deeper
    # cases: measured 1.6e-14 and 7.7e-14 of the weights' scale with it; Adam divides by the root of
    # tiny second moments of barely driven synapses, which turns those into 2e-9 and 8e-9
    "ostl_rnd-snu-2-layers": ([SNU(decay=0.8, pseudo="tanh"), SNU(decay=0.7, pseudo="fast_sigmoid")], False,
                              "ostl_rnd", "random_direct", {"name": "sgd", "lr": 0.02}, 0.6),
    "osttp-lif-3-layers": ([LIF(tau_m=15.0, v_th=0.4)] * 3, False, "osttp", None, {"name": "sgd", "lr": 0.05}, 0.7),
    "eprop-alif-lif-recurrent": ([ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.4), LIF(tau_m=10.0, v_th=0.4)], True,
                                 "eprop", "random_direct", {"name": "sgd", "lr": 0.05}, 0.0),
}


@pytest.mark.parametrize("case", list(DEEP_CASES))
def test_deep_networks_on_nest_equal_reference(network_class, case):
    """k >= 2 hidden layers with each layer's learning signal directly from the readouts (OSTL rnd
    and e-prop with direct feedback, OSTTP): layer l's trial starts l updates after the first's,
    its neurons take their learning signal readout_lag = k - l updates later; the weights of every
    layer after every update equal the reference engine's (1e-9), and the loss."""
    cells, recurrent, rule_name, feedback_kind, optimizer, leak = DEEP_CASES[case]
    rng = np.random.default_rng(5)
    sizes = [10, 8, 6][:len(cells)]
    net = Network(12, [Layer(n, cell, recurrent=recurrent) for n, cell in zip(sizes, cells)], Readout(2, leak=leak))
    params = net.init_params(seed=11, weight_scale=3.0)
    for index in range(len(cells)):
        if f"layer{index}.bias" in params:
            params[f"layer{index}.bias"] = rng.normal(-0.3, 0.2, size=sizes[index])
    rule = make_rule(rule_name, feedback=feedback_kind)
    feedback = rule.make_feedback(net, seed=21)
    trials = [(poisson_input(rng, 100, 12, prob=0.25), rng.normal(size=(100, 2)),
               (rng.random(100) < 0.9).astype(float)) for _ in range(3)]
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=100, feedback=feedback, optimizer=optimizer)
    assert sim.pause_steps == len(cells) + 3
    for k, (x, target, mask) in enumerate(trials):
        loss, outputs = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        _assert_weights(sim.weights(), ref_weights[k])
    for index in range(len(cells)):
        name = f"layer{index}.W"
        assert np.abs(ref_weights[-1][name] - params[name]).max() > 1e-4, f"{name} did not learn"


def test_deep_networks_need_direct_feedback(network_class):
    net = Network(4, [Layer(3, LIF()), Layer(3, LIF())], Readout(2))
    rule = make_rule("eprop")
    with pytest.raises(ParameterError, match="2 hidden layers on NEST need each layer's learning signal directly"):
        network_class(net, rule, net.init_params(), 20, rule.make_feedback(net), {"name": "sgd", "lr": 0.1})


SOFTMAX_CASES = {
    # name: (cells, recurrent, rule, feedback, optimiser, readout leak)
    "eprop-alif-recurrent": ([ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.5)], True, "eprop", "random",
                             {"name": "sgd", "lr": 0.05}, 0.7),
    "ostl-snu-feedforward": ([SNU(decay=0.8, pseudo="tanh")], False, "ostl", None, {"name": "adam", "lr": 0.01}, 0.6),
    "osttp-lif-2-layers": ([LIF(tau_m=15.0, v_th=0.4)] * 2, False, "osttp", None, {"name": "sgd", "lr": 0.05}, 0.0),
}


@pytest.mark.parametrize("case", list(SOFTMAX_CASES))
def test_softmax_readouts_on_nest_equal_reference(network_class, case):
    """Softmax with cross-entropy (classification): the readouts exchange their potentials over
    rate_connection_delayed and normalise one update later (their learning signals leave one
    update later, the hidden neurons' readout_lag one larger); losses, outputs and the weights after
    every update equal the reference engine's (1e-9)."""
    cells, recurrent, rule_name, feedback_kind, optimizer, leak = SOFTMAX_CASES[case]
    rng = np.random.default_rng(8)
    sizes = [10, 8][:len(cells)]
    net = Network(12, [Layer(n, cell, recurrent=recurrent) for n, cell in zip(sizes, cells)],
                  Readout(3, activation="softmax", leak=leak))
    params = net.init_params(seed=12, weight_scale=3.0)
    params["readout.b"] = rng.normal(size=3)
    rule = make_rule(rule_name, feedback=feedback_kind)
    feedback = rule.make_feedback(net, seed=22)
    trials = []
    for _ in range(3):
        labels = rng.integers(0, 3, size=80)
        mask = np.zeros(80)
        mask[40:] = 1.0   # the decision window
        trials.append((poisson_input(rng, 80, 12, prob=0.25), np.eye(3)[labels], mask))
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=80, feedback=feedback, optimizer=optimizer)
    assert sim.pause_steps == len(cells) + 4
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=_weights(net), block=1)
    for k, (x, target, mask) in enumerate(trials):
        loss, outputs = sim.run_trial(x, target, mask)
        reference = learner.run(x, target, mask)   # the outputs before the update
        np.testing.assert_allclose(outputs, reference.outputs, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        _assert_weights(sim.weights(), ref_weights[k])
        learner.params.update({n: ref_weights[k][n].copy() for n in ref_weights[k]})
    assert max(np.abs(ref_weights[-1][n] - params[n]).max() for n in ref_weights[-1]) > 1e-3
    if rule.feedback != "symmetric":   # many trials in one Simulate: the losses from the potentials too
        losses = sim.run_trials([t[0] for t in trials], [t[1] for t in trials], [t[2] for t in trials])
        assert len(losses) == 3 and np.all(np.isfinite(losses)) and np.all(losses > 0)


@pytest.mark.parametrize("case", ["ostl-snu-feedforward", "eprop-alif-recurrent", "eprop-lif-recurrent-random"])
@pytest.mark.parametrize("activation", ["linear", "softmax"])
def test_readouts_learn_their_bias_on_nest_like_the_reference(network_class, case, activation):
    """The readout's bias learns in the readout neuron (learn_bias: a synapse whose input is 1 at
    every step, its own optimiser state): after every update the weights and the biases equal the
    reference engine's (1e-9), for SGD and Adam, linear and softmax readouts."""
    net, params, rule, feedback, trials, optimizer = _setup(case, 4)
    net = Network(net.n_in, net.layers, Readout(net.n_out, activation=activation, leak=net.readout.leak))
    if activation == "softmax":
        rng = np.random.default_rng(4)
        trials = [(x, np.eye(net.n_out)[rng.integers(0, net.n_out, size=len(x))], mask) for x, _, mask in trials]
    names = _weights(net) + ["readout.b"]
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer, names=names)
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        trainable=names)
    for k, (x, target, mask) in enumerate(trials):
        loss, _ = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        _assert_weights(dict(sim.weights(), **{"readout.b": sim.neuron_parameter_state("readout.b")["value"]}),
                        ref_weights[k])
    assert np.abs(ref_weights[-1]["readout.b"] - params["readout.b"]).max() > 1e-3, "the bias did not learn"


@pytest.mark.parametrize("case, regularisation", [
    ("ostl-snu-feedforward", None), ("ostl_no_h-snu-recurrent", None), ("ostl_rnd-soft_snu", None),
    ("osttp-snu", {"c_reg": 20.0, "f_target": 0.05})])
def test_hidden_neurons_learn_their_own_parameter_on_nest_like_the_reference(network_class, case, regularisation):
    """An SNU's bias and a soft-reset SNU's threshold learn in the neuron (learn_neuron_param: the
    NESTML model computes the parameter's eligibility trace, generated from the reference cell;
    the neuron keeps it until its learning signal arrives): every parameter of the network after
    every update equals the reference engine's (1e-9), with the regulariser too."""
    from nestml_models.support import learnable_names, neuron_parameter_names

    net, params, rule, feedback, trials, optimizer = _setup(case, 6)
    names = learnable_names(net)
    hidden_param = f"layer0.{net.layers[0].cell.neuron_param}"
    assert hidden_param in names
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer, regularisation, names=names)
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        trainable=names, regularisation=regularisation)
    for k, (x, target, mask) in enumerate(trials):
        loss, _ = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        learned = dict(sim.weights(), **{name: sim.neuron_parameter_state(name)["value"]
                                         for name in neuron_parameter_names(net)})
        _assert_weights(learned, ref_weights[k])
    assert np.abs(ref_weights[-1][hidden_param] - params[hidden_param]).max() > 1e-3, "it did not learn"


#: a regulariser strong enough to move the weights 10^4 times the tolerance (checked below)
REGULARISER = {"c_reg": 20.0, "f_target": 0.05}


@pytest.mark.parametrize("case", list(CASES))
def test_nest_learning_with_the_rate_regulariser_equals_reference(network_class, case):
    """Firing-rate regularisation (ostl.regularisation) in NEST: the hidden neurons count their
    outputs per trial, the synapses sum their unfiltered traces (the closed form's fourth
    coordinate; ALIF step by step) and add r_j sum_t e^t at each trial end: the reference
    engine's weights after every update, its losses and the regulariser's values."""
    net, params, rule, feedback, trials, optimizer = _setup(case, 2)
    regularisation_values = []
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer, REGULARISER,
                                         regularisation_values)
    _, plain_weights = _reference(net, params, rule, feedback, trials, optimizer)
    effect = max(np.abs(ref_weights[-1][n] - plain_weights[-1][n]).max() / np.abs(plain_weights[-1][n]).max()
                 for n in ("layer0.W",))
    assert effect > 1e-5, "the regulariser must change the weights (10^4 times the tolerance)"
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        regularisation=REGULARISER)
    for k, (x, target, mask) in enumerate(trials):
        loss, outputs = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
        _assert_weights(sim.weights(), ref_weights[k])
    np.testing.assert_allclose(sim.regularisation_losses(), regularisation_values, rtol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_eligibility_vectors_traces_and_gradients_during_trials(network_class, case):
    """The synapses' own state, read in the middle of trials, is the reference's: eligibility
    vectors, filtered eligibility traces and gradients, for every rule and cell (the closed form
    of D = 1 cells and the per-step recursion of ALIF, issue 22). Sparse inputs, two silent input
    neurons and one that falls silent after the first trial (its synapses catch up across the
    trial boundary and the pause); reads in both trials, after the deferred update between them."""
    steps = 100
    net, params, rule, feedback, trials, optimizer = _setup(case, 3, steps=steps, n_trials=2)
    rng = np.random.default_rng(31)
    for k, (x, _, _) in enumerate(trials):
        x[...] = rng.random(x.shape) < 0.04     # sparse: gaps of ~25 steps, many crossing segments
        x[:, :2] = 0.0                           # silent
        x[:, 2] = 0.0 if k else x[:, 2]          # silent from the second trial on
        x[[5, 60], 2] = 0.0 if k else 1.0
    names = _weights(net)
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=names, block=1)
    opt = make_optimizer(optimizer)
    records = []
    for x, target, mask in trials:
        result = learner.run(x, target, mask, record=("eligibility_vector", "eligibility_trace", "gradient"))
        records.append(result.records)
        opt.step(learner.params, {k: result.grads[k] for k in names})
    sim = network_class(net, rule, params, steps=steps, feedback=feedback, optimizer=optimizer)
    from nestml_models.parameters import HIDDEN_FIRST_STEP

    checked = 0
    # (at a trial's last step NEST reports the gradient and filtered trace after the trial's update
    # and reset, the reference's record is before it; the eligibility vector is that step's)
    for k, stop in ((0, 40), (0, 77), (1, 3), (1, 58), (1, steps - 2), (1, steps - 1)):
        if nest.biological_time <= k * sim.period:   # the trial's inputs, after the last one's update
            if k:
                nest.Simulate(float(k * sim.period) - nest.biological_time)
                sim._follow_readout()   # symmetric feedback follows the trained readout (run_trial does)
            sim._schedule([sim._check_trial(*trials[k])], k)
        # simulate so that hidden step ``stop`` of trial k is complete: updates up to stop + 2 + lag 2
        nest.Simulate(float(HIDDEN_FIRST_STEP + k * sim.period + stop + 3) - nest.biological_time)
        record = records[k]
        for name in names:
            on = net.masks().get(name, np.ones(params[name].shape)) > 0   # no autapses in NEST
            if name not in record["eligibility_vector"]:
                continue   # the readout's synapses (a step later in NEST): by the weights after each trial
            last = stop == steps - 1
            grad = sim.synapse_state(name, "gradient")
            ref_grad = np.sum(record["gradient"][name][:stop + 1], axis=0)   # per-step contributions
            if not last:
                np.testing.assert_allclose(grad[on], ref_grad[on], rtol=0, atol=1e-9 * np.abs(ref_grad).max(),
                                           err_msg=f"{name} gradient trial {k}")
            eps = sim.synapse_state(name, "eligibility_vector")
            ref = record["eligibility_vector"][name][stop]       # (post, state, pre) or (post, pre)
            ref = ref if ref.ndim == 3 else ref[:, None, :]
            for a in range(ref.shape[1]):
                np.testing.assert_allclose(eps[..., a][on], ref[:, a, :][on], rtol=0,
                                           atol=1e-9 * np.abs(ref).max(), err_msg=f"{name} eps[{a}] trial {k}")
            trace = sim.synapse_state(name, "eligibility_trace_filtered")
            ref_trace = record["eligibility_trace"][name][stop]
            if not last:
                np.testing.assert_allclose(trace[on], ref_trace[on], rtol=0, atol=1e-9 * np.abs(ref_trace).max(),
                                           err_msg=f"{name} trace trial {k}")
            checked += int(np.abs(ref).max() > 0 and np.abs(ref_grad).max() > 0)
    assert checked >= 2 * (len(names) - 1)
    nest.Simulate(float(2 * sim.period) - nest.biological_time)   # to the end of the second trial
    final = sim.weights()
    for name in names:
        np.testing.assert_allclose(final[name], learner.params[name], rtol=0,
                                   atol=1e-9 * np.abs(learner.params[name]).max(), err_msg=name)


def test_large_network_1000_steps(network_class):
    """50 inputs, 50 recurrent ALIF neurons, 1000 steps, two trials with Adam."""
    net, params, rule, feedback, trials, optimizer = _setup("eprop-alif-recurrent", 7, n_in=50, n_hidden=50,
                                                             steps=1000, n_trials=2)
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=1000, feedback=feedback, optimizer=optimizer, record_outputs=False)
    for k, (x, target, mask) in enumerate(trials):
        loss, _ = sim.run_trial(x, target, mask)
        np.testing.assert_allclose(loss, ref_losses[k], rtol=1e-9)
    _assert_weights(sim.weights(), ref_weights[-1])


def test_many_trials_in_one_simulate_equal_trial_by_trial(network_class):
    net, params, rule, feedback, trials, optimizer = _setup("eprop-lif-recurrent-random", 4, n_trials=4)
    ref_losses, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        record_outputs=False)
    losses = sim.run_trials([t[0] for t in trials], [t[1] for t in trials], [t[2] for t in trials])
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-9)
    _assert_weights(sim.weights(), ref_weights[-1])


def test_two_threads_give_the_same_weights(network_class):
    net, params, rule, feedback, trials, optimizer = _setup("eprop-lif-recurrent-random", 5)
    results = []
    for threads in (1, 2):
        sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                            threads=threads, record_outputs=False)
        for x, target, mask in trials:
            sim.run_trial(x, target, mask)
        results.append(sim.weights())
    for name in results[0]:
        # learning signals from several readouts may arrive in another order: equal to rounding
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=0,
                                   atol=1e-12 * np.abs(results[0][name]).max())


@pytest.mark.parametrize("change, message", [
    ({"mode": "online"}, "mode must be 'deferred' on NEST"),
    ({"clip": 1.0}, "gradient clipping"),
    ({"trainable": ["layer0.W", "layer0.threshold"]}, "layer0.threshold are not parameters of this network"),
    ({"rule": "ostl", "recurrent": True}, "exact OSTL traces"),
])
def test_unsupported_settings_are_refused_before_building(change, message):
    from nestml_models.support import check_supported

    readout = Readout(2, activation=change.get("readout", "linear"))
    net = Network(3, [Layer(4, SNU(), recurrent=change.get("recurrent", False))], readout)
    optimizer = {"name": "sgd", "lr": 0.1, **({"clip": change["clip"]} if "clip" in change else {})}
    with pytest.raises(ParameterError, match=message):
        check_supported(net, change.get("rule", "ostl_rnd"), change.get("mode", "deferred"), optimizer,
                        change.get("trainable"))


def test_bad_trials_and_models_are_refused(network_class):
    net, params, rule, feedback, trials, optimizer = _setup("ostl_rnd-soft_snu", 0, steps=30, n_trials=1)
    sim = network_class(net, rule, params, steps=30, feedback=feedback, optimizer=optimizer)
    x, target, mask = trials[0]
    with pytest.raises(ParameterError, match="trial length must be 30"):
        sim.run_trial(x[:20], target[:20])
    with pytest.raises(ParameterError, match="binary spike input"):
        sim.run_trial(x * 0.5, target)
    # NEST's own checks, with the parameter and its range
    with pytest.raises(nest.NESTErrors.BadProperty, match="optimizer must be 'sgd' or 'adam'"):
        nest.SetDefaults("ostl_synapse", {"optimizer": "rmsprop"})
    with pytest.raises(nest.NESTErrors.BadProperty, match="delay must be one simulation step"):
        nest.Connect(sim.parrots[:1], sim.hidden[:1], "one_to_one", {"synapse_model": "ostl_synapse", "delay": 2.0})
    with pytest.raises(nest.NESTErrors.IllegalConnection, match="target must be a learning neuron"):
        nest.Connect(sim.parrots[:1], sim.parrots[1:2], "one_to_one", {"synapse_model": "ostl_synapse"})
    sim.hidden.set(pause_steps=1)
    with pytest.raises(nest.NESTErrors.BadProperty, match="pause_steps must be at least 2"):
        nest.Simulate(1.0)


@pytest.mark.parametrize("case", list(CASES))
def test_nest_batches_equal_reference(network_class, case):
    """batch_size 2: the synapses sum two trials' gradients and apply their average after the
    second (NEST's e-prop batch_size; the trainer's batches): the weights stay through a batch's
    first trial and then equal the reference engine's averaged update (1e-9)."""
    net, params, rule, feedback, trials, optimizer = _setup(case, 3, n_trials=4)
    names = _weights(net)
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=names, block=1)
    opt = make_optimizer(optimizer)
    expected = []
    for first in range(0, len(trials), 2):
        grads = [learner.run(*trial).grads for trial in trials[first:first + 2]]
        opt.step(learner.params, {k: (grads[0][k] + grads[1][k]) / 2 for k in names})
        expected.append({k: learner.params[k].copy() for k in names})
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        batch_size=2)
    before = {n: params[n] for n in names}
    for k, trial in enumerate(trials):
        sim.run_trial(*trial)
        weights = sim.weights()
        if k % 2 == 0:   # inside a batch: unchanged
            for name in names:
                np.testing.assert_array_equal(weights[name], before[name], err_msg=name)
        else:
            _assert_weights(weights, expected[k // 2])
        before = weights
    moved = max(np.abs(expected[-1][n] - params[n]).max() for n in names)
    assert moved > 1e-3, "the weights did not learn"


@pytest.mark.parametrize("batch_size, regularisation", [(1, None), (3, {"c_reg": 5.0, "f_target": 0.02})])
def test_trainer_on_nest_equals_reference_and_resumes_exactly(network_class, tmp_path, batch_size, regularisation):
    """Through the trainer, saved and resumed: batch 1, and batches of 3 with the firing-rate
    regulariser (the synapses average a batch's gradients; the trainer reads the weights back after
    each batch)."""
    from ostl import presets
    from ostl.tasks import make_task
    from ostl.training import Trainer

    task = make_task({"name": "pattern_generation", "seed": 0, "steps": 150})
    rule = make_rule("eprop", feedback="random")
    net = presets.build_network(task, rule, cell="alif", hidden=16, recurrent=True)
    names = _weights(net) + ["readout.b"]   # the readouts learn their bias, Adam's state saved and restored
    optimizer = {"name": "adam", "lr": 0.005}

    def trainer(backend):
        return Trainer(task, net, rule, optimizer, trainable=names, backend=backend, seed=3,
                       init=presets.INIT_DEFAULTS, batch_size=batch_size, regularisation=regularisation)

    reference, on_nest = trainer("reference"), trainer("nest")
    reference.train(3)
    on_nest.train(2)
    path = tmp_path / "state.npz"
    on_nest.save(path)
    resumed = Trainer.load(path)
    resumed.train(3)
    np.testing.assert_allclose([h["loss"] for h in resumed.history], [h["loss"] for h in reference.history],
                               rtol=1e-9)
    _assert_weights(resumed.params, {n: reference.params[n] for n in names})
    for name in names:
        np.testing.assert_allclose(resumed.optimizer.m[name], reference.optimizer.m[name], rtol=0,
                                   atol=1e-9 * np.abs(reference.optimizer.m[name]).max())
    assert resumed.optimizer.t == reference.optimizer.t == 3
    if regularisation is not None:
        np.testing.assert_allclose([h["regularisation_loss"] for h in resumed.history],
                                   [h["regularisation_loss"] for h in reference.history], rtol=1e-12)


def test_command_line_trains_on_nest(network_class, tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "ostl", "train", "--backend", "nest", "--nest-threads", "2",
                          "--steps", "100", "--hidden", "12", "--iterations", "3", "--no-progress", "--no-plot",
                          "--out", tmp_path / "run"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "final: iteration 3" in run.stdout
    assert (tmp_path / "run" / "state.npz").exists()


def _command_line_run_equals_reference(tmp_path, *argv):
    """``ostl train --backend nest ARGV`` (two iterations, with a summary): the run its checkpoint
    describes (NEST learns the weights), trained on the reference engine, has the same losses,
    metric, regulariser values and weights. Returns the NEST run's summary."""
    import json
    import subprocess
    import sys

    from ostl.training import Trainer, read_checkpoint

    done = subprocess.run([sys.executable, "-m", "ostl", "train", "--backend", "nest", "--iterations", "2",
                           "--no-progress", "--no-plot", "--out", str(tmp_path / "run"), "--summary-json",
                           str(tmp_path / "s.json"), *argv], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    on_nest = Trainer.load(tmp_path / "run" / "state.npz")
    config = read_checkpoint(tmp_path / "run" / "state.npz")["config"]
    reference = Trainer(config["task"], config["network"], make_rule(config["rule"]), config["optimizer"],
                        batch_size=config["batch_size"], seed=config["seed"], init=config["init"],
                        trainable=config["trainable"], regularisation=config["regularisation"])
    for name, matrix in reference.feedback.items():
        np.testing.assert_array_equal(on_nest.feedback[name], matrix)
    reference.train(2)
    for key in summary["curve"][0]:
        if key != "iteration":
            np.testing.assert_allclose([e[key] for e in summary["curve"]], [h[key] for h in reference.history],
                                       rtol=1e-9, err_msg=key)
    _assert_weights(on_nest.params, {n: reference.params[n] for n in _weights(reference.network)})
    return summary, config


def test_command_line_trains_deep_networks_in_batches_on_nest_like_the_reference(network_class, tmp_path):
    """``ostl train --backend nest --layers 2 --feedback random_direct --batch-size 2 --c-reg ...``."""
    summary, config = _command_line_run_equals_reference(
        tmp_path, "--task", "pattern_generation", "--steps", "100", "--rule", "eprop", "--feedback", "random_direct",
        "--layers", "2", "--hidden", "10", "--batch-size", "2", "--optimizer", "sgd", "--lr", "0.05", "--c-reg", "5",
        "--f-target", "20")
    assert len(config["network"]["layers"]) == 2 and config["batch_size"] == 2
    assert all(entry["regularisation_loss"] > 0 for entry in summary["curve"])


def test_command_line_classifies_on_nest_like_the_reference(network_class, tmp_path):
    """``ostl train --task evidence_accumulation --backend nest`` with the task's defaults (recurrent
    ALIF, softmax readout with cross-entropy, batches of 32, Adam, NEST's firing-rate regulariser):
    the reference engine's run."""
    summary, config = _command_line_run_equals_reference(tmp_path, "--task", "evidence_accumulation",
                                                         "--rule", "eprop", "--hidden", "20")
    assert config["network"]["readout"]["activation"] == "softmax" and config["batch_size"] == 32
    assert config["regularisation"] == {"c_reg": 300.0, "f_target": 0.01}
    assert "accuracy" in summary["curve"][0]


def test_the_weight_recorder_sees_the_reference_weights(network_class):
    """NestNetwork(record_weights=True): NEST's weight_recorder on our plastic synapses records, at
    every spike a synapse transmits, the weight the reference engine has after the trials before
    (measured: every one of 17,502 events to 1e-9 of the matrix's scale)."""
    from nestml_models.parameters import HIDDEN_FIRST_STEP

    net, params, rule, feedback, trials, optimizer = _setup("eprop-lif-recurrent-random", 0)
    _, ref_weights = _reference(net, params, rule, feedback, trials, optimizer)
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        record_weights=True)
    for trial in trials:
        sim.run_trial(*trial)
    events = sim.recorded_weights()
    trial_of = (np.rint(events["times"]).astype(int) - HIDDEN_FIRST_STEP) // sim.period
    checked = 0
    for name, (pre, post, _) in sim.projections.items():
        s0, t0 = pre[0].global_id, post[0].global_id
        mine = (events["senders"] >= s0) & (events["senders"] < s0 + len(pre)) & (events["targets"] >= t0) & \
            (events["targets"] < t0 + len(post))
        before = [params[name]] + [w[name] for w in ref_weights]   # the weights during trial k: after k updates
        expected = np.array([before[k][t - t0, s - s0] for k, s, t in
                             zip(trial_of[mine], events["senders"][mine], events["targets"][mine])])
        np.testing.assert_allclose(events["weights"][mine], expected, rtol=0, atol=1e-9 * np.abs(params[name]).max(),
                                   err_msg=name)
        assert len(set(trial_of[mine].tolist())) == len(trials), name   # every trial's weights were seen
        checked += int(mine.sum())
    assert checked == len(events["times"]) > 1000


@pytest.mark.parametrize("case", ["osttp-snu", "eprop-alif-recurrent"])
def test_a_multimeter_records_the_hidden_learning_signal_and_factors(network_class, case):
    """The hidden neurons' ``learning_signal`` is a multimeter recordable, as NEST's eprop_iaf's: the
    signal as it arrives, ``readout_lag`` + 1 updates after its step (recorded one update later
    still, at the update's end); the per-step factors are recordables of the step itself. Equal to
    the reference's learning signal (the target projection for OSTTP) and pseudo-derivative."""
    from nestml_models.parameters import HIDDEN_FIRST_STEP

    net, params, rule, feedback, trials, optimizer = _setup(case, 2, n_trials=2)
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=_weights(net), block=1)
    opt = make_optimizer(optimizer)
    records = []
    for x, target, mask in trials:
        result = learner.run(x, target, mask, record=("learning_signal", "state"))
        records.append(result.records)
        opt.step(learner.params, {k: result.grads[k] for k in _weights(net)})
    sim = network_class(net, rule, params, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer)
    meter = nest.Create("multimeter", {"record_from": ["learning_signal", "pseudo_derivative"], "interval": 1.0})
    nest.Connect(meter, sim.hidden)
    for trial in trials:
        sim.run_trial(*trial)
    lag = int(sim.hidden[0].get("readout_lag"))
    nest.Simulate(float(lag + 2))   # until the last step's signal is recorded
    events = meter.events
    t0 = sim.hidden[0].global_id
    steps = trials[0][0].shape[0]
    signal = np.full((len(trials) * sim.period + HIDDEN_FIRST_STEP + lag + 2, len(sim.hidden)), np.nan)
    pseudo = np.full_like(signal, np.nan)
    stamps = np.rint(events["times"]).astype(int)
    signal[stamps, events["senders"] - t0] = events["learning_signal"]
    pseudo[stamps, events["senders"] - t0] = events["pseudo_derivative"]
    for k, record in enumerate(records):
        start = HIDDEN_FIRST_STEP + k * sim.period   # the trial's first update, recorded at start + 1 ms
        expected = np.asarray(record["learning_signal"][0])           # (steps, hidden)
        np.testing.assert_allclose(signal[start + lag + 2:start + lag + 2 + steps], expected, rtol=0,
                                   atol=1e-12 * np.abs(expected).max(), err_msg=f"learning signal, trial {k}")
        assert np.abs(expected).max() > 0
    assert np.all(signal[:HIDDEN_FIRST_STEP + lag + 2][1:] == 0.0)   # before the first step's signal: none
    assert np.any(pseudo[HIDDEN_FIRST_STEP + 1:HIDDEN_FIRST_STEP + 1 + steps] > 0)


def test_long_runs_do_not_slow_nest_status_calls_down(network_class):
    """Trials with silent pauses made NEST shrink and regrow its spike buffer twice a trial and log
    every resize in the kernel status, which every GetKernelStatus (every SynapseCollection.get)
    converts: status calls grew 4x slower in 30 trials, a 1,600-trial run several times slower. The
    buffer no longer shrinks: the log stays short however many trials run."""
    net, params, rule, feedback, _, optimizer = _setup("eprop-lif-recurrent-random", 0, steps=60)
    rng = np.random.default_rng(1)
    sim = network_class(net, rule, params, steps=60, feedback=feedback, optimizer=optimizer, record_outputs=False)
    for _ in range(40):
        sim.run_trial(poisson_input(rng, 60, net.n_in, prob=0.2), rng.normal(size=(60, net.n_out)))
    resizes = len(sim.nest.GetKernelStatus("spike_buffer_resize_log")["times"])
    assert resizes <= 5, f"{resizes} spike buffer resizes in 40 trials"


def test_the_regulariser_of_a_silent_layer_is_its_target_rate_squared(network_class):
    """No hidden spike at all (zero weights): the recorder holds nothing, and E_reg is the
    reference engine's c_reg / 2 sum_j f_target^2 (it raised an IndexError on the empty record)."""
    net, params, rule, feedback, trials, optimizer = _setup("eprop-lif-recurrent-random", 0, n_trials=1)
    silent = {name: np.zeros_like(value) if name.endswith((".W", ".H")) else value for name, value in params.items()}
    sim = network_class(net, rule, silent, steps=trials[0][0].shape[0], feedback=feedback, optimizer=optimizer,
                        regularisation=REGULARISER)
    sim.run_trial(*trials[0])
    expected = 0.5 * REGULARISER["c_reg"] * net.layers[0].size * REGULARISER["f_target"] ** 2
    np.testing.assert_allclose(sim.regularisation_losses(), [expected], rtol=1e-12)
