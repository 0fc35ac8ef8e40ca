"""Simulator-independent PyNN declarations of the ostl cell and synapse types.

Written the way :mod:`pyNN.standardmodels` declares its models: default parameters,
units, recordable variables and a translation table, and nothing about any simulator.
Each backend module subclasses these declarations with its translation, the way
``pyNN/nest/standardmodels`` and ``pyNN/brian2/standardmodels`` do: :mod:`pyNN_ostl.brian2`
(Brian2 groups and equations) and :mod:`pyNN_ostl.nest` (NEST model names, variable maps).
A script gets the translated types with ``ostl = pyNN_ostl.for_simulator(sim)``.

Numeric values are PyNN parameters (per neuron / per connection, with units); model
*choices* (activation, pseudo-derivative, learning rule, optimiser) and the homogeneous
learning parameters (learning rate, optimiser) are constructor options of the type,
validated by the reference engine's own classes (:mod:`ostl.cells`, :mod:`ostl.rules`,
:mod:`ostl.optim`) so that every backend accepts exactly the same models.

Cell types
    :class:`SNU`, :class:`SoftResetSNU`, :class:`LIF`, :class:`ALIF` -- hidden layers;
    :class:`Readout` -- the output/error population (holds the target and the loss).
Synapse types
    :class:`OSTLSynapse` (rules ``ostl``, ``ostl_no_h``, ``ostl_rnd``, ``osttp``),
    :class:`EPropSynapse` (``eprop``) -- plastic, each connection keeps its eligibility
    vector; :class:`ReadoutSynapse` -- hidden to readout, learns its exact gradient;
    :class:`LearningSignalConnection` -- readout to hidden: the pathway that carries
    learning signals (feedback weights ``B``), declared like any projection.
"""

from __future__ import annotations

import contextlib

import numpy as np
from pyNN.parameters import Sequence
from pyNN.standardmodels import StandardCellType, StandardSynapseType, build_translations

from ostl import cells as ostl_cells
from ostl.errors import ParameterError
from ostl.optim import make_optimizer
from ostl.regularisation import FiringRateRegularisation
from ostl.rules import make_rule
from ostl.validation import check_choice, check_positive, check_unit_interval_open


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def translated(declaration, translation, module):
    """The backend type of ``declaration``: a subclass that takes the simulator's
    translation attributes from the mixin ``translation`` (the pattern of
    ``pyNN/<simulator>/standardmodels``), named like the declaration, in ``module``."""
    return type(declaration.__name__, (translation, declaration),
                {"__doc__": declaration.__doc__, "__module__": module})


@contextlib.contextmanager
def _checked_parameters(type_name):
    """PyNN's own complaints about parameters (unknown name, a value of the wrong kind) as the
    ParameterError every ostl type raises."""
    try:
        yield
    except ParameterError:
        raise
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        message = exc.args[0] if exc.args else type(exc).__name__
        raise ParameterError(f"{type_name}: {message}") from None


def _identity_translations(names):
    return build_translations(*[(name, name) for name in names])


class _OSTLCellType(StandardCellType):
    """Common behaviour of the hidden-layer cells."""

    #: the reference-engine cell class and how PyNN parameters map onto it
    ostl_class = None
    #: receptor types: feed-forward input and recurrent input (self-projections)
    receptor_types = ("excitatory", "recurrent")
    conductance_based = False
    injectable = False
    #: native names of the per-step factors and traces recordable like state variables
    factor_variables = ("learning_signal", "pseudo_derivative")

    def __init__(self, **parameters):
        #: whether the neuron parameter (bias / threshold) learns with the weights
        #: (option ``learn_bias`` / ``learn_threshold``, default True)
        self.learned = {}
        if self.neuron_parameter:
            option = f"learn_{self.neuron_parameter}"
            self.learned[self.neuron_parameter] = _check_bool(option, parameters.pop(option, True))
        self.options = {k: parameters.pop(k) for k in list(parameters) if k in self.option_defaults}
        for key, value in self.option_defaults.items():
            self.options.setdefault(key, value)
        with _checked_parameters(type(self).__name__):
            super().__init__(**parameters)
            self.ostl_cell()  # validate options and parameter values now, before any simulation

    def ostl_cell(self, parameters=None):
        """The reference-engine cell for these (homogeneous) parameters."""
        values = {}
        ps = self.parameter_space if parameters is None else parameters
        for name in self.cell_parameters:
            value = ps[name]
            if hasattr(value, "base_value"):
                value = value.base_value
            arr = np.asarray(value, dtype=float)
            if arr.size > 1 and not np.all(arr == arr.flat[0]):
                raise ParameterError(f"{name} must be the same for all neurons of a population")
            values[name] = float(arr.flat[0]) if arr.size else float(arr)
        return self.ostl_class(**values, **self.options)

    def __repr__(self):
        return f"{type(self).__name__}({self.parameter_space}, {self.options})"


class SNU(_OSTLCellType):
    """Spiking Neural Unit with full reset (OSTL eq. 1-2; Wozniak et al. 2020).

    ``s = g(I + d s (1 - y))``, ``y = h(s + bias)``. Options: ``activation``
    (identity, relu, leaky_relu), ``output`` (step = spiking SNU, sigmoid = sSNU),
    ``pseudo`` (tanh, fast_sigmoid, piecewise_linear), ``learn_bias`` (default True: the
    bias learns with the weights; pyNN.nest needs False)."""

    ostl_class = ostl_cells.SNU
    default_parameters = {"decay": 0.8, "bias": 0.0}
    cell_parameters = ("decay",)
    option_defaults = {"activation": "identity", "output": "step", "pseudo": "tanh"}
    units = {"s": "dimensionless", "y": "dimensionless", "learning_signal": "dimensionless",
             "pseudo_derivative": "dimensionless"}
    recordable = ["spikes", "s", "y", "learning_signal", "pseudo_derivative"]
    default_initial_values = {name: 0.0 for name in recordable if name != "spikes"}
    translations = _identity_translations(["decay", "bias"])
    neuron_parameter = "bias"


class SoftResetSNU(_OSTLCellType):
    """SNU with soft reset (OSTTP eq. 3-4): ``s = I + d s - y threshold``,
    ``y = h(s - threshold)``. ``learn_threshold`` (default True; pyNN.nest needs False)."""

    ostl_class = ostl_cells.SoftResetSNU
    default_parameters = {"decay": 0.9, "threshold": 1.0}
    cell_parameters = ("decay",)
    option_defaults = {"output": "step", "pseudo": "fast_sigmoid"}
    units = SNU.units
    recordable = ["spikes", "s", "y", "learning_signal", "pseudo_derivative"]
    default_initial_values = {name: 0.0 for name in recordable if name != "spikes"}
    translations = _identity_translations(["decay", "threshold"])
    neuron_parameter = "threshold"

    def ostl_cell(self, parameters=None):
        """The reference cell, with the threshold checked positive."""
        cell = super().ostl_cell(parameters)
        ps = self.parameter_space if parameters is None else parameters
        thr = np.asarray(getattr(ps["threshold"], "base_value", ps["threshold"]), dtype=float)
        if np.any(thr <= 0):
            raise ParameterError(f"threshold must be in (0, inf), got {thr.min()}")
        return cell


class LIF(_OSTLCellType):
    """e-prop's leaky integrate-and-fire neuron (Methods eq. 20-21), time constant in ms."""

    ostl_class = ostl_cells.LIF
    default_parameters = {"tau_m": 20.0, "v_th": 0.6}
    cell_parameters = ("tau_m", "v_th")
    option_defaults = {"pseudo": {"name": "piecewise_linear", "gamma": 0.3}}
    units = {"v": "dimensionless", "y": "dimensionless", "learning_signal": "dimensionless",
             "pseudo_derivative": "dimensionless"}
    recordable = ["spikes", "v", "y", "learning_signal", "pseudo_derivative"]
    default_initial_values = {name: 0.0 for name in recordable if name != "spikes"}
    translations = build_translations(("tau_m", "tau_m"), ("v_th", "v_th"))
    neuron_parameter = None


class ALIF(_OSTLCellType):
    """e-prop's LIF neuron with threshold adaptation (Methods eq. 20, 25-26)."""

    ostl_class = ostl_cells.ALIF
    default_parameters = {"tau_m": 20.0, "tau_a": 200.0, "beta": 1.8, "v_th": 0.6}
    cell_parameters = ("tau_m", "tau_a", "beta", "v_th")
    option_defaults = {"pseudo": {"name": "piecewise_linear", "gamma": 0.3}}
    units = dict(LIF.units, a="dimensionless")
    recordable = ["spikes", "v", "a", "y", "learning_signal", "pseudo_derivative"]
    default_initial_values = {name: 0.0 for name in recordable if name != "spikes"}
    translations = build_translations(("tau_m", "tau_m"), ("tau_a", "tau_a"), ("beta", "beta"), ("v_th", "v_th"))
    neuron_parameter = None


class Readout(StandardCellType):
    """Readout/error population: ``a = leak a + sum_j W_out y_j + bias``, output
    ``activation(a)`` and its canonical loss (linear: MSE, sigmoid: binary, softmax:
    softmax cross-entropy), error ``m (output - target)``. ``learn_bias`` (default True: the
    bias learns with the weights; pyNN.nest needs False).

    ``target``: one :class:`pyNN.parameters.Sequence` per readout neuron with the target
    value of every time step from t = 0 (ms); ``loss_mask``: one Sequence (shared) of
    per-step loss weights (default: 1 everywhere)."""

    default_parameters = {"leak": 0.0, "bias": 0.0, "target": Sequence([]), "loss_mask": Sequence([])}
    units = {"potential": "dimensionless", "output": "dimensionless", "error": "dimensionless",
             "target": "dimensionless"}
    recordable = ["potential", "output", "error", "target"]
    default_initial_values = {name: 0.0 for name in recordable}
    receptor_types = ("excitatory",)
    conductance_based = False
    injectable = False
    translations = _identity_translations(["leak", "bias", "target", "loss_mask"])
    option_defaults = {"activation": "linear"}

    def __init__(self, activation="linear", learn_bias=True, **parameters):
        self.options = {"activation": check_choice("readout activation", activation,
                                                   {"linear", "sigmoid", "softmax"})}
        #: whether the readout bias learns with the weights
        self.learned = {"bias": _check_bool("learn_bias", learn_bias)}
        with _checked_parameters(type(self).__name__):
            super().__init__(**parameters)
            leak = np.asarray(getattr(self.parameter_space["leak"], "base_value", self.parameter_space["leak"]))
            check_unit_interval_open("readout leak", float(np.ravel(leak)[0]))


def _pcm_settings(synapses):
    """``synapses``: None (float weights) or a dict of PCM settings
    (:class:`ostl.hardware.pcm.loop.PCMConfig` fields, plus ``seed``). Returns (config, seed)."""
    if synapses is None:
        return None, None
    if not isinstance(synapses, dict):
        raise ParameterError(f"synapses must be None (float weights) or a dict of PCM settings, got {synapses!r}")
    from ostl.hardware.pcm.loop import make_pcm_config
    from ostl.validation import check_int

    settings = dict(synapses)
    seed = check_int("synapses seed", settings.pop("seed", 0), minimum=0)
    return make_pcm_config(settings), seed


class _LearningSynapseType(StandardSynapseType):
    """Base of the learning synapse types."""

    #: learned weights are signed: PyNN's sign checks (for biophysical synapses) do not apply
    parameter_checks = {}
    #: weights on PCM devices (a PCMConfig) and the seed of their random numbers, or None
    pcm_config = pcm_seed = None

    def pcm_settings(self):
        """What every PCM projection of one network must share (None: float weights)."""
        return None if self.pcm_config is None else (repr(self.pcm_config.spec()), self.pcm_seed)

    def __init__(self, **parameters):
        with _checked_parameters(type(self).__name__):
            super().__init__(**parameters)
            for name in ("weight", "delay"):   # numbers (or arrays of numbers), finite
                value = getattr(self.parameter_space[name], "base_value", None)
                if value is not None and not callable(value) and not hasattr(value, "next"):
                    array = np.asarray(value, dtype=float)
                    if not np.all(np.isfinite(array)):
                        raise ParameterError(f"{name} must be finite, got {value!r}")


class _PlasticSynapse(_LearningSynapseType):
    """Common options of the plastic synapse types: the ``rule``, the update ``mode``
    ('deferred': sum ``L e`` over a trial and apply it at the trial's end; 'online': apply
    every step), the ``optimizer`` ('sgd', 'adam' or a dict such as ``{"name": "adam",
    "beta1": 0.9}``) with its ``learning_rate``, and the ``trial_duration`` in ms (states and
    traces are reset at every trial start; deferred updates are applied at its end), and
    ``synapses``: None (float weights) or a dict of PCM settings (the fields of
    :class:`ostl.hardware.pcm.loop.PCMConfig` and ``seed``): the weights live on PCM devices
    (pyNN.nest: ``ostl_pcm_synapse``; the ReadoutSynapse must say the same); ``c_reg`` and
    ``f_target`` (Hz): firing-rate regularisation of the hidden neurons (:mod:`ostl.regularisation`;
    deferred mode; pyNN.brian2). These
    are the same for every connection of the network (a property of the synapse model, as
    PyNN treats homogeneous NEST synapse parameters); the weight and delay are per
    connection."""

    default_parameters = {"weight": 0.0, "delay": 1.0}
    translations = build_translations(("weight", "weight"), ("delay", "delay"))
    rule_names = ()

    def __init__(self, rule=None, mode="deferred", optimizer="adam", learning_rate=0.01, trial_duration=None,
                 feedback=None, synapses=None, c_reg=0.0, f_target=10.0, **parameters):
        self.pcm_config, self.pcm_seed = _pcm_settings(synapses)
        #: the firing-rate regulariser (``c_reg`` > 0), or None
        self.regularisation = FiringRateRegularisation.make(FiringRateRegularisation.from_hz(c_reg, f_target))
        rule = rule or self.rule_names[0]
        check_choice("rule", rule, set(self.rule_names))
        self.rule = make_rule(rule, feedback=feedback)
        self.mode = check_choice("mode", mode, {"deferred", "online"})
        self.learning_rate = check_positive("learning_rate", learning_rate)
        spec = dict(optimizer) if isinstance(optimizer, dict) else {"name": optimizer}
        check_choice("optimizer", spec.get("name"), {"sgd", "adam"})
        if spec.get("readout_lr") is not None:   # the readout's rate is the ReadoutSynapse's: refuse, not ignore
            raise ParameterError("optimizer readout_lr is not an option of the plastic types: give the readout a "
                                 "rate of its own with ReadoutSynapse(learning_rate=...)")
        spec.setdefault("lr", self.learning_rate)
        self.optimizer_spec = make_optimizer(spec).spec()   # validated now
        self.optimizer_name = self.optimizer_spec["name"]
        self.trial_duration = None if trial_duration is None else check_positive("trial_duration (ms)",
                                                                                  trial_duration)
        if self.mode == "deferred" and self.trial_duration is None:
            raise ParameterError("mode 'deferred' needs trial_duration (ms): the update is applied at each "
                                 "trial's end")
        if self.regularisation is not None:
            self.regularisation.check_mode(self.mode)
        super().__init__(**parameters)

    def optimizer(self):
        """A fresh ostl optimiser of this type's settings."""
        return make_optimizer(self.optimizer_spec)

    def learning_settings(self):
        """What every plastic projection of one network must share."""
        return (type(self).__name__, self.rule, self.mode, self.optimizer_spec, self.trial_duration,
                self.pcm_settings(), self.regularisation)


class OSTLSynapse(_PlasticSynapse):
    """Plastic synapse of the OSTL family: ``rule`` is ``ostl`` (exact traces;
    feed-forward projections), ``ostl_no_h`` (recurrent layers, traces without H),
    ``ostl_rnd`` (random feedback) or ``osttp`` (target projection)."""

    rule_names = ("ostl", "ostl_no_h", "ostl_rnd", "osttp")


class EPropSynapse(_PlasticSynapse):
    """e-prop synapse (Bellec et al. 2020): LIF/ALIF eligibility traces; ``feedback``
    'symmetric' (default) or 'random'."""

    rule_names = ("eprop",)


class ReadoutSynapse(_LearningSynapseType):
    """Hidden to readout: ``readout_input += w y``; learns from its exact gradient
    ``sum_t error^t ybar^t`` with the optimiser of the hidden layers. ``learning_rate``: None (the
    plastic types' rate) or the readout's own rate (weights and bias; SGD's ``readout_lr``, as
    ``ostl train --readout-lr``: the plastic types' optimiser must be 'sgd'). ``synapses``: as the
    plastic types' (PCM devices; must match theirs)."""

    default_parameters = {"weight": 0.0, "delay": 1.0}
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def __init__(self, synapses=None, learning_rate=None, **parameters):
        self.pcm_config, self.pcm_seed = _pcm_settings(synapses)
        #: the readout's own learning rate, or None
        self.learning_rate = None if learning_rate is None else check_positive("learning_rate", learning_rate)
        super().__init__(**parameters)


class LearningSignalConnection(_LearningSynapseType):
    """Readout to hidden: carries the learning signal ``L_j = sum_k B_jk (error or
    target)_k`` to the neurons of a hidden layer (neuromodulatory pathway). Its weights
    are the feedback matrix ``B``; with ``feedback='symmetric'`` the current readout
    weights are used instead (``B = W_out^T``, the transported weights) and the
    projection's own weights are ignored."""

    default_parameters = {"weight": 0.0, "delay": 1.0}
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def __init__(self, feedback="symmetric", **parameters):
        self.feedback = check_choice("feedback", feedback,
                                     {"symmetric", "random", "random_direct", "target_projection"})
        super().__init__(**parameters)

