"""``pyNN.nest`` translation of the :mod:`pyNN_ostl` types, built on :mod:`nestml_models`.

The cell types become this package's NEST learning models (``snu_neuron_learning``,
``lif_neuron_learning``, ..., ``readout_neuron_learning``); learning projections become
``ostl_synapse_lbl`` (plastic: the input, recurrent and readout projections) and
``ostl_learning_signal_connection_lbl`` (the learning signals, readout -> hidden). As in
:mod:`pyNN_ostl.brian2`, what depends on the whole network (rule, trial geometry, feedback)
is assembled when the simulation starts: the first ``sim.run`` checks the network with the
same code (:mod:`pyNN_ostl.structure`), refuses what NEST cannot learn exactly, sets the
models' parameters and connects the readout's target and loss mask, all before NEST
simulates a step.

Time (one step = 1 ms). A ``SpikeSourceArray`` spike at ``t - 1`` reaches the hidden
layer at step ``t`` (as on pyNN.brian2). NEST's update ``u`` advances the state from
``u`` to ``u + 1`` ms, so the hidden layer's step ``t`` is NEST's update ``t - 1`` and its
spikes carry the same time stamp ``t`` as on pyNN.brian2. The readout sees hidden step ``t``
one update later (every NEST connection has a delay of one step): its step ``t`` is update
``t``, recorded at ``t + 1`` ms. The very first step of a simulation (update -1) does not
exist: the hidden layer starts it at rest (biases must be <= 0, so that no neuron fires
spontaneously), and no current generator reaches the readout's steps 0 and 1 (NEST's first
two updates): their ``loss_mask`` must be 0.
pyNN.nest cannot emit spike-source spikes at 0 or 1 ms (its parrot neurons need one step):
inputs start at step 3.

Trials: NEST's learning signals reach the hidden synapses three steps late, so the
deferred update of a trial is complete only a few steps after its last learning step. The
last :data:`TRIAL_PAUSE_STEPS` steps of every trial (``trial_duration``) are therefore a
pause on NEST: the script must keep them silent (no input spikes, ``loss_mask`` 0), which
on pyNN.brian2 makes them contribute nothing to the gradient, so both simulators learn the
same weights. NEST learns weights only: biases/thresholds must be declared
``learn_bias=False`` (``learn_threshold=False``).
"""

from __future__ import annotations

import numpy as np
import pyNN.nest
from pyNN.nest import simulator
from pyNN.nest.populations import Population as _NestPopulation
from pyNN.nest.projections import Projection as _NestProjection

import nestml_models
from nestml_models.network import (
    MASK_PORT,
    PAUSE_STEPS,
    TARGET_PORT,
    check_supported,
    connection_indices,
    copy_readout_weights,
    hidden_parameters,
    readout_parameters,
    synapse_defaults,
)
from ostl.errors import ParameterError
from ostl.network import Layer, Network
from ostl.network import Readout as OstlReadout

from . import standardmodels as sm
from .structure import describe, feedback_matrices, readout_sequences, trainable_parameters

#: steps at the end of every trial in which NEST completes the trial's update
TRIAL_PAUSE_STEPS = PAUSE_STEPS
#: the hidden layer's step t is NEST's update t - 1; the readout's is update t
HIDDEN_FIRST_STEP, READOUT_FIRST_STEP = -1, 0
#: the first readout step a current generator can reach (amplitudes change at t > 0 ms,
#: and arrive one update later)
FIRST_TARGET_STEP = 2

PLASTIC_MODEL = "ostl_synapse"
SIGNAL_MODEL = "ostl_learning_signal_connection"

# -- translation of the cell types ----------------------------------------------------------
_MODELS = {sm.SNU: "snu_neuron_learning", sm.SoftResetSNU: "soft_reset_snu_neuron_learning",
           sm.LIF: "lif_neuron_learning", sm.ALIF: "alif_neuron_learning", sm.Readout: "readout_neuron_learning"}
#: PyNN variable -> NEST state variable (what is not here cannot be recorded on NEST)
_VARIABLES = {sm.SNU: {"s": "V_m", "y": "y", "pseudo_derivative": "pseudo_derivative"},
              sm.SoftResetSNU: {"s": "V_m", "y": "y", "pseudo_derivative": "pseudo_derivative"},
              sm.LIF: {"v": "v", "y": "y", "pseudo_derivative": "pseudo_derivative"},
              sm.ALIF: {"v": "v", "a": "a", "y": "y", "pseudo_derivative": "pseudo_derivative"},
              sm.Readout: {"potential": "potential", "output": "output_value", "error": "error",
                           "target": "target_value"}}
for _celltype, _model in _MODELS.items():
    _celltype.nest_name = {"on_grid": _model, "off_grid": _model}
    _celltype.variable_map = _VARIABLES[_celltype]
    _celltype.standard_receptor_type = True   # spikes arrive at the models' single spike port
    _celltype.uses_parrot = False


def _is_ostl_cell(celltype):
    return isinstance(celltype, (sm._OSTLCellType, sm.Readout))


# -- translation of the synapse types -------------------------------------------------------
def _install():
    """Load the NEST module of the ostl models (sim.setup does it; this catches scripts that
    called sim.setup before importing pyNN_ostl)."""
    try:
        nestml_models.install()
    except pyNN.nest.nest.NESTError as exc:
        raise ParameterError("import pyNN_ostl before calling sim.setup(): NEST loads the ostl models only "
                             "into an empty network") from exc


def _nest_synapse_model(synapse_type):
    """pyNN.nest asks a synapse type for its NEST model (labelled, so that each projection
    finds its own connections)."""
    _install()
    model = SIGNAL_MODEL if isinstance(synapse_type, sm.LearningSignalConnection) else PLASTIC_MODEL
    return model + "_lbl"


sm._LearningSynapseType._get_nest_synapse_model = _nest_synapse_model
sm._LearningSynapseType._set_tau_minus = lambda self, cells: None
sm._LearningSynapseType._get_minimum_delay = lambda self: simulator.state.min_delay


# pyNN.nest's own Population and Projection classes learn the ostl types: their methods are
# extended in place (everything else is passed to pyNN's code unchanged), so that scripts
# work whatever the order of their imports and however they hold the classes.
_ORIGINAL = {}


def _extends(cls, name):
    def decorate(function):
        _ORIGINAL[cls, name] = getattr(cls, name)
        function.__doc__ = function.__doc__ or getattr(cls, name).__doc__
        setattr(cls, name, function)
        return function
    return decorate


@_extends(_NestPopulation, "_create_cells")
def _create_cells(self):
    """Populations of the ostl cell types are this package's NEST learning models (their
    rule-dependent parameters are set at the first run)."""
    if not _is_ostl_cell(self.celltype):
        return _ORIGINAL[_NestPopulation, "_create_cells"](self)
    _install()
    self.celltype.parameter_space.shape = (self.size,)
    ps = self.celltype.parameter_space
    ps.evaluate(simplify=False)
    names = ["leak", "bias"] if isinstance(self.celltype, sm.Readout) else list(self.celltype.default_parameters)
    params = {name: np.broadcast_to(np.asarray(ps[name], dtype=float), (self.size,)).tolist() for name in names}
    self.node_collection = pyNN.nest.nest.Create(self.celltype.nest_name["on_grid"], self.size)
    self.node_collection.set(params)
    self._mask_local = np.array([True]) if self.node_collection.local is True else \
        np.array(self.node_collection.local)
    self.all_cells = np.array([simulator.ID(gid) for gid in self.node_collection.tolist()], simulator.ID)
    for gid in self.all_cells:
        gid.parent = self
        gid.node_collection = pyNN.nest.nest.NodeCollection([int(gid)])
    if isinstance(self.celltype, sm.Readout):
        self.ostl_target, self.ostl_loss_mask = readout_sequences(ps, self.size)
    _controller().register_population(self)


@_extends(_NestPopulation, "_set_initial_value_array")
def _set_initial_value_array(self, variable, value):
    if not _is_ostl_cell(self.celltype):
        return _ORIGINAL[_NestPopulation, "_set_initial_value_array"](self, variable, value)
    values = np.asarray(value._partially_evaluate(self._mask_local, simplify=True), dtype=float)
    if np.any(values != 0.0):
        raise ParameterError(f"initial value of {variable!r}: every trial of an ostl cell starts at rest (0)")


@_extends(_NestPopulation, "record")
def _record(self, variables, to_file=None, sampling_interval=None, locations=None):
    if _is_ostl_cell(self.celltype) and variables is not None:
        names = [variables] if isinstance(variables, str) else list(variables)
        missing = sorted(set(names) - set(self.celltype.variable_map) - {"spikes"})
        if missing:
            recordable = sorted(self.celltype.variable_map) + (["spikes"] if "spikes" in self.celltype.recordable
                                                                else [])
            raise ParameterError(f"pyNN.nest cannot record {missing} of {type(self.celltype).__name__} "
                                 f"(NEST's learning models keep it in the synapses' history); recordable: "
                                 f"{recordable}")
    return _ORIGINAL[_NestPopulation, "record"](self, variables, to_file, sampling_interval, locations)


def _is_learning(projection):
    return isinstance(projection.synapse_type, sm._LearningSynapseType)


@_extends(_NestProjection, "__init__")
def _projection_init(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None,
                     source=None, receptor_type=None, space=None, label=None):
    kwargs = {} if space is None else {"space": space}
    learning = isinstance(synapse_type, sm._LearningSynapseType)
    if learning:
        controller = _controller()
        if controller.built:
            raise ParameterError("learning projections must be created before the first run")
        if abs(simulator.state.dt - 1.0) > 1e-12:   # NEST would refuse the 1-step delay obscurely
            raise ParameterError(f"the ostl models run in steps of 1 ms: call sim.setup(timestep=1.0), "
                                 f"got timestep={simulator.state.dt}")
    _ORIGINAL[_NestProjection, "__init__"](self, presynaptic_population, postsynaptic_population, connector,
                                           synapse_type, source, receptor_type, label=label, **kwargs)
    if learning:
        controller.register_projection(self)


# pyNN.nest reads weights in pA and returns nA (x 0.001); the ostl weights are dimensionless
# and stored as they are, so learning projections read them unscaled
@_extends(_NestProjection, "_get_attributes_as_arrays")
def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
    if not _is_learning(self):
        return _ORIGINAL[_NestProjection, "_get_attributes_as_arrays"](self, names, multiple_synapses)
    conns, rows, cols = connections_table(self)
    arrays = []
    for name in names:
        name = {"weights": "weight", "delays": "delay"}.get(name, name)
        values = np.full((self.pre.size, self.post.size), np.nan)
        values[cols, rows] = np.asarray(conns.get(name), dtype=float)
        arrays.append(values)
    return arrays


@_extends(_NestProjection, "_get_attributes_as_list")
def _get_attributes_as_list(self, names):
    if not _is_learning(self):
        return _ORIGINAL[_NestProjection, "_get_attributes_as_list"](self, names)
    conns, rows, cols = connections_table(self)
    columns = [cols if name == "presynaptic_index" else rows if name == "postsynaptic_index"
               else np.asarray(conns.get(name), dtype=float) for name in names]
    return [tuple(row) for row in zip(*[np.atleast_1d(c).tolist() for c in columns])]


def connections_table(projection):
    """``(connections, post indices, pre indices)`` of a projection, read together (NEST
    reorders its connections when a simulation starts, so pyNN's cached SynapseCollection
    would point elsewhere)."""
    pre, post = projection.pre.node_collection, projection.post.node_collection
    conns = pyNN.nest.nest.GetConnections(pre, post, synapse_model=projection.nest_synapse_model,
                                          synapse_label=projection.nest_synapse_label)
    return (conns, *connection_indices(conns, pre, post))


# -- the controller --------------------------------------------------------------------------
class Controller:
    """Checks the learning network of one pyNN.nest setup and configures its NEST models.
    Kept among pyNN.nest's recording devices, which ``sim.setup`` clears."""

    _connected = True   # pyNN's run() leaves it alone

    def __init__(self):
        self.populations, self.projections = [], []
        self.built = False
        self.sync_feedback = False

    def register_population(self, population):
        self.populations.append(population)

    def register_projection(self, projection):
        self.projections.append(projection)

    # ------------------------------------------------------------------------------------
    def build(self):
        """Check everything, then set the models up; raises ParameterError before any step."""
        nest = pyNN.nest.nest
        readout, layers, ff, rec, ro, feedback, syn_type, learning_rate = describe(self.projections,
                                                                                   simulator.state.dt)
        rule, optimizer = syn_type.rule, syn_type.optimizer(learning_rate)
        net_layers = []
        for pop in layers:
            celltype = pop.celltype
            parameter = celltype.neuron_parameter
            if parameter and celltype.learned[parameter]:
                raise ParameterError(f"pyNN.nest learns weights only: declare {type(celltype).__name__}(..., "
                                     f"learn_{parameter}=False) for population {pop.label!r}")
            autapses = True
            if id(pop) in rec:
                conns, rows, cols = connections_table(rec[id(pop)])
                autapses = bool(np.any(rows == cols))
            net_layers.append(Layer(pop.size, celltype.ostl_cell(), recurrent=id(pop) in rec, autapses=autapses))
            if parameter == "bias" and np.any(np.asarray(pop.get("bias"), dtype=float) > 0):
                raise ParameterError(f"bias of population {pop.label!r} must be <= 0 on pyNN.nest: the first step "
                                     "of a simulation starts at rest, where a positive bias would fire")
        if readout.celltype.learned["bias"]:
            raise ParameterError(f"pyNN.nest learns weights only: declare Readout(..., learn_bias=False) for "
                                 f"population {readout.label!r}")
        leak = float(np.ravel(np.asarray(readout.celltype.parameter_space["leak"]))[0])
        activation = readout.celltype.options["activation"]
        self.ostl_network = Network(ff[id(layers[0])].pre.size, net_layers, OstlReadout(readout.size, activation,
                                                                                         leak=leak))
        trainable = trainable_parameters(self.ostl_network, layers, readout)
        check_supported(self.ostl_network, rule, syn_type.mode, optimizer, trainable)
        matrices = feedback_matrices(rule, layers, readout, feedback)
        rule.check_feedback(self.ostl_network, matrices)
        trial = self._check_trials(syn_type, ff[id(layers[0])].pre, readout)
        self._check_connectivity(ff, rec, ro, layers)
        # -- configure (nothing above touched NEST) ----------------------------------------
        hidden, geometry = layers[0], {"trial_steps": trial - TRIAL_PAUSE_STEPS, "pause_steps": TRIAL_PAUSE_STEPS}
        _, hidden_params = hidden_parameters(net_layers[0].cell, rule, HIDDEN_FIRST_STEP, leak, geometry)
        hidden.node_collection.set(hidden_params)
        readout.node_collection.set(readout_parameters(activation, leak, rule, READOUT_FIRST_STEP, geometry))
        nest.SetDefaults(PLASTIC_MODEL + "_lbl", synapse_defaults(optimizer))
        self._connect_targets(readout)
        self.readout_projection, self.signal_projections = ro, feedback
        self.sync_feedback = rule.feedback == "symmetric"
        if self.sync_feedback:
            self.copy_readout_weights()
        self.trial_steps = trial
        self.built = True

    def _check_trials(self, syn_type, source, readout):
        duration = float(syn_type.trial_duration)
        trial = int(round(duration))
        if abs(duration - trial) > 1e-9 or trial <= TRIAL_PAUSE_STEPS:
            raise ParameterError(f"trial_duration must be a whole number of ms > {TRIAL_PAUSE_STEPS} on pyNN.nest, "
                                 f"got {duration}")
        quiet = np.arange(trial) >= trial - TRIAL_PAUSE_STEPS
        mask = readout.ostl_loss_mask
        if np.any(mask[:FIRST_TARGET_STEP] != 0):
            raise ParameterError(f"Readout loss_mask must start with {FIRST_TARGET_STEP} zeros on pyNN.nest: no "
                                 "target reaches the readout in NEST's first updates")
        loud = np.nonzero(quiet[np.arange(mask.size) % trial] & (mask != 0))[0]
        if loud.size:
            raise ParameterError(f"pyNN.nest completes each trial's update in its last {TRIAL_PAUSE_STEPS} steps: "
                                 f"Readout loss_mask must be 0 there (step {loud[0]} has {mask[loud[0]]})")
        if type(source.celltype).__name__ != "SpikeSourceArray":
            raise ParameterError("the input of a learning network on pyNN.nest must be a SpikeSourceArray")
        for index, times in enumerate(np.ravel(source.get("spike_times", simplify=False))):
            steps = np.round(np.asarray(getattr(times, "value", times), dtype=float)).astype(int) + 1
            bad = steps[quiet[steps % trial]]
            if bad.size:
                raise ParameterError(f"pyNN.nest completes each trial's update in its last {TRIAL_PAUSE_STEPS} "
                                     f"steps: input {index} must not spike there (a spike at {bad[0] - 1} ms reaches "
                                     f"step {bad[0]})")
        return trial

    @staticmethod
    def _check_connectivity(ff, rec, ro, layers):
        for projection in [ff[id(layers[0])], ro] + ([rec[id(layers[0])]] if id(layers[0]) in rec else []):
            conns, rows, cols = connections_table(projection)
            expected = projection.pre.size * projection.post.size - (
                projection.pre.size if projection.pre is projection.post and not np.any(rows == cols) else 0)
            if len(rows) != expected:
                raise ParameterError(f"projection {projection.label!r} must connect all-to-all "
                                     "(AllToAllConnector; allow_self_connections for recurrent layers)")
            delays = np.asarray(conns.get("delay"), dtype=float)
            if np.any(np.abs(delays - 1.0) > 1e-9):
                raise ParameterError(f"projection {projection.label!r}: delay must be 1 ms (one step), got "
                                     f"{sorted(set(delays.tolist()))}")

    def _connect_targets(self, readout):
        """Step current generators bring the target and the loss mask of every step to the
        readout's continuous ports (read at the end of an update: set one step early)."""
        nest = pyNN.nest.nest
        target, mask = readout.ostl_target, readout.ostl_loss_mask
        # an amplitude set at time u reaches the readout's update u + 1 (delay 1): step g
        # (update READOUT_FIRST_STEP + g) reads the value set at READOUT_FIRST_STEP + g - 1;
        # generators change amplitudes at t > 0 only: the first steps are masked (checked)
        times = np.arange(target.shape[0] + 1, dtype=float) + READOUT_FIRST_STEP - 1.0
        keep = np.arange(times.size) >= FIRST_TARGET_STEP
        target = np.vstack([target, np.zeros((1, target.shape[1]))])[keep]
        mask = np.append(mask, 0.0)[keep]
        times = times[keep]
        generators = nest.Create("step_current_generator", 2 * readout.size)
        for k in range(readout.size):
            generators[k].set(amplitude_times=times.tolist(), amplitude_values=target[:, k].tolist())
            generators[readout.size + k].set(amplitude_times=times.tolist(), amplitude_values=mask.tolist())
        nest.Connect(generators[:readout.size], readout.node_collection, "one_to_one",
                     {"receptor_type": TARGET_PORT, "delay": 1.0})
        nest.Connect(generators[readout.size:], readout.node_collection, "one_to_one",
                     {"receptor_type": MASK_PORT, "delay": 1.0})
        self.generators = generators

    def copy_readout_weights(self):
        """Symmetric feedback: the learning-signal weights are the current readout weights."""
        conns, rows, cols = connections_table(self.readout_projection)
        W_out = np.zeros((self.readout_projection.post.size, self.readout_projection.pre.size))
        W_out[rows, cols] = np.asarray(conns.get("weight"), dtype=float)
        for projection in self.signal_projections:   # readout -> hidden
            copy_readout_weights(connections_table(projection)[0], W_out, projection.pre.node_collection,
                                 projection.post.node_collection)


def _controller(create=True):
    for device in simulator.state.recording_devices:
        if isinstance(device, Controller):
            return device
    if not create:
        return None
    controller = Controller()
    simulator.state.recording_devices.append(controller)
    return controller


# -- running -----------------------------------------------------------------------------------
_pynn_run = type(simulator.state).run
_pynn_clear = type(simulator.state).clear


def _clear():
    """pyNN.nest's set-up resets the NEST kernel; the ostl models are loaded again."""
    _pynn_clear(simulator.state)
    nestml_models.install()


def _run(simtime):
    """pyNN.nest's run, preceded by the check and set-up of the learning network. With
    symmetric feedback the simulation stops inside every trial's pause to copy the updated
    readout weights onto the learning-signal connections."""
    state = simulator.state
    controller = _controller(create=False)
    if controller is None or not (controller.projections or controller.populations):
        return _pynn_run(state, simtime)
    if not controller.built:
        controller.build()
    if not controller.sync_feedback or simtime <= 0:
        return _pynn_run(state, simtime)
    nest = pyNN.nest.nest
    total = simtime + (0.0 if state.running else state.min_delay)
    _pynn_run(state, 0.0)   # pyNN's preparations (parrots, recorders)
    state.running = True
    now, end, trial = float(nest.biological_time), float(nest.biological_time) + total, controller.trial_steps
    lead = 2.0 - HIDDEN_FIRST_STEP   # stop two steps before a trial's first update (k trial + HIDDEN_FIRST_STEP)
    while now < end - 1e-9:
        boundary = (np.floor((now + lead) / trial) + 1.0) * trial - lead
        stop = min(boundary, end)
        nest.Simulate(stop - now)
        now = stop
        if abs(now - boundary) < 1e-9:
            controller.copy_readout_weights()


simulator.state.run = _run
simulator.state.clear = _clear


def record_synapses(projection, variables):
    raise ParameterError("pyNN.nest does not record synapses step by step (NEST's synapses catch up only at "
                         "spikes); read them with Projection.get('weight', format='array')")


def synapse_records(projection):
    record_synapses(projection, ())
