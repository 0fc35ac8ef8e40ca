"""Bad input is refused with a clear error naming the parameter and its allowed range,
before anything is simulated."""

import numpy as np
import pytest

from ostl import (
    ALIF,
    LIF,
    SGD,
    SNU,
    Adam,
    Dense,
    Layer,
    Network,
    OnlineLearner,
    ParameterError,
    Readout,
    SoftResetSNU,
    make_cell,
    make_rule,
)
from ostl.training import Trainer


@pytest.mark.parametrize("factory,pattern", [
    (lambda: SNU(decay=1.0), r"decay must be in \[0, 1\), got 1.0"),
    (lambda: SNU(decay=-0.1), r"decay must be in \[0, 1\), got -0.1"),
    (lambda: SoftResetSNU(decay=1.5), r"decay must be in \[0, 1\)"),
    (lambda: SoftResetSNU(threshold=-1.0), r"threshold must be in \(0, inf\)"),
    (lambda: LIF(tau_m=-5.0), r"tau_m \(ms\) must be in \(0, inf\), got -5.0"),
    (lambda: LIF(tau_m=0.0), r"tau_m \(ms\) must be in \(0, inf\)"),
    (lambda: ALIF(tau_a=-1.0), r"tau_a \(ms\) must be in \(0, inf\)"),
    (lambda: ALIF(beta=-0.5), r"beta must be in \[0, inf\)"),
    (lambda: LIF(v_th=0.0), r"v_th must be in \(0, inf\)"),
    (lambda: SNU(activation="tanh"), r"activation \(g\) must be one of 'identity', 'leaky_relu', 'relu'"),
    (lambda: SNU(output="linear"), r"output must be one of 'sigmoid', 'step'"),
    (lambda: SNU(pseudo="gaussian"), r"pseudo must be one of 'fast_sigmoid', 'piecewise_linear', 'tanh'"),
    (lambda: SNU(pseudo={"name": "fast_sigmoid", "slope": -1}), r"slope must be in \(0, inf\)"),
    (lambda: make_cell("izhikevich"), r"cell must be one of 'alif', 'lif', 'snu', 'soft_snu', got 'izhikevich'"),
    (lambda: make_rule("backprop"), r"rule must be one of .*'bptt'.*'ostl'.*got 'backprop'"),
    (lambda: make_rule("eprop", feedback="mirror"), r"feedback must be one of"),
    (lambda: Readout(2, leak=1.0), r"readout leak must be in \[0, 1\)"),
    (lambda: Readout(2, activation="relu"), r"readout activation must be one of 'linear', 'sigmoid', 'softmax'"),
    (lambda: Layer(0, "snu"), r"layer size must be >= 1, got 0"),
    (lambda: Dense(3, "gelu"), r"dense activation must be one of"),
    (lambda: SGD(lr=-0.1), r"learning rate must be in \(0, inf\), got -0.1"),
    (lambda: Adam(lr=0.1, beta1=1.0), r"beta1 must be in \[0, 1\)"),
])
def test_bad_parameters_are_named(factory, pattern):
    with pytest.raises(ParameterError, match=pattern):
        factory()


def _net():
    return Network(3, [Layer(4, SNU(), recurrent=True)], Readout(2))


def test_parameter_shape_mismatch():
    net = _net()
    params = net.init_params()
    params["layer0.W"] = np.zeros((4, 5))
    with pytest.raises(ParameterError, match=r"params\['layer0.W'\] must have shape \(4, 3\), got \(4, 5\)"):
        OnlineLearner(net, "ostl", params)


def test_missing_and_unknown_parameters():
    net = _net()
    params = net.init_params()
    del params["layer0.H"]
    with pytest.raises(ParameterError, match="missing layer0.H"):
        OnlineLearner(net, "ostl", params)
    params = net.init_params()
    params["layer1.W"] = np.zeros((2, 2))
    with pytest.raises(ParameterError, match="unknown entries layer1.W"):
        OnlineLearner(net, "ostl", params)


def test_nan_parameters_and_inputs():
    net = _net()
    params = net.init_params()
    params["readout.W"][0, 0] = np.nan
    with pytest.raises(ParameterError, match=r"readout.W.*finite"):
        OnlineLearner(net, "ostl", params)
    learner = OnlineLearner(net, "ostl", net.init_params())
    with pytest.raises(ParameterError, match=r"x must have shape \(any, 3\), got \(10, 2\)"):
        learner.run(np.zeros((10, 2)), np.zeros((10, 2)))
    with pytest.raises(ParameterError, match=r"y_target must have shape \(10, 2\)"):
        learner.run(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(ParameterError, match="loss mask must be >= 0"):
        learner.run(np.zeros((10, 3)), np.zeros((10, 2)), -np.ones(10))


def test_feedback_matrix_of_wrong_shape():
    net = _net()
    with pytest.raises(ParameterError, match=r"feedback.readout must have shape \(4, 2\), got \(2, 4\)"):
        OnlineLearner(net, "ostl_rnd", net.init_params(), feedback={"feedback.readout": np.zeros((2, 4))})
    with pytest.raises(ParameterError, match="needs feedback matrices feedback.layer0"):
        OnlineLearner(net, "osttp", net.init_params(), feedback={})


def test_online_mode_needs_an_optimizer_and_bptt_is_not_online():
    net = _net()
    with pytest.raises(ParameterError, match="mode 'online' needs an optimizer"):
        OnlineLearner(net, "ostl", net.init_params(), mode="online")
    with pytest.raises(ParameterError, match="mode must be one of 'deferred', 'online'"):
        OnlineLearner(net, "ostl", net.init_params(), mode="batch")
    with pytest.raises(ParameterError, match="not an online rule"):
        OnlineLearner(net, "bptt", net.init_params())


def test_trainer_checks_task_network_agreement():
    net = Network(7, [Layer(4, "snu")], Readout(3))
    with pytest.raises(ParameterError, match=r"network n_in \(7\) must equal the task's input size \(50\)"):
        Trainer({"name": "pattern_generation", "n_in": 50, "steps": 50}, net, "ostl", {"name": "sgd", "lr": 0.1})
    with pytest.raises(ParameterError, match="task must be one of"):
        Trainer({"name": "mnist"}, net, "ostl", {"name": "sgd", "lr": 0.1})
    with pytest.raises(ParameterError, match="n_cues must be odd"):
        Trainer({"name": "evidence_accumulation", "n_cues": 4}, net, "ostl", {"name": "sgd", "lr": 0.1})
