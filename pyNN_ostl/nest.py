"""``pyNN.nest`` translation of the :mod:`pyNN_ostl` types, built on :mod:`nestml_models`.

    import pyNN.nest as sim
    import pyNN_ostl
    ostl = pyNN_ostl.for_simulator(sim)      # this module
    ostl.setup(timestep=1.0)                 # sim.setup, then the ostl NEST module

The types here subclass the declarations of :mod:`pyNN_ostl.standardmodels` with what
pyNN.nest reads of a type, as ``pyNN/nest/standardmodels`` does: the cell types name this
package's NEST learning models (``snu_neuron_learning``, ..., ``readout_neuron_learning``;
``nest_name``, ``translations``, ``extra_parameters`` for the model choices by name,
``variable_map``); the learning synapse types name ``ostl_synapse`` (plastic: input,
recurrent and readout projections) and ``ostl_learning_signal_connection`` (the learning
signals, readout -> hidden), labelled as pyNN.nest labels every projection. Weights are
read through the synapses' ``ostl_weight`` (pyNN.nest scales a NEST ``weight`` by 0.001 when
reading it, for currents in pA; ours are dimensionless).

What depends on the whole network (rule, trial geometry, feedback) is assembled when the
simulation starts, by a :class:`Controller` that pyNN.nest calls before every run (the hook
of :mod:`pyNN_ostl.hooks`): at the first run it finds the populations and learning
connections, checks them with the code shared by every backend (:mod:`pyNN_ostl.structure`),
refuses what NEST cannot learn exactly, sets the models' parameters and connects the
readout's target and loss mask, all before NEST simulates a step.

Time (one step = 1 ms). A ``SpikeSourceArray`` spike at ``t - 1`` reaches the hidden
layer at step ``t`` (as on pyNN.brian2). NEST's update ``u`` advances the state from
``u`` to ``u + 1`` ms, so the hidden layer's step ``t`` is NEST's update ``t - 1`` and its
spikes carry the same time stamp ``t`` as on pyNN.brian2. The readout sees hidden step ``t``
one update later (every NEST connection has a delay of one step): its step ``t`` is update
``t``, recorded at ``t + 1`` ms. The very first step of a simulation (update -1) comes before
NEST's first update: each hidden neuron runs it at its first update, from rest and without
input (biases must be <= 0, so that no neuron fires spontaneously; nothing reaches that step),
so that its factors exist; no current generator reaches the readout's steps 0 and 1 (NEST's
first two updates): their ``loss_mask`` must be 0.
pyNN.nest cannot emit spike-source spikes at 0 or 1 ms (its parrot neurons need one step):
inputs start at step 3.

Trials: NEST's learning signals reach the hidden synapses three steps late, so the
deferred update of a trial is complete only a few steps after its last learning step. The
last :data:`TRIAL_PAUSE_STEPS` steps of every trial (``trial_duration``; with a softmax readout,
whose neurons exchange their potentials and normalise one step later,
:data:`SOFTMAX_PAUSE_STEPS`) are therefore a
pause on NEST: the script must keep them silent (no input spikes, ``loss_mask`` 0), which
on pyNN.brian2 makes them contribute nothing to the gradient, so both simulators learn the
same weights. With symmetric feedback the learning-signal weights are the readout weights
of the moment: :func:`run` stops inside every trial's pause to copy them (``sim.run`` is
refused for such a network). The readout's ``learn_bias`` learns in the readout neurons
(``learn_bias``), a hidden population's learned bias or threshold in the hidden neurons
(``learn_neuron_param``), with the plastic synapses' optimiser. The first trial's step 0 is NEST's
update -1: a hidden neuron runs it at its first update, from rest (nothing reaches it), so that
its factors and its parameter's trace exist.

Recordings: :func:`get_data` puts a hidden population's signals on pyNN.brian2's time grid, and
:func:`record_synapses` records the synapses step by step (:mod:`pyNN_ostl.nest_recording`).
"""

from __future__ import annotations

import numpy as np
import pyNN.nest
from pyNN.nest import simulator
from pyNN.nest.synapses import NESTSynapseMixin
from pyNN.standardmodels import build_translations

import nestml_models
from nestml_models import parallel
from nestml_models.generate import nest_name
from nestml_models.parameters import (
    MASK_PORT,
    PAUSE_STEPS,
    TARGET_PORT,
    hidden_parameters,
    neuron_model,
    neuron_optimizer_settings,
    pause_steps_for,
    readout_parameters,
    synapse_defaults,
)
from nestml_models.pcm_synapses import PCM_MODEL, PCM_READOUT_MODEL, pcm_defaults, push_pcm_state
from nestml_models.support import check_supported
from nestml_models.wiring import (
    CATCH_UP_EVERY,
    catch_up_synapses,
    connect_softmax_readouts,
    connection_indices,
    copy_readout_weights,
)
from ostl.errors import ParameterError
from ostl.network import Layer, Network
from ostl.network import Readout as OstlReadout

from . import standardmodels as sm
from .hooks import require_pynn
from .nest_recording import SynapseRecording, aligned_hidden_signal, aligned_readout_signal, softmax_outputs
from .structure import (
    TRANSLATION_API,
    ProjectionRecord,
    describe,
    feedback_matrices,
    network_optimizer,
    readout_sequences,
    synapse_segment,
    synapse_variables,
    trainable_parameters,
)
from .structure import spike_times as spike_times  # noqa: E402  (part of the interface, re-exported)

__all__ = list(TRANSLATION_API)

#: steps at the end of every trial in which NEST completes the trial's update (one more with a
#: softmax readout, whose neurons normalise one step later: :data:`SOFTMAX_PAUSE_STEPS`)
TRIAL_PAUSE_STEPS = PAUSE_STEPS
SOFTMAX_PAUSE_STEPS = pause_steps_for(1, softmax=True)


def trial_pause_steps(hidden_populations=1, softmax=False):
    """The steps a script keeps silent at the end of every trial on pyNN.nest (no input spikes,
    ``loss_mask`` 0): k + 3 for a chain of k hidden populations, one more with a softmax readout."""
    return pause_steps_for(hidden_populations, softmax)
#: the hidden layer's step t is NEST's update t - 1; the readout's is update t
HIDDEN_FIRST_STEP, READOUT_FIRST_STEP = -1, 0
#: the first readout step a current generator can reach (amplitudes change at t > 0 ms,
#: and arrive one update later)
FIRST_TARGET_STEP = 2

PLASTIC_MODEL = "ostl_synapse"
#: the ReadoutSynapse's NEST model: a copy of ``ostl_synapse_lbl`` with an optimiser of its own (its rate)
READOUT_MODEL = "ostl_pynn_readout_synapse"
SIGNAL_MODEL = "ostl_learning_signal_connection"
#: what pyNN.nest reads as a learning synapse's weight: the synapses' unscaled copy
WEIGHT_ALIAS = "ostl_weight"


def _nest():
    return pyNN.nest.nest


def _require_models():
    if PLASTIC_MODEL not in _nest().synapse_models:
        raise ParameterError("the ostl NEST models are not loaded: set up with ostl.setup(...) "
                             "(ostl = pyNN_ostl.for_simulator(sim)) instead of sim.setup(...)")


def setup(timestep=1.0, **kwargs):
    """``pyNN.nest.setup``, then the ostl NEST module (NEST loads extension modules only into
    an empty network, and every setup empties it).

    Under MPI the delay extrema are set explicitly (``min_delay`` = the time step, the one-step
    delay of the learning connections; ``max_delay``: yours, or pyNN's 10 ms): with automatic
    extrema NEST exchanges them between processes at every connection query, and pyNN.nest,
    which connects cell by cell, makes as many queries as a process has cells, so processes with
    unequal numbers of a population's cells wait for each other forever (PyNN issues 657, 767); and
    NEST's spike compression is off (see below)."""
    if parallel.processes(_nest()) > 1 and kwargs.get("min_delay", "auto") == "auto":
        kwargs["min_delay"] = timestep
    result = pyNN.nest.setup(timestep=timestep, **kwargs)
    if parallel.processes(_nest()) > 1:
        # NEST's compressed spike delivery (its default) delivered hidden spikes wrongly through a copy of
        # ostl_synapse_lbl (a ReadoutSynapse with a learning rate of its own) on several processes: the
        # readout's potential differed from one process's from step 21 of the first trial on; without
        # compression the processes equal one (tests/test_nest_mpi.py)
        _nest().set(use_compressed_spikes=False)
    # NEST's spike buffer never shrinks: trials and their silent pauses would resize it twice a trial,
    # and every resize is logged in the kernel status every status call converts (NestNetwork)
    _nest().set(spike_buffer_shrink_limit=0.0)
    nestml_models.install()
    _nest().CopyModel(PLASTIC_MODEL + "_lbl", READOUT_MODEL + "_lbl")
    _nest().CopyModel(PCM_MODEL + "_lbl", PCM_READOUT_MODEL + "_lbl")
    return result


def run(simtime, callbacks=None):
    """``pyNN.nest.run``; with symmetric feedback it stops inside every trial's pause to
    copy the updated readout weights onto the learning-signal connections."""
    controller = _controller()
    controller.syncing = True
    ours = [controller.trial_sync] + ([controller.record_step] if controller.synapse_requests else [])
    try:
        return pyNN.nest.run(simtime, callbacks=list(callbacks or []) + ours)
    finally:
        controller.syncing = False


# -- cell types: the declarations with pyNN.nest's translation ------------------------------------
class _NestCellType:
    """A hidden-layer cell on NEST: ``<model>_learning``; model choices by name."""

    standard_receptor_type = True   # spikes arrive at the models' single spike port

    @property
    def nest_name(self):
        _require_models()
        model, _ = neuron_model(self.ostl_cell(), keep_reset_path=True)
        return {"on_grid": f"{model}_learning", "off_grid": f"{model}_learning"}

    @property
    def extra_parameters(self):
        """The model choices (pseudo-derivative, activation) by name, with their numbers."""
        _, params = neuron_model(self.ostl_cell(), keep_reset_path=True)
        return {k: v for k, v in params.items() if k not in self.default_parameters and k != "keep_reset_path"}

    @property
    def variable_map(self):
        cell = self.ostl_cell()
        names = {name: nest_name(name) for name in cell.state_names}
        # learning_signal: as it arrives, readout_lag + 1 steps late (get_data puts it in its step)
        return dict(names, y="y", pseudo_derivative="pseudo_derivative", learning_signal="learning_signal")

    @property
    def default_initial_values(self):
        return {name: 0.0 for name in self.variable_map}



SNU, SoftResetSNU, LIF, ALIF = (sm.translated(declaration, _NestCellType, __name__)
                                for declaration in (sm.SNU, sm.SoftResetSNU, sm.LIF, sm.ALIF))


class _NestReadout:
    standard_receptor_type = True
    # the target and loss mask reach the model through current generators (set at the first run)
    translations = build_translations(("leak", "leak"), ("bias", "bias"), ("target", "UNSUPPORTED"),
                                      ("loss_mask", "UNSUPPORTED"))
    variable_map = {"potential": "potential", "output": "output_value", "error": "error", "target": "target_value"}

    def can_record(self, variable, location=None):
        if variable == "error" and self.options["activation"] == "softmax":
            raise ParameterError("pyNN.nest does not record the error of a softmax Readout (its neurons compute it "
                                 "a step later, from every readout's potential); record output and target")
        return super().can_record(variable, location)

    @property
    def nest_name(self):
        _require_models()
        return {"on_grid": "readout_neuron_learning", "off_grid": "readout_neuron_learning"}

    @property
    def default_initial_values(self):
        return {name: 0.0 for name in self.variable_map}


Readout = sm.translated(sm.Readout, _NestReadout, __name__)


# -- synapse types ---------------------------------------------------------------------------------
class _NestSynapseType(NESTSynapseMixin):
    """A learning synapse type on NEST. pyNN.nest asks it for its NEST model when a
    projection is made; the controller learns here which synapse type each projection
    label belongs to."""

    @property
    def nest_name(self):
        """``ostl_synapse``, or ``ostl_pcm_synapse`` for weights on PCM devices."""
        return PLASTIC_MODEL if self.pcm_config is None else PCM_MODEL

    def _get_nest_synapse_model(self):
        _require_models()
        if abs(simulator.state.dt - 1.0) > 1e-12:   # NEST would refuse the 1-step delay obscurely
            raise ParameterError(f"the ostl models run in steps of 1 ms: call sim.setup(timestep=1.0), "
                                 f"got timestep={simulator.state.dt}")
        controller = _controller()
        if controller.built:
            raise ParameterError("learning projections must be created before the first run")
        from pyNN.common.projections import Projection

        controller.register(Projection._nProj, self)   # the label pyNN.nest gives this projection
        return super()._get_nest_synapse_model()

    def get_native_names(self, *names):
        """Weights are read unscaled (see the module docstring)."""
        return [WEIGHT_ALIAS if name == "weight" else name for name in super().get_native_names(*names)]


class _NestReadoutType(_NestSynapseType):
    @property
    def nest_name(self):
        """``ostl_synapse``; with a learning rate of its own ``ostl_pynn_readout_synapse`` (a copy with
        its own optimiser); ``ostl_pcm_synapse`` on PCM devices."""
        if self.pcm_config is not None:
            return PCM_MODEL if self.learning_rate is None else PCM_READOUT_MODEL
        return PLASTIC_MODEL if self.learning_rate is None else READOUT_MODEL



OSTLSynapse, EPropSynapse = (sm.translated(declaration, _NestSynapseType, __name__)
                             for declaration in (sm.OSTLSynapse, sm.EPropSynapse))
ReadoutSynapse = sm.translated(sm.ReadoutSynapse, _NestReadoutType, __name__)


class _NestSignalType(_NestSynapseType):
    nest_name = SIGNAL_MODEL


LearningSignalConnection = sm.translated(sm.LearningSignalConnection, _NestSignalType, __name__)


# -- the controller ----------------------------------------------------------------------------------
def _controller():
    """The controller of the current pyNN.nest setup (kept among pyNN.nest's recording
    devices, the pre-run hook; ``sim.setup`` clears them)."""
    for device in simulator.state.recording_devices:
        if isinstance(device, Controller):
            return device
    require_pynn(simulator.state, "connect_to_cells")
    controller = Controller()
    simulator.state.recording_devices.append(controller)
    return controller


def _connections(model, label=None):
    nest = _nest()
    kwargs = {"synapse_model": model + "_lbl"}
    if label is not None:
        kwargs["synapse_label"] = label
    return nest.GetConnections(**kwargs)


class Controller:
    """Checks the learning network of one pyNN.nest setup and configures its NEST models."""

    _connected = False   # pyNN.nest calls connect_to_cells before every run while this is false

    def __init__(self):
        self.types = {}       # projection label -> synapse type
        self.built = False
        self.pcm = None       # the PCM arrays (ostl.hardware.pcm.loop.PCMWeights) of PCM synapses
        self.syncing = False  # inside run()
        self.sync_feedback = False
        self.synapse_requests = []     # (projection, variables) from record_synapses
        self.synapse_recordings = []   # (projection record, SynapseRecording)
        self.hidden = []               # the learning hidden populations (get_data)
        self.readout = None            # the readout population (get_data)
        self.pause = TRIAL_PAUSE_STEPS
        self.softmax = False
        self.layer_lags = [1]                    # per hidden layer: its readout_lag
        self.readout_first = READOUT_FIRST_STEP  # the readout's update of the first trial's step 0

    def register(self, label, synapse_type):
        self.types[label] = synapse_type

    # what pyNN.nest calls on its recording devices, before every run
    def connect_to_cells(self):
        if not self.built and self.types:
            self.build()
        elif self.built:
            catch_up_synapses(_nest())   # between runs: no synapse keeps old history
        if self.sync_feedback and not self.syncing:
            raise ParameterError("symmetric feedback on NEST copies the readout weights in every trial's pause: "
                                 "run with ostl.run(t) (ostl = pyNN_ostl.for_simulator(sim)) instead of sim.run(t)")
        # NEST sorts the connections when a simulation starts: pyNN.nest's cached collections are stale
        simulator.state.stale_connection_cache = True

    # ------------------------------------------------------------------------------------
    def _find_projections(self):
        populations = list(simulator.state.populations)

        def population_of(node_id):
            for pop in populations:
                ids = pop.node_collection.tolist()
                if ids and ids[0] <= node_id <= ids[-1] and node_id in ids:
                    return pop
            raise ParameterError(f"node {node_id} of a learning projection belongs to no population")

        records = []
        for label, synapse_type in sorted(self.types.items()):
            ends = parallel.connection_columns(_nest(), _connections(synapse_type.nest_name, label),
                                               ["source", "target"])   # of every process
            if ends["source"].size == 0:
                raise ParameterError(f"the learning projection {label} made no connections")
            sources, targets = ends["source"], ends["target"]
            pre, post = population_of(int(sources[0])), population_of(int(targets[0]))
            record = ProjectionRecord(pre, post, synapse_type, "recurrent" if pre is post else "excitatory",
                                      weights=lambda lbl=label, t=synapse_type, a=pre, b=post:
                                      self._weights(t.nest_name, lbl, a, b))
            record.nest_label = label
            records.append(record)
        return records

    @staticmethod
    def _weights(model, label, pre, post, key="weight"):
        conns = _connections(model, label)
        columns = parallel.connection_columns(_nest(), conns, ["source", "target", key])   # every process's
        rows = np.asarray(columns["target"], dtype=int) - post.node_collection[0].global_id
        cols = np.asarray(columns["source"], dtype=int) - pre.node_collection[0].global_id
        W = np.full((pre.size, post.size), np.nan)
        W[cols, rows] = np.asarray(columns[key], dtype=float)
        return W

    def build(self):
        """Check everything, then set the models up; raises ParameterError before any step."""
        nest = _nest()
        self.records = records = self._find_projections()
        readout, layers, ff, rec, ro, feedback, syn_type = describe(records, simulator.state.dt)
        rule, optimizer = syn_type.rule, network_optimizer(syn_type, ro)
        net_layers = []
        for pop in layers:
            celltype = pop.celltype
            parameter = celltype.neuron_parameter
            autapses = True
            if id(pop) in rec:
                W = rec[id(pop)].weights()
                autapses = bool(np.any(~np.isnan(np.diag(W))))
            net_layers.append(Layer(pop.size, celltype.ostl_cell(), recurrent=id(pop) in rec, autapses=autapses))
            if parameter == "bias" and np.any(np.asarray(pop.get("bias"), dtype=float) > 0):
                raise ParameterError(f"bias of population {pop.label!r} must be <= 0 on pyNN.nest: the first step "
                                     "of a simulation starts at rest, where a positive bias would fire")
            self._check_initial_values(pop)
        leak = float(np.ravel(np.asarray(readout.get("leak"), dtype=float))[0])
        activation = readout.celltype.options["activation"]
        softmax = activation == "softmax"
        self.pause = pause_steps_for(len(layers), softmax)
        self.ostl_network = Network(ff[id(layers[0])].pre.size, net_layers, OstlReadout(readout.size, activation,
                                                                                         leak=leak))
        trainable = trainable_parameters(self.ostl_network, layers, readout)
        check_supported(self.ostl_network, rule, syn_type.mode, optimizer, trainable)
        matrices = feedback_matrices(rule, layers, readout, feedback)
        rule.check_feedback(self.ostl_network, matrices)
        target, mask = self._readout_sequences(readout)
        trial = self._check_trials(syn_type, ff[id(layers[0])].pre, mask, self.pause)
        self._check_connectivity(ff, rec, ro, layers)
        # -- configure (nothing above touched NEST) ----------------------------------------
        # every connection delays by one step: layer l's step t is update t - 1 + l, the readout's
        # t - 1 + k; layer l's learning signal of step t arrives readout_lag = k - l updates later
        # (a softmax readout's one more: its neurons normalise after exchanging their potentials)
        depth, geometry = len(layers), {"trial_steps": trial - self.pause, "pause_steps": self.pause}
        self.layer_lags = [depth - index + int(softmax) for index in range(depth)]
        self.readout_first = HIDDEN_FIRST_STEP + depth
        for index, pop in enumerate(layers):
            _, hidden_params = hidden_parameters(net_layers[index].cell, rule, HIDDEN_FIRST_STEP + index, leak,
                                                 geometry, syn_type.regularisation)
            name = f"layer{index}.{pop.celltype.neuron_parameter}"
            if name in trainable:   # a learned bias / threshold: the neurons learn it
                hidden_params.update(learn_neuron_param=True,
                                     neuron_param_optimizer=neuron_optimizer_settings(optimizer, name))
            pop.node_collection.set(dict(hidden_params, readout_lag=self.layer_lags[index]))
        readout.node_collection.set(readout_parameters(activation, leak, rule, self.readout_first, geometry))
        if softmax:
            connect_softmax_readouts(nest, readout.node_collection)
        self._learn_readout_bias(trainable, optimizer, readout)
        self.pcm = self._pcm(records, syn_type, rule, trial, ff, rec, ro, layers)
        if self.pcm is None:
            nest.SetDefaults(PLASTIC_MODEL + "_lbl", synapse_defaults(optimizer))
            if ro.synapse_type.learning_rate is not None:
                nest.SetDefaults(READOUT_MODEL + "_lbl", synapse_defaults(optimizer, "readout.W"))
        else:
            nest.SetDefaults(PCM_MODEL + "_lbl", dict(synapse_defaults(optimizer),
                                                      pcm=pcm_defaults(self.pcm.config, trial)))
            if ro.synapse_type.learning_rate is not None:
                nest.SetDefaults(PCM_READOUT_MODEL + "_lbl", dict(synapse_defaults(optimizer, "readout.W"),
                                                                  pcm=pcm_defaults(self.pcm.config, trial)))
            self._push_pcm(ff, rec, ro, layers)
        self._connect_targets(readout, target, mask)
        self.readout_projection, self.signal_projections = ro, feedback
        self.sync_feedback = rule.feedback == "symmetric"
        self.trial_steps = trial
        self.hidden, self.readout, self.softmax = list(layers), readout, softmax
        self.synapse_recordings = [self._synapse_recording(request, variables, readout, net_layers)
                                   for request, variables in self.synapse_requests]
        if self.sync_feedback:
            self.copy_readout_weights()
        self.built = True

    def _synapse_recording(self, projection, variables, readout, net_layers):
        record = next((r for r in self.records if r.matches(projection)), None)
        if record is None:
            raise ParameterError(f"record_synapses: projection {projection.label!r} has no learning synapses")
        model, label = record.synapse_type.nest_name, record.nest_label
        to_readout = record.post is readout
        index = self.layer_of(record.post)
        two_dimensional = not to_readout and len(net_layers[index].cell.state_names) == 2
        first_step = self.readout_first if to_readout else HIDDEN_FIRST_STEP + index
        return record, SynapseRecording(lambda: _connections(model, label), record.pre, record.post, variables,
                                        first_step, self.trial_steps, self.pause, two_dimensional,
                                        eligibility=not to_readout)

    def layer_of(self, population):
        """The index of ``population`` among the learning hidden layers, or None."""
        return next((index for index, pop in enumerate(self.hidden) if pop is population), None)

    def record_step(self, t):
        """A PyNN run callback (record_synapses): every step, file each recorded projection's state of
        its last complete step; returns the next step's time."""
        if self.built:
            for _, recording in self.synapse_recordings:
                recording.read(_nest())
        return t + simulator.state.dt

    @staticmethod
    def _learn_readout_bias(trainable, optimizer, readout):
        """A learned readout bias learns in the readout neurons (nestml_models.network.NestNetwork does
        the same), with the synapses' optimiser (no weight bounds on it)."""
        if "readout.b" in trainable:
            readout.node_collection.set({"learn_bias": True,
                                         "bias_optimizer": neuron_optimizer_settings(optimizer, "readout.b")})

    # -- PCM synapses -----------------------------------------------------------------------
    def _pcm(self, records, syn_type, rule, trial, ff, rec, ro, layers):
        """The PCM arrays of the learning projections (programmed from their initial
        weights), or None for float weights; every learning projection must agree."""
        settings = {r.synapse_type.pcm_settings() for r in records
                    if isinstance(r.synapse_type, (sm._PlasticSynapse, sm.ReadoutSynapse))}
        if len(settings) > 1:
            raise ParameterError("the plastic projections and the ReadoutSynapse must all have the same synapses "
                                 "setting (float, or the same PCM settings and seed)")
        if settings == {None}:
            return None
        from ostl.hardware.pcm.loop import PCMWeights

        config, seed = syn_type.pcm_config, syn_type.pcm_seed
        if config.read != "trial":
            raise ParameterError("PCM synapses on pyNN.nest read their devices once per trial: synapses "
                                 "{'read': 'trial'}")
        if config.feedback and rule.feedback_shapes(self.ostl_network):
            raise ParameterError("the feedback matrix of a LearningSignalConnection stays in software on pyNN.nest: "
                                 "give the plastic synapses {'feedback': False} among their PCM settings")
        if len(layers) > 1:
            raise ParameterError("PCM synapses on pyNN.nest learn one hidden population; chains of populations "
                                 "learn with float weights (or on the reference engine with PCM arrays)")
        hidden = layers[0]
        params = {"layer0.W": ff[id(hidden)].weights().T, "readout.W": ro.weights().T}
        if id(hidden) in rec:
            params["layer0.H"] = np.nan_to_num(rec[id(hidden)].weights().T)
        return PCMWeights(self.ostl_network, params, {}, config, seed=seed)

    def _push_pcm(self, ff, rec, ro, layers):
        hidden = layers[0]
        named = {"layer0.W": ff[id(hidden)], "readout.W": ro}
        if id(hidden) in rec:
            named["layer0.H"] = rec[id(hidden)]
        for name, record in named.items():
            conns = _connections(record.synapse_type.nest_name, record.nest_label)
            rows, cols = connection_indices(conns, record.pre.node_collection, record.post.node_collection)
            push_pcm_state(conns, rows, cols, self.pcm, name)

    @staticmethod
    def _check_initial_values(pop):
        for variable, value in dict(getattr(pop, "initial_values", {}) or {}).items():
            try:
                values = np.asarray(value.evaluate(simplify=True), dtype=float)
            except (AttributeError, TypeError, ValueError):
                continue
            if np.any(values != 0.0):
                raise ParameterError(f"initial value of {variable!r} of population {pop.label!r}: every trial of an "
                                     "ostl cell starts at rest (0)")

    @staticmethod
    def _readout_sequences(readout):
        ps = readout.celltype.parameter_space
        ps.shape = (readout.size,)
        ps.evaluate(simplify=False)
        return readout_sequences(ps, readout.size)

    @staticmethod
    def _check_trials(syn_type, source, mask, pause):
        duration = float(syn_type.trial_duration)
        trial = int(round(duration))
        if abs(duration - trial) > 1e-9 or trial <= pause:
            raise ParameterError(f"trial_duration must be a whole number of ms > {pause} on pyNN.nest, "
                                 f"got {duration}")
        quiet = np.arange(trial) >= trial - pause
        if np.any(mask[:FIRST_TARGET_STEP] != 0):
            raise ParameterError(f"Readout loss_mask must start with {FIRST_TARGET_STEP} zeros on pyNN.nest: no "
                                 "target reaches the readout in NEST's first updates")
        loud = np.nonzero(quiet[np.arange(mask.size) % trial] & (mask != 0))[0]
        if loud.size:
            raise ParameterError(f"pyNN.nest completes each trial's update in its last {pause} steps: "
                                 f"Readout loss_mask must be 0 there (step {loud[0]} has {mask[loud[0]]})")
        if type(source.celltype).__name__ != "SpikeSourceArray":
            raise ParameterError("the input of a learning network on pyNN.nest must be a SpikeSourceArray")
        for index, times in enumerate(np.ravel(source.get("spike_times", simplify=False))):
            steps = np.round(np.asarray(getattr(times, "value", times), dtype=float)).astype(int) + 1
            bad = steps[quiet[steps % trial]]
            if bad.size:
                raise ParameterError(f"pyNN.nest completes each trial's update in its last {pause} "
                                     f"steps: input {index} must not spike there (a spike at {bad[0] - 1} ms reaches "
                                     f"step {bad[0]})")
        return trial

    @staticmethod
    def _check_connectivity(ff, rec, ro, layers):
        for record in [ff[id(pop)] for pop in layers] + [ro] + [rec[id(pop)] for pop in layers if id(pop) in rec]:
            conns = _connections(record.synapse_type.nest_name, record.nest_label)
            W = record.weights()
            expected = record.pre.size * record.post.size - (
                record.pre.size if record.pre is record.post and np.all(np.isnan(np.diag(W))) else 0)
            # every process checks the whole projection (its own part alone differs between processes)
            delays = parallel.connection_columns(_nest(), conns, ["delay"])["delay"].astype(float)
            if delays.size != expected:
                raise ParameterError(f"projection {record.label!r} must connect all-to-all "
                                     "(AllToAllConnector; allow_self_connections for recurrent layers)")
            if np.any(np.abs(delays - 1.0) > 1e-9):
                raise ParameterError(f"projection {record.label!r}: delay must be 1 ms (one step), got "
                                     f"{sorted(set(np.atleast_1d(delays).tolist()))}")

    def _connect_targets(self, readout, target, mask):
        """Step current generators bring the target and the loss mask of every step to the
        readout's continuous ports (read at the end of an update: set one step early)."""
        nest = _nest()
        # an amplitude set at time u reaches the readout's update u + 1 (delay 1): step g
        # (update readout_first + g) reads the value set at readout_first + g - 1;
        # generators change amplitudes at t > 0 only: the first steps are masked (checked)
        times = np.arange(target.shape[0] + 1, dtype=float) + self.readout_first - 1.0
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
        ro = self.readout_projection
        if self.pcm is None:
            W_out = np.nan_to_num(ro.weights()).T   # (readout, hidden)
        else:   # on PCM devices: the weights as read for the next trial
            W_out = np.nan_to_num(self._weights(ro.synapse_type.nest_name, ro.nest_label, ro.pre, ro.post,
                                                "pcm_read_weight")).T
        for record in self.signal_projections:   # readout -> hidden
            conns = _connections(SIGNAL_MODEL, record.nest_label)
            copy_readout_weights(conns, W_out, record.pre.node_collection, record.post.node_collection)

    # -- run(): trial-wise sync of symmetric feedback ------------------------------------------
    def _trial_steps(self):
        if self.built:
            return self.trial_steps
        durations = {t.trial_duration for t in self.types.values() if isinstance(t, sm._PlasticSynapse)}
        durations.discard(None)
        return int(round(durations.pop())) if len(durations) == 1 else None

    def trial_sync(self, t):
        """A PyNN run callback: at the NEST time two steps before each trial's first update
        (inside the pause) copy the readout weights; returns the next such time (PyNN's t)."""
        trial = self._trial_steps()
        if not trial:
            return float("inf")
        now = float(_nest().biological_time)
        lead = 2.0 - HIDDEN_FIRST_STEP   # stop two steps before a trial's first update (k trial + HIDDEN_FIRST_STEP)
        at_boundary = abs((now + lead) / trial - round((now + lead) / trial)) * trial < 1e-9 and now > 0
        if at_boundary and self.built and self.sync_feedback:
            self.copy_readout_weights()
        if at_boundary and self.built and round((now + lead) / trial) % CATCH_UP_EVERY == 0:
            catch_up_synapses(_nest())
        following = (np.floor((now + lead) / trial + 1e-9) + 1.0) * trial - lead
        # before the first run pyNN.nest simulates one min_delay further than asked
        extra = 0.0 if simulator.state.running else simulator.state.min_delay
        return t + (following - now) - extra


def record_synapses(projection, variables=("weight", "eligibility_vector", "eligibility_trace")):
    """Record per-connection variables of a learning projection at every step, as on pyNN.brian2:
    ``weight``, ``eligibility_vector`` (with ALIF targets also ``eligibility_vector_a``) and
    ``eligibility_trace`` (``e = q . eps``). Call before the first run; the simulation then runs
    step by step under :func:`run` (one status read of the projection per step: for small
    networks). Rows follow pyNN.brian2's (:mod:`pyNN_ostl.nest_recording`): equal inside trials;
    in each trial's pause NEST's neurons rest; steps whose learning signal has not arrived at the
    end of a run are NaN until the next run. Read them with :func:`get_synapse_data`."""
    variables = synapse_variables(variables)
    controller = _controller()
    if controller.built:
        raise ParameterError("record_synapses must be called before the first run")
    controller.synapse_requests.append((projection, set(variables)))


def get_synapse_data(projection):
    """A :class:`neo.Segment` with one AnalogSignal per recorded variable, one channel per
    connection (annotated with ``source_index`` and ``target_index``; see :func:`record_synapses`)."""
    controller = _controller()
    for record, recording in controller.synapse_recordings:
        if record.matches(projection):
            return synapse_segment(projection, recording.records(int(round(simulator.state.t))))
    raise ParameterError(f"nothing recorded for projection {projection.label!r}: call record_synapses before "
                         "running")


def get_data(population, variables="all", gather=True, clear=False, locations=None):
    """``population.get_data(...)`` with a learning hidden population's signals on pyNN.brian2's
    grid (sample k: the end of step k - 1), so that a script reads the same Neo block on both
    simulators: NEST records a hidden step one sample earlier and its ``learning_signal`` when it
    arrives (:func:`pyNN_ostl.nest_recording.aligned_hidden_signal`); a softmax readout's ``output``
    as probabilities (:func:`pyNN_ostl.nest_recording.softmax_outputs`)."""
    block = population.get_data(variables, gather=gather, clear=clear, locations=locations)
    controller = _controller()
    if not controller.built:
        return block
    if population is controller.readout:
        depth = len(controller.hidden)
        for segment in block.segments:
            _replace_signals(segment, lambda signal: aligned_readout_signal(
                softmax_outputs(signal) if controller.softmax and signal.name == "output" else signal, depth))
        return block
    layer = controller.layer_of(population)
    if layer is None:
        return block
    factors = [v for v in population.celltype.factor_variables if v != "learning_signal"]
    for segment in block.segments:
        _replace_signals(segment, lambda signal: aligned_hidden_signal(
            signal, layer, controller.layer_lags[layer], controller.trial_steps, controller.pause, factors))
    return block


def _replace_signals(segment, convert):
    """Put ``convert(signal)`` in place of every analog signal of a Neo ``segment``."""
    signals = list(segment.analogsignals)
    segment.analogsignals.clear()
    for signal in signals:
        converted = convert(signal)
        converted.segment = segment
        segment.analogsignals.append(converted)
