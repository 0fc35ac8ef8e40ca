"""Weight bounds (``w_min`` / ``w_max`` of the optimiser; NEST's ``Wmin`` / ``Wmax``): every weight
clipped after each update on the reference engine and on Brian2 (deferred through the trainer,
online inside the simulation), biases and neuron parameters left alone, refused with one line where
a backend has none."""

import sys

import numpy as np
import pytest

from ostl import LIF, SNU, Layer, Network, OnlineLearner, Readout
from ostl.errors import ParameterError
from ostl.optim import SGD, Adam, is_weight, make_optimizer
from ostl.training import Trainer

from .helpers import poisson_input, short_training_run

PATTERN = {"name": "pattern_generation", "n_in": 8, "n_out": 2, "steps": 100, "seed": 0}
BOUNDS = {"w_min": -0.3, "w_max": 0.25}


def _net():
    return Network(8, [Layer(12, SNU(decay=0.9), recurrent=True)], Readout(2, leak=0.8))


def test_the_optimiser_clips_weights_only_after_its_update():
    assert is_weight("layer0.W") and is_weight("layer1.H") and is_weight("readout.W") and is_weight("layer0.W_forget")
    assert not is_weight("layer0.bias") and not is_weight("readout.b") and not is_weight("layer0.tau")
    params = {"layer0.W": np.array([0.2, -0.2, 0.9]), "layer0.bias": np.array([0.0]), "readout.W": np.array([5.0])}
    optimizer = SGD(lr=1.0, **BOUNDS)
    optimizer.step(params, {"layer0.W": np.array([-0.5, 0.5, 0.0]), "layer0.bias": np.array([-2.0])})
    np.testing.assert_array_equal(params["layer0.W"], [0.25, -0.3, 0.25])
    assert params["layer0.bias"][0] == 2.0 and params["readout.W"][0] == 5.0   # not updated: not clipped
    assert make_optimizer({"name": "adam", "lr": 0.1, **BOUNDS}).spec()["w_max"] == 0.25
    with pytest.raises(ParameterError, match="w_min must be below w_max"):
        Adam(lr=0.1, w_min=1.0, w_max=0.0)


def _trained(backend, mode="deferred", **options):
    trainer = Trainer(PATTERN, _net(), "ostl_no_h", {"name": "adam", "lr": 0.05, **BOUNDS}, mode=mode, seed=0,
                      backend=backend, **options)
    trainer.train(4)
    return trainer


def test_training_stays_within_the_bounds_and_they_matter():
    bounded = _trained("reference")
    free = Trainer(PATTERN, _net(), "ostl_no_h", {"name": "adam", "lr": 0.05}, seed=0)
    free.train(4)
    for name, value in bounded.params.items():
        if is_weight(name):
            assert value.min() >= -0.3 and value.max() <= 0.25, name
    assert any(np.any(free.params[name] > 0.25) or np.any(free.params[name] < -0.3)
               for name in free.params if is_weight(name)), "the bounds must bind for this test to test them"


@pytest.mark.parametrize("mode", ["deferred", "online"])
def test_brian2_applies_the_same_bounds(mode):
    pytest.importorskip("brian2")
    reference = _trained("reference", mode)
    brian2 = _trained("brian2", mode, backend_options={"target": "numpy"})
    for name, value in reference.params.items():
        np.testing.assert_allclose(brian2.params[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    assert any(np.any(np.isclose(v, 0.25)) or np.any(np.isclose(v, -0.3))
               for k, v in brian2.params.items() if is_weight(k)), "no weight reached a bound"


def test_online_learner_clips_at_every_step():
    rng = np.random.default_rng(0)
    net = Network(4, [Layer(6, LIF(tau_m=10.0, v_th=0.3))], Readout(2))
    params = net.init_params(seed=1, weight_scale=2.0)
    learner = OnlineLearner(net, "ostl", params, mode="online", optimizer=SGD(lr=0.5, w_min=-0.2, w_max=0.2))
    learner.run(poisson_input(rng, 50, 4), rng.normal(size=(50, 2)))
    for name in ("layer0.W", "readout.W"):
        assert learner.params[name].min() >= -0.2 and learner.params[name].max() <= 0.2


def test_command_line_bounds_and_refusals(tmp_path):

    done = short_training_run(tmp_path, "--w-min", "-0.1", "--w-max", "0.1")
    assert done.returncode == 0, done.stderr
    state = np.load(tmp_path / "run" / "state.npz", allow_pickle=False)
    weights = [state[key] for key in state.files if key.startswith("params/") and is_weight(key[len("params/"):])]
    assert weights and all(w.min() >= -0.1 and w.max() <= 0.1 for w in weights)
    for argv, message in ((("--w-min", "1", "--w-max", "0"), "w_min must be below w_max"),
                          (("--w-max", "0.1", "--backend", "spinnaker"), "weight bounds (w_min, w_max) is not "
                                                                         "available on the spinnaker backend")):
        done = short_training_run(tmp_path, *argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, (argv, done.stderr)


def test_a_pynn_script_on_brian2_bounds_the_weights_like_the_reference_engine():
    pytest.importorskip("pyNN.brian2")
    import os

    import pyNN.brian2 as sim

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import pynn_pattern_generation as example

    iterations, bounds = 3, {"w_min": -0.4, "w_max": 0.4}
    result = example.build_and_run(sim, iterations=iterations, steps=150, **bounds)
    net = example.reference_network(50, 32, 3)
    learner = OnlineLearner(net, "ostl", result["initial_params"], trainable=["layer0.W", "readout.W"])
    optimizer = Adam(0.01, **bounds)
    for _ in range(iterations):
        optimizer.step(learner.params, learner.run(result["x"], result["target"], result["mask"]).grads)
    np.testing.assert_allclose(result["W"], learner.params["layer0.W"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result["W_out"], learner.params["readout.W"], rtol=1e-6, atol=1e-9)
    assert np.any(np.isclose(np.abs(result["W"]), 0.4)), "no weight reached a bound"


def test_nest_applies_the_same_bounds():
    """Our NEST synapses clip after each trial's update (NEST's e-prop optimiser's Wmin/Wmax, set in the
    synapse model's ``optimizer`` dictionary): the reference engine's weights."""
    pytest.importorskip("nest")
    net = Network(8, [Layer(12, LIF(tau_m=10.0, v_th=0.3), recurrent=True)], Readout(2, leak=0.8, bias=False))
    trainers = {}
    for backend in ("reference", "nest"):
        # SGD: Adam divides by the root of small second moments, which turns NEST's rounding of the
        # closed form (1e-15) into 1e-10 of the weights, bounds or not (measured)
        trainers[backend] = Trainer(PATTERN, net, "eprop", {"name": "sgd", "lr": 0.05, **BOUNDS}, seed=0,
                                    backend=backend, init={"weight_scale": 2.0})
        trainers[backend].train(4)
    reference, nest_run = trainers["reference"], trainers["nest"]
    for name, value in reference.params.items():   # measured 5e-15 of the matrix's scale
        np.testing.assert_allclose(nest_run.params[name], value, rtol=0, atol=1e-12 * np.abs(value).max(),
                                   err_msg=name)
    assert any(np.any(np.isclose(v, 0.25)) or np.any(np.isclose(v, -0.3))
               for k, v in nest_run.params.items() if is_weight(k)), "no weight reached a bound"


@pytest.mark.parametrize("mode", ["deferred", "online"])
def test_brian2_trains_the_readout_at_its_own_rate(mode):
    """SGD's readout_lr (ostl train --readout-lr) on Brian2: through the trainer (deferred) and
    inside the simulation (online), the reference engine's weights."""
    pytest.importorskip("brian2")
    trainers = {}
    for backend, options in (("reference", {}), ("brian2", {"backend_options": {"target": "numpy"}})):
        trainers[backend] = Trainer(PATTERN, _net(), "ostl_no_h", {"name": "sgd", "lr": 0.01, "readout_lr": 0.3},
                                    mode=mode, seed=0, backend=backend, **options)
        trainers[backend].train(3)
    same_rate = Trainer(PATTERN, _net(), "ostl_no_h", {"name": "sgd", "lr": 0.01}, mode=mode, seed=0)
    same_rate.train(3)
    for name, value in trainers["reference"].params.items():
        np.testing.assert_allclose(trainers["brian2"].params[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    assert not np.allclose(trainers["reference"].params["readout.W"], same_rate.params["readout.W"])


def test_nest_trains_the_readout_at_its_own_rate():
    """SGD's readout_lr on NEST: the readout's synapses are a copy of ostl_synapse (NEST's
    CopyModel) with their own optimiser; the reference engine's weights."""
    pytest.importorskip("nest")
    net = Network(8, [Layer(12, LIF(tau_m=10.0, v_th=0.3), recurrent=True)], Readout(2, leak=0.8, bias=False))
    trainers = {}
    for backend in ("reference", "nest"):
        trainers[backend] = Trainer(PATTERN, net, "eprop", {"name": "sgd", "lr": 0.01, "readout_lr": 0.2}, seed=0,
                                    backend=backend, init={"weight_scale": 2.0})
        trainers[backend].train(3)
    for name, value in trainers["reference"].params.items():
        np.testing.assert_allclose(trainers["nest"].params[name], value, rtol=0, atol=1e-12 * np.abs(value).max(),
                                   err_msg=name)
    import nest

    assert len(nest.GetConnections(synapse_model="ostl_readout_synapse")) == 12 * 2


@pytest.mark.parametrize("simulator", ["brian2", "nest"])
def test_a_pynn_readout_learns_at_its_own_rate_like_the_reference_engine(simulator):
    """``ReadoutSynapse(learning_rate=...)`` with SGD: the readout's own rate (``--readout-lr``) on
    pyNN.brian2 and pyNN.nest (there the readout's synapses are a copy of ostl_synapse with an
    optimiser of their own), the reference engine's weights with SGD's readout_lr."""
    import importlib
    import os

    from ostl import SGD

    pytest.importorskip(f"pyNN.{simulator}")
    sim = importlib.import_module(f"pyNN.{simulator}")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import pynn_pattern_generation as example

    iterations, rate, readout_rate = 3, 0.05, 0.005
    result = example.build_and_run(sim, iterations=iterations, steps=150, learning_rate=rate, optimizer="sgd",
                                   readout_learning_rate=readout_rate)
    net = example.reference_network(50, 32, 3)
    trial = slice(0, 150 - example.PAUSE if simulator == "nest" else 150)
    x, target, mask = result["x"][trial], result["target"][trial], result["mask"][trial]
    runs = {}
    for own in (readout_rate, None):
        learner = OnlineLearner(net, "ostl", result["initial_params"], trainable=["layer0.W", "readout.W"])
        optimizer = SGD(rate, readout_lr=own)
        for _ in range(iterations):
            optimizer.step(learner.params, learner.run(x, target, mask).grads)
        runs[own] = learner.params
    np.testing.assert_allclose(result["W"], runs[readout_rate]["layer0.W"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result["W_out"], runs[readout_rate]["readout.W"], rtol=1e-6, atol=1e-9)
    assert np.abs(result["W_out"] - runs[None]["readout.W"]).max() > 1e-4, "the readout's own rate must matter"
