"""The PyNN layer on pyNN.brian2: ordinary PyNN scripts build, train and record learning
networks, step for step like the reference engine."""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("pyNN.brian2")

import pyNN.brian2 as sim  # noqa: E402
from pyNN.parameters import Sequence  # noqa: E402

import pyNN_ostl  # noqa: E402

ostl = pyNN_ostl.for_simulator(sim)
from ostl import Adam, OnlineLearner, ParameterError  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import pynn_pattern_generation as example  # noqa: E402

from .helpers import relative_deviation  # noqa: E402

_RUNS = {}


def _example_run(iterations):
    if iterations not in _RUNS:
        _RUNS[iterations] = example.build_and_run(sim, iterations=iterations, record_synapses=iterations < 10)
    return _RUNS[iterations]


def _reference(result, iterations):
    net = example.reference_network(50, 32, 3)
    # the script keeps the biases fixed (learn_bias=False) and masks the trial's last steps
    learner = OnlineLearner(net, "ostl", result["initial_params"], trainable=["layer0.W", "readout.W"])
    optimizer = Adam(0.01)
    losses = []
    records = None
    for it in range(iterations):
        recorded = ("state", "output", "eligibility_vector") if it == 0 else ()
        res = learner.run(result["x"], result["target"], result["mask"], record=recorded)
        records = records or res.records
        losses.append(res.loss)
        optimizer.step(learner.params, res.grads)
    return learner.params, np.array(losses), records


def test_pynn_script_trains_pattern_generation_like_the_reference():
    iterations = 100
    result = _example_run(iterations)
    assert result["loss"][-1] < result["loss"][0] / 5, result["loss"][[0, -1]]
    params, losses, _ = _reference(result, iterations)
    assert relative_deviation(result["W"], params["layer0.W"]) < 1e-6
    assert relative_deviation(result["W_out"], params["readout.W"]) < 1e-6
    np.testing.assert_allclose(result["loss"], losses, rtol=1e-6)


def test_neo_recordings_match_the_reference_step_for_step():
    result = _example_run(3)
    _, _, records = _reference(result, 1)
    hidden = result["hidden"]
    steps = result["target"].shape[0]
    # spikes: a SpikeTrain per neuron, at the steps where the reference neuron spiked
    spikes = np.zeros((steps, 32))
    for j, train in enumerate(hidden.spiketrains):
        times = np.asarray(train.magnitude)
        for t in times[times < steps]:
            spikes[int(round(t)), j] = 1.0
    np.testing.assert_array_equal(spikes, records["output"][0])
    assert sum(len(st) for st in hidden.spiketrains) > 100
    learning_signal = np.asarray(hidden.filter(name="learning_signal")[0])[1:steps + 1]
    assert learning_signal.shape == (steps, 32) and np.abs(learning_signal).max() > 0
    # per-synapse recordings as Neo signals, annotated with the connection indices
    segment = result["synapses"]
    eps_signal = segment.filter(name="eligibility_vector")[0]
    source, target = eps_signal.array_annotations["source_index"], eps_signal.array_annotations["target_index"]
    eps = np.asarray(eps_signal)[:steps]
    expected = records["eligibility_vector"]["layer0.W"][:, target, 0, source]
    assert relative_deviation(eps, expected) < 1e-9
    weights = np.asarray(segment.filter(name="weight")[0])
    assert weights.shape == (3 * steps, 50 * 32)
    assert np.all(weights[steps - 2] == weights[0]) and not np.allclose(weights[steps - 1], weights[0])


def _network(**overrides):
    """A small learning network with optional faulty parts; returns the populations."""
    options = dict(timestep=1.0, rule="ostl", recurrent=False, feedback="symmetric", readout=True, source=True,
                   trial_duration=50)
    options.update(overrides)
    sim.setup(timestep=options["timestep"])
    n, T = 5, 50
    inp = sim.Population(4, sim.SpikeSourceArray(spike_times=[Sequence([1.0, 5.0])] * 4))
    hid = sim.Population(n, ostl.SNU(decay=0.9))
    out = sim.Population(2, ostl.Readout(target=[Sequence(np.zeros(T))] * 2)) if options["readout"] else None
    syn = dict(rule=options["rule"], weight=0.5, trial_duration=options["trial_duration"])
    if options["source"]:
        sim.Projection(inp, hid, sim.AllToAllConnector(), ostl.OSTLSynapse(**syn))
    if options["recurrent"]:
        sim.Projection(hid, hid, sim.AllToAllConnector(), ostl.OSTLSynapse(**syn), receptor_type="recurrent")
    if out is not None:
        sim.Projection(hid, out, sim.AllToAllConnector(), ostl.ReadoutSynapse(weight=0.1))
        if options["feedback"]:
            sim.Projection(out, hid, sim.AllToAllConnector(),
                           ostl.LearningSignalConnection(feedback=options["feedback"], weight=0.3))
    return hid


@pytest.mark.parametrize("overrides,message", [
    ({"timestep": 0.1}, r"steps of 1 ms: call sim.setup\(timestep=1.0\)"),
    ({"readout": False}, "exactly one Readout population"),
    ({"feedback": None}, "needs LearningSignalConnection\\(feedback='symmetric'\\)"),
    ({"rule": "ostl_rnd"}, "needs LearningSignalConnection\\(feedback='random'\\)"),
    ({"recurrent": True}, "exact OSTL traces.*reference engine"),
    ({"source": False, "recurrent": True, "rule": "ostl_no_h"},
     "exactly one plastic projection must come from a spike source"),
])
def test_bad_networks_are_refused_before_the_run(overrides, message):
    _network(**overrides)
    with pytest.raises(ParameterError, match=message):
        sim.run(10)
    assert sim.get_current_time() == 0.0  # nothing was simulated


@pytest.mark.parametrize("make,message", [
    (lambda: ostl.SNU(decay=1.5), r"decay must be in \[0, 1\)"),
    (lambda: ostl.SNU(activation="tanh"), "activation \\(g\\) must be one of"),
    (lambda: ostl.ALIF(tau_a=-3.0), r"tau_a \(ms\) must be in \(0, inf\)"),
    (lambda: ostl.OSTLSynapse(rule="eprop", trial_duration=10), "rule must be one of"),
    (lambda: ostl.OSTLSynapse(weight=0.1), "mode 'deferred' needs trial_duration"),
    (lambda: ostl.OSTLSynapse(learning_rate=-1.0, trial_duration=10), r"learning_rate must be in \(0, inf\)"),
    (lambda: ostl.Readout(leak=1.0, target=[Sequence([0.0])]), r"readout leak must be in \[0, 1\)"),
    (lambda: ostl.LearningSignalConnection(feedback="mirror"), "feedback must be one of"),
    (lambda: ostl.SNU(learn_bias="no"), "learn_bias must be True or False, got 'no'"),
    (lambda: ostl.Readout(learn_bias=1, target=[Sequence([0.0])]), "learn_bias must be True or False"),
])
def test_bad_parameters_are_refused_at_declaration(make, message):
    with pytest.raises(ParameterError, match=message):
        make()
