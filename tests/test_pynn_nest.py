"""The PyNN layer on pyNN.nest: the same scripts as on pyNN.brian2 learn the same weights
as the reference engine (and as pyNN.brian2), for every rule NEST supports; what NEST
cannot run exactly is refused before the first step."""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("nest")
pytest.importorskip("pyNN.nest")

import pyNN.nest as sim  # noqa: E402
from pyNN.parameters import Sequence  # noqa: E402

import nestml_models  # noqa: E402
import pyNN_ostl  # noqa: E402
from ostl import (  # noqa: E402
    ALIF,
    LIF,
    SNU,
    Adam,
    Layer,
    Network,
    OnlineLearner,
    ParameterError,
    Readout,
    SoftResetSNU,  # noqa: E402
)
from ostl.errors import BackendUnavailableError  # noqa: E402
from ostl.optim import make_optimizer  # noqa: E402
from ostl.rules import make_rule  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import pynn_pattern_generation as example  # noqa: E402

from .helpers import pynn_example_reference, relative_deviation  # noqa: E402

ostl = pyNN_ostl.for_simulator(sim)
SOFTMAX_PAUSE_STEPS = ostl.SOFTMAX_PAUSE_STEPS


@pytest.fixture(scope="module", autouse=True)
def nest_models():
    try:
        nestml_models.build()
    except BackendUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))


def test_one_script_learns_the_same_weights_on_nest_brian2_and_the_reference():
    """The portability contract: examples/pynn_pattern_generation.py, unchanged, on
    pyNN.nest and pyNN.brian2 (relative 1e-6; measured ~1e-15)."""
    import pyNN.brian2 as sim_brian2

    iterations = 4
    on_nest = example.build_and_run(sim, iterations=iterations)
    on_brian2 = example.build_and_run(sim_brian2, iterations=iterations)
    params, losses = pynn_example_reference(example, iterations)
    for name, key in (("W", "layer0.W"), ("W_out", "readout.W")):
        assert relative_deviation(on_nest[name], params[key]) < 1e-6, name
        assert relative_deviation(on_brian2[name], params[key]) < 1e-6, name
        assert relative_deviation(on_nest[name], on_brian2[name]) < 1e-6, name
        assert relative_deviation(on_nest[name], on_nest["initial_params"][key]) > 1e-3  # it learned
    np.testing.assert_allclose(on_nest["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(on_nest["loss"], on_brian2["loss"], rtol=1e-6)
    # recorded outputs and hidden spikes carry the same times on both simulators, except in
    # the pause at each trial's end (NEST rests there, Brian2 runs on without input or loss)
    steps = on_nest["target"].shape[0]
    active = np.tile(np.arange(steps) < steps - example.PAUSE, iterations)
    assert np.sum(~active) == iterations * example.PAUSE
    np.testing.assert_allclose(on_nest["output"][active], on_brian2["output"][active], rtol=1e-6, atol=1e-9)
    count = 0
    for a, b in zip(on_nest["hidden"].spiketrains, on_brian2["hidden"].spiketrains):
        a, b = (np.round(np.asarray(train.magnitude)).astype(int) for train in (a, b))   # ms = steps
        keep_a, keep_b = (times[active[times]] for times in (a, b))
        np.testing.assert_array_equal(keep_a, keep_b)
        count += keep_a.size
    assert count > 100
    # the learning signal, read with ostl.get_data, on the same grid (sample k: the end of step k - 1)
    signals = [pyNN_ostl.signal_array(run["hidden"].filter(name="learning_signal")[0])[1:1 + iterations * steps]
               for run in (on_nest, on_brian2)]
    np.testing.assert_allclose(signals[0][active], signals[1][active], rtol=0,
                               atol=1e-9 * np.abs(signals[1]).max())
    assert np.abs(signals[1][active]).max() > 0


# -- every rule on pyNN.nest, against the reference engine -------------------------------------
STEPS, PAUSE, N_IN, N_HIDDEN, N_OUT = 60, 4, 6, 7, 2
CASES = {
    # name: (PyNN cell, reference cell, recurrent, rule, feedback kind, readout leak)
    "ostl-snu": (lambda types: types.SNU(decay=0.8, bias=-0.1, learn_bias=False, pseudo="tanh"),
                 SNU(decay=0.8, pseudo="tanh"), False, "ostl", "symmetric", 0.6),
    "ostl_no_h-softreset-recurrent": (lambda types: types.SoftResetSNU(decay=0.9, threshold=0.5, learn_threshold=False),
                                      SoftResetSNU(decay=0.9), True, "ostl_no_h", "symmetric", 0.0),
    "ostl_rnd-snu": (lambda types: types.SNU(decay=0.7, bias=0.0, learn_bias=False), SNU(decay=0.7), False, "ostl_rnd",
                     "random", 0.5),
    "osttp-snu": (lambda types: types.SNU(decay=0.8, bias=0.0, learn_bias=False), SNU(decay=0.8), False, "osttp",
                  "target_projection", 0.0),
    "eprop-lif-recurrent": (lambda types: types.LIF(tau_m=20.0, v_th=0.4), LIF(tau_m=20.0, v_th=0.4), True, "eprop",
                            "random", 0.7),
    "eprop-alif-recurrent": (lambda types: types.ALIF(tau_m=20.0, tau_a=100.0, beta=0.5, v_th=0.4),
                             ALIF(tau_m=20.0, tau_a=100.0, beta=0.5, v_th=0.4), True, "eprop", "symmetric", 0.7),
    # the hidden neurons learn their own parameter (learn_bias / learn_threshold by default)
    "ostl-snu-learned-bias": (lambda types: types.SNU(decay=0.8, bias=-0.1, pseudo="tanh"),
                              SNU(decay=0.8, pseudo="tanh"), False, "ostl", "symmetric", 0.6),
    "ostl_no_h-softreset-learned-threshold": (lambda types: types.SoftResetSNU(decay=0.9, threshold=0.5),
                                              SoftResetSNU(decay=0.9), True, "ostl_no_h", "symmetric", 0.0),
}


def _case_data(seed, activation="linear"):
    """Inputs, targets and loss mask of a trial; a softmax readout's targets are one-hot and its
    trials keep one more step silent (pyNN_ostl.nest.SOFTMAX_PAUSE_STEPS)."""
    pause = SOFTMAX_PAUSE_STEPS if activation == "softmax" else PAUSE
    rng = np.random.default_rng(seed)
    x = (rng.random((STEPS, N_IN)) < 0.25).astype(float)
    x[:3] = 0.0
    x[STEPS - pause:] = 0.0
    target = rng.normal(size=(STEPS, N_OUT))
    if activation == "softmax":
        target = np.eye(N_OUT)[(np.arange(STEPS) // 20 + seed) % N_OUT]
    mask = np.ones(STEPS)
    mask[:2] = 0.0
    mask[STEPS - pause:] = 0.0
    return x, target, mask


def _case_network(name, seed, activation="linear"):
    """The reference network, initial parameters, feedback and data of case ``name``."""
    _, ref_cell, recurrent, rule_name, feedback_kind, leak = CASES[name]
    rule = make_rule(rule_name, feedback=feedback_kind if rule_name == "eprop" else None)
    autapses = name != "eprop-alif-recurrent"   # one case without self-connections
    net = Network(N_IN, [Layer(N_HIDDEN, ref_cell, recurrent=recurrent, autapses=autapses)],
                  Readout(N_OUT, activation, leak=leak))
    params = net.init_params(seed=seed, weight_scale=2.0, readout_scale=1.0)
    if isinstance(ref_cell, SNU):
        params["layer0.bias"][:] = CASES[name][0](ostl).parameter_space["bias"].base_value
    if isinstance(ref_cell, SoftResetSNU):
        params["layer0.threshold"][:] = 0.5
    params["readout.b"][:] = 0.0
    feedback = rule.make_feedback(net, seed=seed + 1)
    return net, rule, params, feedback, _case_data(seed, activation)


def _build_case(simulator, name, params, feedback, data, iterations, threads=1, learn_bias=False,
                activation="linear"):
    """Case ``name`` as a PyNN script on ``simulator`` (pyNN.nest or pyNN.brian2); returns its
    (ostl translation, populations, projections)."""
    make_cell, _, recurrent, rule_name, feedback_kind, leak = CASES[name]
    autapses = name != "eprop-alif-recurrent"
    x, target, mask = data
    types = pyNN_ostl.for_simulator(simulator)
    types.setup(timestep=1.0, **({"threads": threads} if threads > 1 else {}))
    inputs = simulator.Population(N_IN, simulator.SpikeSourceArray(
        spike_times=types.spike_times(np.tile(x, (iterations, 1)))))
    hidden = simulator.Population(N_HIDDEN, make_cell(types), label="hidden")
    targets = np.tile(target, (iterations, 1))
    readout = simulator.Population(N_OUT, types.Readout(leak=leak, learn_bias=learn_bias, activation=activation,
                                                        target=[Sequence(targets[:, k]) for k in range(N_OUT)],
                                                        loss_mask=Sequence(np.tile(mask, iterations))))
    synapse = types.EPropSynapse if rule_name == "eprop" else types.OSTLSynapse
    plastic = dict(rule=rule_name, learning_rate=0.01, optimizer="adam", trial_duration=STEPS)
    if rule_name == "eprop":
        plastic["feedback"] = feedback_kind
    projections = {"layer0.W": simulator.Projection(inputs, hidden, simulator.AllToAllConnector(),
                                                    synapse(weight=params["layer0.W"].T, **plastic))}
    if recurrent:
        projections["layer0.H"] = simulator.Projection(
            hidden, hidden, simulator.AllToAllConnector(allow_self_connections=autapses),
            synapse(weight=params["layer0.H"].T, **plastic), receptor_type="recurrent")
    projections["readout.W"] = simulator.Projection(hidden, readout, simulator.AllToAllConnector(),
                                                    types.ReadoutSynapse(weight=params["readout.W"].T))
    B = feedback.get("feedback.readout", feedback.get("feedback.layer0"))
    simulator.Projection(readout, hidden, simulator.AllToAllConnector(),
                         types.LearningSignalConnection(feedback=feedback_kind, weight=0.0 if B is None else B.T))
    return types, hidden, readout, projections


def _run_case(name, iterations=3, seed=4, split=None, threads=1, learn_bias=False, activation="linear"):
    net, rule, params, feedback, (x, target, mask) = _case_network(name, seed, activation)
    _, hidden, readout, projections = _build_case(sim, name, params, feedback, (x, target, mask), iterations,
                                                  threads, learn_bias, activation)
    if split is None:
        ostl.run(iterations * STEPS)
    else:  # several runs, stopping anywhere in a trial
        for duration in split:
            ostl.run(duration)
    result = {key: np.nan_to_num(projection.get("weight", format="array").T)   # NaN: no connection
              for key, projection in projections.items()}
    if learn_bias:
        result["readout.b"] = np.asarray(readout.get("bias"), dtype=float)
    parameter = hidden.celltype.neuron_parameter
    if parameter and hidden.celltype.learned[parameter]:   # the hidden neurons learn it
        result[f"layer0.{parameter}"] = np.asarray(hidden.get(parameter), dtype=float)
    sim.end()

    trainable = [k for k in params if k.endswith((".W", ".H")) or k in result]
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=trainable)
    optimizer = Adam(0.01)
    for _ in range(iterations):
        res = learner.run(x, target, mask)
        optimizer.step(learner.params, res.grads)
    return result, learner.params, params


@pytest.mark.parametrize("name", list(CASES))
def test_every_rule_on_pynn_nest_equals_the_reference(name):
    result, reference, initial = _run_case(name)
    for key, value in result.items():
        assert relative_deviation(value, reference[key]) < 1e-9, key
        assert relative_deviation(value, initial[key]) > 1e-4, key   # the weights did change


@pytest.mark.parametrize("name", ["ostl-snu", "ostl_no_h-softreset-recurrent", "eprop-alif-recurrent"])
def test_a_learned_readout_bias_on_pynn_nest_equals_the_reference(name):
    """``Readout(..., learn_bias=True)``: the readout neurons learn their bias in NEST, equal to the
    reference engine with it trainable."""
    result, reference, initial = _run_case(name, learn_bias=True)
    assert "readout.b" in result
    for key, value in result.items():
        assert relative_deviation(value, reference[key]) < 1e-9, key
        assert np.abs(value - initial[key]).max() > 1e-4, key   # it did change


@pytest.mark.parametrize("name", ["ostl-snu", "osttp-snu", "eprop-alif-recurrent"])
def test_softmax_readouts_on_pynn_nest_equal_the_reference(name):
    """``Readout(activation="softmax")``: the readout neurons exchange their potentials (NEST's
    rate connections, as ostl train --backend nest); the script keeps one more step silent at each
    trial's end; the weights (and the learned readout bias) equal the reference engine's."""
    result, reference, initial = _run_case(name, activation="softmax", learn_bias=True)
    assert "readout.b" in result
    for key, value in result.items():
        assert relative_deviation(value, reference[key]) < 1e-9, key
        assert np.abs(value - initial[key]).max() > 1e-4, key   # it did change


# -- chains of hidden populations -----------------------------------------------------------------
CHAINS = {
    # name: (PyNN cells, reference cells, recurrent, rule, feedback kind, optimiser); SGD (as
    # ostl train --backend nest's deep cases: Adam magnifies rounding of barely driven synapses)
    "ostl_rnd-snu-snu": ((lambda t: t.SNU(decay=0.8, bias=0.0, learn_bias=False, pseudo="tanh"),
                          lambda t: t.SNU(decay=0.7, bias=0.0, learn_bias=False, pseudo="fast_sigmoid")),
                         (SNU(decay=0.8, pseudo="tanh"), SNU(decay=0.7, pseudo="fast_sigmoid")), False, "ostl_rnd",
                         "random_direct", "sgd"),
    "eprop-alif-lif-recurrent": ((lambda t: t.ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.4),
                                  lambda t: t.LIF(tau_m=10.0, v_th=0.4)),
                                 (ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.4), LIF(tau_m=10.0, v_th=0.4)), True,
                                 "eprop", "random_direct", "sgd"),
}
CHAIN_SIZES = (7, 5)


def _chain(simulator, name, iterations=3, seed=6, record=False):
    """Input -> two hidden populations -> readout, each layer's learning signal directly from the
    readout, on ``simulator``; returns (weights, recordings or None, reference weights, initial)."""
    make_cells, ref_cells, recurrent, rule_name, feedback_kind, optimizer_name = CHAINS[name]
    rule = make_rule(rule_name, feedback=feedback_kind)
    ref_layers = [Layer(n, cell, recurrent=recurrent, autapses=False) for n, cell in zip(CHAIN_SIZES, ref_cells)]
    net = Network(N_IN, ref_layers, Readout(N_OUT, "linear", leak=0.6))
    params = net.init_params(seed=seed, weight_scale=3.0, readout_scale=1.0)
    for index in range(len(CHAIN_SIZES)):
        if f"layer{index}.bias" in params:
            params[f"layer{index}.bias"][:] = 0.0
    params["readout.b"][:] = 0.0
    feedback = rule.make_feedback(net, seed=seed + 1)
    pause = ostl.trial_pause_steps(len(CHAIN_SIZES))
    rng = np.random.default_rng(seed)
    x = (rng.random((STEPS, N_IN)) < 0.3).astype(float)
    x[:3] = x[STEPS - pause:] = 0.0
    target = rng.normal(size=(STEPS, N_OUT))
    mask = np.ones(STEPS)
    mask[:2] = mask[STEPS - pause:] = 0.0

    types = pyNN_ostl.for_simulator(simulator)
    types.setup(timestep=1.0)
    inputs = simulator.Population(N_IN, simulator.SpikeSourceArray(
        spike_times=types.spike_times(np.tile(x, (iterations, 1)))))
    layers = [simulator.Population(n, make(types), label=f"layer{index}")
              for index, (n, make) in enumerate(zip(CHAIN_SIZES, make_cells))]
    targets = np.tile(target, (iterations, 1))
    readout = simulator.Population(N_OUT, types.Readout(leak=0.6, learn_bias=False,
                                                        target=[Sequence(targets[:, k]) for k in range(N_OUT)],
                                                        loss_mask=Sequence(np.tile(mask, iterations))),
                                   label="readout")
    synapse = types.EPropSynapse if rule_name == "eprop" else types.OSTLSynapse
    plastic = dict(rule=rule_name, learning_rate=0.05, optimizer=optimizer_name, trial_duration=STEPS,
                   feedback=feedback_kind)
    projections = {}
    for index, pop in enumerate(layers):
        pre = inputs if index == 0 else layers[index - 1]
        projections[f"layer{index}.W"] = simulator.Projection(
            pre, pop, simulator.AllToAllConnector(), synapse(weight=params[f"layer{index}.W"].T, **plastic))
        if recurrent:
            projections[f"layer{index}.H"] = simulator.Projection(
                pop, pop, simulator.AllToAllConnector(allow_self_connections=False),
                synapse(weight=params[f"layer{index}.H"].T, **plastic), receptor_type="recurrent")
        simulator.Projection(readout, pop, simulator.AllToAllConnector(), types.LearningSignalConnection(
            feedback=feedback_kind, weight=feedback[f"feedback.layer{index}"].T))
    projections["readout.W"] = simulator.Projection(layers[-1], readout, simulator.AllToAllConnector(),
                                                    types.ReadoutSynapse(weight=params["readout.W"].T))
    recorded = None
    if record:
        for pop in layers:
            pop.record(["learning_signal", "pseudo_derivative", "y"])
        readout.record(["output"])
        types.record_synapses(projections["layer1.W"], ["weight", "eligibility_vector"])
    types.run(iterations * STEPS)
    weights = {key: np.nan_to_num(projection.get("weight", format="array").T)
               for key, projection in projections.items()}
    if record:
        recorded = {(pop.label, signal.name): pyNN_ostl.signal_array(signal)
                    for pop in layers + [readout] for signal in types.get_data(pop).segments[0].analogsignals}
        for signal in types.get_synapse_data(projections["layer1.W"]).analogsignals:
            order = np.lexsort((signal.array_annotations["target_index"], signal.array_annotations["source_index"]))
            recorded[("layer1.W", signal.name)] = np.asarray(signal)[:, order]
    simulator.end()
    learner = OnlineLearner(net, rule, params, feedback=feedback, trainable=list(weights))
    optimizer = make_optimizer({"name": optimizer_name, "lr": 0.05})
    for _ in range(iterations):
        result = learner.run(x, target, mask)
        optimizer.step(learner.params, {key: result.grads[key] for key in weights})
    return weights, recorded, learner.params, params


@pytest.mark.parametrize("name", list(CHAINS))
def test_chains_of_hidden_populations_on_pynn_nest_equal_the_reference(name):
    """Two hidden populations in a chain, each with its learning signal directly from the readout:
    pyNN.nest (layer l's trial l updates after the first's; k + 3 silent steps per trial) learns the
    reference engine's weights."""
    weights, _, reference, initial = _chain(sim, name)
    for key, value in weights.items():
        assert relative_deviation(value, reference[key]) < 1e-9, key
        assert np.abs(value - initial[key]).max() > 1e-4, key


def test_a_chain_records_the_same_neo_signals_as_on_pynn_brian2():
    """Recordings of a chain on pyNN.nest (every layer's signals, the readout's output, the upper
    layer's synapses) equal pyNN.brian2's inside trials."""
    import pyNN.brian2 as sim_brian2

    name, iterations = "ostl_rnd-snu-snu", 2
    _, on_nest, _, _ = _chain(sim, name, iterations, record=True)
    _, on_brian2, _, _ = _chain(sim_brian2, name, iterations, record=True)
    assert set(on_nest) == set(on_brian2) and ("layer1", "learning_signal") in on_nest
    pause = ostl.trial_pause_steps(len(CHAIN_SIZES))
    active = np.tile(np.arange(STEPS) < STEPS - pause, iterations)
    for key, values in on_nest.items():
        expected = on_brian2[key]
        assert values.shape == expected.shape, key
        rows = np.r_[False, active] if key[0] in ("layer0", "layer1", "readout") else active
        values, expected = values[rows], expected[rows]
        known = ~np.isnan(values)
        if key == ("layer0", "pseudo_derivative"):
            assert not np.any(known[0]) and np.all(known[1:]), key
        else:
            assert np.all(known), key
        assert np.abs(expected).max() > 0, key
        np.testing.assert_allclose(values[known], expected[known], rtol=0, atol=1e-9 * np.abs(expected).max(),
                                   err_msg=str(key))


def test_a_training_split_over_several_runs_learns_the_same():
    once, _, _ = _run_case("ostl-snu")
    split, _, _ = _run_case("ostl-snu", split=[STEPS + 17, STEPS - 2, 1, STEPS - 16])
    for key in once:
        assert np.array_equal(once[key], split[key]), key


@pytest.mark.parametrize("name", ["ostl-snu", "eprop-alif-recurrent"])
def test_two_threads_learn_the_same_weights_as_one(name):
    one, _, _ = _run_case(name)
    two, _, _ = _run_case(name, threads=2)
    for key in one:   # learning signals from several readouts may be summed in another order
        assert relative_deviation(two[key], one[key]) < 1e-12, key


# -- what pyNN.nest refuses, before the first step ----------------------------------------------
def _small(**overrides):
    options = dict(learn_bias=False, readout_learn_bias=False, mask_start=0.0, pause_mask=0.0, pause_spike=False,
                   mode="deferred", bias=0.0, recurrent_rule=None, timestep=1.0)
    options.update(overrides)
    ostl.setup(timestep=options["timestep"])
    T = 20
    times = [Sequence([4.0, 9.0] + ([T - 2.0] if options["pause_spike"] else []))] * 3
    inp = sim.Population(3, sim.SpikeSourceArray(spike_times=times))
    hid = sim.Population(4, ostl.SNU(decay=0.9, bias=options["bias"], learn_bias=options["learn_bias"]))
    mask = np.ones(T)
    mask[:2] = options["mask_start"]
    mask[T - 4:] = options["pause_mask"]
    out = sim.Population(2, ostl.Readout(target=[Sequence(np.zeros(T))] * 2, loss_mask=Sequence(mask),
                                         learn_bias=options["readout_learn_bias"]))
    trial = None if options["mode"] == "online" else T
    learning = sim.Projection(inp, hid, sim.AllToAllConnector(),
                              ostl.OSTLSynapse(weight=0.5, trial_duration=trial, mode=options["mode"]))
    if options["recurrent_rule"]:
        sim.Projection(hid, hid, sim.AllToAllConnector(), ostl.OSTLSynapse(rule=options["recurrent_rule"],
                                                                            weight=0.1, trial_duration=T),
                       receptor_type="recurrent")
    sim.Projection(hid, out, sim.AllToAllConnector(), ostl.ReadoutSynapse(weight=0.1))
    sim.Projection(out, hid, sim.AllToAllConnector(), ostl.LearningSignalConnection(feedback="symmetric"))
    return hid, learning


@pytest.mark.parametrize("overrides,message", [
    ({"mask_start": 1.0}, "loss_mask must start with 2 zeros"),
    ({"pause_mask": 1.0}, "Readout loss_mask must be 0 there"),
    ({"pause_spike": True}, "input 0 must not spike there"),
    ({"mode": "online"}, "mode must be 'deferred' on NEST"),
    ({"bias": 0.2}, "must be <= 0 on pyNN.nest"),
    ({"recurrent_rule": "ostl"}, "exact OSTL traces"),
])
def test_what_nest_cannot_learn_exactly_is_refused_before_the_run(overrides, message):
    _small(**overrides)
    with pytest.raises(ParameterError, match=message):
        ostl.run(40)
    assert sim.get_current_time() == 0.0
    sim.end()


def test_a_timestep_other_than_one_ms_is_refused_when_connecting():
    with pytest.raises(ParameterError, match=r"call sim.setup\(timestep=1.0\), got timestep=0.5"):
        _small(timestep=0.5)
    sim.end()


def test_synapse_recordings_are_asked_for_before_the_first_run():
    hid, learning = _small()
    with pytest.raises(ParameterError, match=r"must be a subset of \['eligibility_trace', 'eligibility_vector', "
                                             r"'weight'\], got \['gradient'\]"):
        ostl.record_synapses(learning, ["gradient"])
    ostl.run(20.0)
    with pytest.raises(ParameterError, match="before the first run"):
        ostl.record_synapses(learning, ["weight"])
    with pytest.raises(ParameterError, match="nothing recorded for projection"):
        ostl.get_synapse_data(learning)
    sim.end()


# -- recordings: the same Neo blocks as on pyNN.brian2 ---------------------------------------------
def _recordings(simulator, name, iterations, seed=4, activation="linear"):
    """Every hidden variable (``ostl.get_data``) and every projection's synapses (``record_synapses``) of
    case ``name`` on ``simulator``: ``{(population or parameter, variable): (time, channel) array}``
    (synapse channels sorted by (source, target)), and NEST's hidden signals as pyNN.nest records them."""
    _, _, params, feedback, data = _case_network(name, seed, activation)
    types, hidden, readout, projections = _build_case(simulator, name, params, feedback, data, iterations,
                                                      activation=activation)
    hidden.record(list(hidden.celltype.recordable))
    readout.record(["output", "potential"])   # (the target: NEST's devices reach no readout in its first two steps)
    for projection in projections.values():
        types.record_synapses(projection)
    types.run(iterations * STEPS)
    out = {("hidden", signal.name): pyNN_ostl.signal_array(signal)   # (the dispatcher of every simulator)
           for signal in pyNN_ostl.get_data(hidden).segments[0].analogsignals}
    out.update({("readout", signal.name): pyNN_ostl.signal_array(signal)
                for signal in types.get_data(readout).segments[0].analogsignals})
    raw = {signal.name: pyNN_ostl.signal_array(signal) for signal in hidden.get_data().segments[0].analogsignals}
    for key, projection in projections.items():
        for signal in types.get_synapse_data(projection).analogsignals:
            annotations = signal.array_annotations
            order = np.lexsort((annotations["target_index"], annotations["source_index"]))
            out[(key, signal.name)] = np.asarray(signal)[:, order]
    simulator.end()
    return out, raw


@pytest.mark.parametrize("name,activation", [("ostl-snu", "linear"), ("eprop-alif-recurrent", "linear"),
                                             ("ostl-snu", "softmax")])
def test_recordings_are_the_same_neo_signals_as_on_pynn_brian2(name, activation):
    """Issue 24: ``ostl.get_data`` (every hidden variable, the learning signal among them) and
    ``ostl.record_synapses``/``get_synapse_data`` (weights, eligibility vectors and traces of every
    projection) give pyNN.brian2's signals step for step inside trials (relative 1e-9); in each
    trial's pause NEST's neurons rest. pyNN.nest's own ``get_data`` has NEST's timing (the learning
    signal as it arrives): not equal. A softmax readout's outputs are its probabilities."""
    import pyNN.brian2 as sim_brian2

    iterations = 2
    on_nest, raw = _recordings(sim, name, iterations, activation=activation)
    on_brian2, _ = _recordings(sim_brian2, name, iterations, activation=activation)
    assert set(on_nest) == set(on_brian2)
    assert {("hidden", "learning_signal"), ("hidden", "pseudo_derivative"), ("layer0.W", "weight"),
            ("layer0.W", "eligibility_vector"), ("layer0.W", "eligibility_trace"), ("readout.W", "weight")} \
        <= set(on_nest)
    pause = SOFTMAX_PAUSE_STEPS if activation == "softmax" else PAUSE
    active = np.tile(np.arange(STEPS) < STEPS - pause, iterations)   # the steps inside trials
    for key, values in on_nest.items():
        expected = on_brian2[key]
        assert values.shape == expected.shape, key
        # neuron signals: sample k is the end of step k - 1 (sample 0: the initial values)
        rows = np.r_[False, active] if key[0] in ("hidden", "readout") else active
        values, expected = values[rows], expected[rows]
        unknown = np.isnan(values)
        if key == ("hidden", "pseudo_derivative"):   # the first step's factors: NEST does not record them
            assert np.all(unknown[0]) and not np.any(unknown[1:]), key
        else:
            assert not np.any(unknown), key
        scale = np.abs(expected).max()
        assert scale > 0, key
        np.testing.assert_allclose(values[~unknown], expected[~unknown], rtol=0, atol=1e-9 * scale, err_msg=str(key))
    weights = on_nest[("layer0.W", "weight")]
    assert not np.allclose(weights[STEPS], weights[0])   # the weights learned between the trials
    assert np.nanmax(np.abs(on_nest[("layer0.W", "eligibility_trace")])) > 0
    if activation == "softmax":
        np.testing.assert_allclose(on_nest[("readout", "output")][1:].sum(axis=1), 1.0, rtol=1e-12)
    signal = on_brian2[("hidden", "learning_signal")]
    assert not np.allclose(raw["learning_signal"][:signal.shape[0]], signal)


IMPORT_ORDER_SCRIPT = """
import sys
if sys.argv[1] == "pyNN_ostl first":
    import pyNN_ostl
    import pyNN.nest as sim
else:
    import pyNN.nest as sim
    import pyNN_ostl
import numpy as np
from pyNN.parameters import Sequence
Population = sim.Population          # held before any ostl type exists
ostl = pyNN_ostl.for_simulator(sim)
ostl.setup(timestep=1.0)
inputs = Population(2, sim.SpikeSourceArray(spike_times=[Sequence([3.0, 7.0])] * 2))
hidden = Population(3, ostl.SNU(decay=0.9, learn_bias=False))
mask = np.ones(20)
mask[:2] = mask[-4:] = 0.0
readout = Population(1, ostl.Readout(target=[Sequence(np.linspace(0, 1, 20))], loss_mask=Sequence(mask),
                                     learn_bias=False))
learn = sim.Projection(inputs, hidden, sim.AllToAllConnector(), ostl.OSTLSynapse(weight=0.5, trial_duration=20))
sim.Projection(hidden, readout, sim.AllToAllConnector(), ostl.ReadoutSynapse(weight=0.1))
sim.Projection(readout, hidden, sim.AllToAllConnector(), ostl.LearningSignalConnection())
ostl.run(40)
print(repr(learn.get("weight", format="array").tolist()))
"""


def test_scripts_work_whatever_the_import_order(tmp_path):
    import subprocess

    script = tmp_path / "order.py"
    script.write_text(IMPORT_ORDER_SCRIPT)
    weights = []
    for order in ("pyNN_ostl first", "pyNN.nest first"):
        run = subprocess.run([sys.executable, str(script), order], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        weights.append(run.stdout.strip().splitlines()[-1])
    assert weights[0] == weights[1]
    assert "0.5," not in weights[0]   # it learned

