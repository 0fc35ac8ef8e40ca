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
