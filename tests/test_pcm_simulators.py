"""PCM synapses in the simulators (issue 11, item 4): NEST's ``ostl_pcm_synapse`` keeps its
devices and chi in the synapse and programs them when the deferred update is applied; a run
on NEST equals the reference engine's PCM run (weights, device conductances and every
counter), and so does a run on Brian2 (tests/test_pcm_loop.py)."""

import numpy as np
import pytest

nest = pytest.importorskip("nest")
pytest.importorskip("pynestml")

from ostl import ParameterError, presets  # noqa: E402
from ostl.training import Trainer  # noqa: E402

TASK = {"name": "pattern_generation", "steps": 80, "n_in": 12, "seed": 0}


def _pair(rule, optimizer, iterations, recurrent=False, **pcm):
    net = presets.build_network(TASK, rule, hidden=9, recurrent=recurrent)
    trainable = sorted(n for n in net.param_shapes() if n.endswith(".W") or n.endswith(".H"))
    runs = {}
    for backend in ("reference", "nest"):
        trainer = Trainer(TASK, net, rule, optimizer, seed=3, init=presets.INIT_DEFAULTS, backend=backend,
                          trainable=trainable, synapses={"feedback": False, **pcm})
        trainer.train(iterations)
        runs[backend] = trainer
    return runs["reference"], runs["nest"]


@pytest.mark.parametrize("rule,optimizer,pcm", [
    ("osttp", {"name": "adam", "lr": 0.02}, {}),
    ("eprop", {"name": "sgd", "lr": 0.05}, {"devices": 2, "drift": "ibm", "read_noise": "1/f"}),
    # the readout's own rate: its synapses are a copy of ostl_pcm_synapse with an optimiser of their own
    ("osttp", {"name": "sgd", "lr": 0.05, "readout_lr": 0.01}, {}),
])
def test_nest_pcm_synapses_equal_the_reference_pcm_run(rule, optimizer, pcm):
    reference, simulated = _pair(rule, optimizer, 4, recurrent=rule == "eprop", **pcm)
    counts = reference.synapses.counts()["total"]
    assert counts["pulses"] > 0, "no update became a pulse: the comparison would be vacuous"
    for name, value in reference.params.items():
        np.testing.assert_allclose(simulated.params[name], value, rtol=0, atol=1e-9 * np.max(np.abs(value)),
                                   err_msg=name)
    a, b = reference.synapses.state_dict(), simulated.synapses.state_dict()
    assert set(a) == set(b)
    for key in a:
        if key.endswith("initial_G"):
            continue
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert simulated.synapses.counts() == reference.synapses.counts()
    for x, y in zip(reference.history, simulated.history):
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-9)


def test_nest_pcm_resume_is_exact(tmp_path):
    net = presets.build_network(TASK, "osttp", hidden=9)
    trainable = ["layer0.W", "readout.W"]

    def trainer():
        return Trainer(TASK, net, "osttp", {"name": "adam", "lr": 0.02}, seed=3, init=presets.INIT_DEFAULTS,
                       backend="nest", trainable=trainable, synapses={"feedback": False})

    straight = trainer()
    straight.train(4)
    first = trainer()
    first.train(2)
    first.save(tmp_path / "state.npz")
    resumed = Trainer.load(tmp_path / "state.npz")
    resumed.train(4)
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value)
    for key, value in straight.synapses.state_dict().items():
        np.testing.assert_array_equal(resumed.synapses.state_dict()[key], value, err_msg=key)


def test_nest_refuses_what_its_pcm_synapses_cannot_do():
    net = presets.build_network(TASK, "osttp", hidden=6)
    with pytest.raises(ParameterError, match="need the reference backend"):
        Trainer(TASK, net, "osttp", {"name": "sgd", "lr": 0.01}, backend="nest", trainable=["layer0.W", "readout.W"],
                synapses={"read": "step", "feedback": False})
    with pytest.raises(ParameterError, match="feedback matrices on PCM arrays need the reference backend"):
        Trainer(TASK, net, "osttp", {"name": "sgd", "lr": 0.01}, backend="nest", trainable=["layer0.W", "readout.W"],
                synapses={})


@pytest.mark.parametrize("readout_rate", [None, 0.01])
def test_a_pynn_script_with_pcm_synapses_on_nest_equals_the_reference_pcm_run(readout_rate):
    """Reachable from PyNN: OSTLSynapse / ReadoutSynapse(..., synapses={...PCM settings...})
    on pyNN.nest learn what the reference engine's PCM arrays learn (1e-9); with Adam, and with SGD
    and a readout rate of its own (ReadoutSynapse(learning_rate=...): a copy of ostl_pcm_synapse_lbl)."""
    pytest.importorskip("pyNN.nest")
    from types import SimpleNamespace

    import pyNN.nest as sim
    from pyNN.parameters import Sequence

    import pyNN_ostl
    from ostl import SGD, SNU, Adam, Layer, Network, OnlineLearner, Readout
    from ostl.hardware.pcm.loop import PCMWeights

    ostl = pyNN_ostl.for_simulator(sim)
    steps, pause, n_in, n_hidden, n_out, iterations = 60, 4, 10, 8, 2, 4
    rng = np.random.default_rng(2)
    x = (rng.random((steps, n_in)) < 0.25).astype(float)
    x[:3] = 0.0
    x[steps - pause:] = 0.0
    target = rng.normal(size=(steps, n_out))
    mask = np.ones(steps)
    mask[:2] = 0.0
    mask[steps - pause:] = 0.0
    net = Network(n_in, [Layer(n_hidden, SNU(decay=0.8))], Readout(n_out, "linear", leak=0.0))
    params = net.init_params(seed=4, weight_scale=2.0, readout_scale=1.0)
    params["readout.b"][:] = 0.0
    feedback = {"feedback.layer0": np.random.default_rng(5).normal(size=(n_hidden, n_out))}
    settings = {"devices": 4, "eps": 0.5, "feedback": False, "seed": 7}

    ostl.setup(timestep=1.0)
    inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=ostl.spike_times(np.tile(x, (iterations, 1)))))
    hidden = sim.Population(n_hidden, ostl.SNU(decay=0.8, bias=0.0, learn_bias=False))
    targets = np.tile(target, (iterations, 1))
    readout = sim.Population(n_out, ostl.Readout(leak=0.0, learn_bias=False,
                                                 target=[Sequence(targets[:, k]) for k in range(n_out)],
                                                 loss_mask=Sequence(np.tile(mask, iterations))))
    plastic = dict(rule="osttp", learning_rate=0.05, optimizer="adam" if readout_rate is None else "sgd",
                   trial_duration=steps, synapses=settings)
    w_in = sim.Projection(inputs, hidden, sim.AllToAllConnector(),
                          ostl.OSTLSynapse(weight=params["layer0.W"].T, **plastic))
    w_out = sim.Projection(hidden, readout, sim.AllToAllConnector(),
                           ostl.ReadoutSynapse(weight=params["readout.W"].T, synapses=settings,
                                               learning_rate=readout_rate))
    sim.Projection(readout, hidden, sim.AllToAllConnector(),
                   ostl.LearningSignalConnection(feedback="target_projection", weight=feedback["feedback.layer0"].T))
    ostl.run(iterations * steps)
    result = {"layer0.W": w_in.get("weight", format="array").T, "readout.W": w_out.get("weight", format="array").T}
    sim.end()

    config = {k: v for k, v in settings.items() if k != "seed"}
    pcm = PCMWeights(net, params, {}, config, seed=settings["seed"])
    learner = OnlineLearner(net, "osttp", params, feedback=feedback, trainable=["layer0.W", "readout.W"])
    weights = dict(params, **pcm.nominal())
    programmed = pcm.nominal()

    class Backend:
        def run(self, run_params, trial, feedback=None):
            learner.params = run_params
            return learner.run(trial.x, trial.target, trial.mask)

    optimizer = Adam(0.05) if readout_rate is None else SGD(0.05, readout_lr=readout_rate)
    for _ in range(iterations):
        res = pcm.run_trial(Backend(), weights, SimpleNamespace(x=x, target=target, mask=mask))
        pcm.apply(optimizer, weights, res.grads)
    for name in result:   # training changed the devices (updates became pulses) ...
        assert np.max(np.abs(weights[name] - programmed[name])) > 1e-3 * np.max(np.abs(programmed[name])), name
    for name in result:   # ... as the reference engine's arrays
        np.testing.assert_allclose(result[name], weights[name], rtol=0, atol=1e-9 * np.max(np.abs(weights[name])),
                                   err_msg=name)
