"""``pyNN.brian2`` translation of the :mod:`pyNN_ostl` types, built on :mod:`brian2_ostl`.

    import pyNN.brian2 as sim
    import pyNN_ostl
    ostl = pyNN_ostl.for_simulator(sim)      # this module
    sim.setup(timestep=1.0)
    hidden = sim.Population(32, ostl.SNU(decay=0.9))

The types here subclass the declarations of :mod:`pyNN_ostl.standardmodels` with what
pyNN.brian2 reads of a type, as ``pyNN/brian2/standardmodels`` does: ``brian2_model``
(the group factory PyNN calls), ``post_synaptic_variables``, ``state_variable_translations``,
and for synapses ``eqs``/``pre``/``post``.

A learning projection's Synapses, as pyNN.brian2 creates them, hold the connections and
the weights that ``Projection.get/set`` read and write. The learning machinery depends on
the whole network (layer order, rule, feedback kind), so it is assembled when the
simulation starts, by a :class:`Controller` that PyNN calls before every run (the hook of
:mod:`pyNN_ostl.hooks`). At the first run it

1. finds the network: the populations (through their recorders) and the learning
   projections' Synapses (their equations carry a key naming their synapse type), and
   checks it with the code shared by every backend (:mod:`pyNN_ostl.structure`) -- one
   readout population, a feed-forward chain of layers, one rule, consistent options,
   ``timestep = 1 ms`` -- raising a clear error before anything is simulated;
2. builds the circuit of :func:`brian2_ostl.circuit.build_circuit` on the existing groups,
   with the projections' connections and weights; PyNN's Synapses stay as they are
   (inactive: the circuit's synapses do their work) and are kept in step with the circuit's
   weights before and after every run;
3. creates the synapse recorders asked for with :func:`record_synapses`.

Inputs are standard PyNN spike sources (``SpikeSourceArray``): a spike at time ``t``
reaches the first layer at step ``t + 1 ms`` (the minimum delay). Between layers,
outputs propagate within the step (OSTL's ``y_{l-1}^t -> s_l^t``).
"""

from __future__ import annotations

import itertools
import weakref
from copy import deepcopy

import brian2 as b2
import numpy as np
from pyNN.brian2 import simulator
from pyNN.standardmodels import build_translations

from brian2_ostl.cells import translate_cell
from brian2_ostl.circuit import LayerSpec, build_circuit, exact_ieee_compilation, layer_model, readout_model
from brian2_ostl.network import check_supported
from ostl.errors import ParameterError
from ostl.network import Layer, Network
from ostl.network import Readout as OstlReadout

from . import standardmodels as sm
from .hooks import require_pynn
from .structure import (
    TRANSLATION_API,
    ProjectionRecord,
    describe,
    feedback_matrices,
    network_optimizer,
    readout_sequences,
    synapse_variables,
    trainable_parameters,
)
from .structure import spike_times as spike_times  # noqa: E402  (part of the interface, re-exported)

__all__ = list(TRANSLATION_API)

#: a threshold that never fires: pyNN's Synapses need a spike pathway on every source
#: group; non-spiking groups (readout, sigmoid SNUs) get this one
NO_EVENTS = "0 > 1"


def setup(timestep=1.0, **kwargs):
    """``pyNN.brian2.setup`` (the same call on every simulator: ``ostl.setup(...)``)."""
    import pyNN.brian2

    return pyNN.brian2.setup(timestep=timestep, **kwargs)


def run(simtime, callbacks=None):
    """``pyNN.brian2.run`` (the same call on every simulator: ``ostl.run(...)``)."""
    import pyNN.brian2

    return pyNN.brian2.run(simtime, callbacks=callbacks)


# -- groups ------------------------------------------------------------------------------------
def _scalar(name, values):
    arr = np.asarray(values)
    if arr.dtype == object:
        return arr
    flat = np.ravel(arr).astype(float)
    if flat.size and not np.all(flat == flat[0]):
        raise ParameterError(f"{name} must be the same for all neurons of a population")
    return float(flat[0]) if flat.size else float(arr)


class _PyNNGroupMixin:
    """What pyNN.brian2's Population expects of a group (initial values)."""

    def _init_pynn(self):
        self.add_attribute("initial_values")
        self.initial_values = {}

    def initialize(self):
        for variable, values in self.initial_values.items():
            setattr(self, variable, values)


class LayerGroup(b2.NeuronGroup, _PyNNGroupMixin):
    """A population of an ostl cell type: the cell's generated Brian2 model, plus the PyNN
    parameters as shared constants (so that ``Population.get`` reads them)."""

    def __init__(self, celltype, n, parameters):
        ps = {name: parameters[name] for name in celltype.default_parameters}
        self.ostl_cell = celltype.ostl_class(**{k: _scalar(k, ps[k]) for k in celltype.cell_parameters},
                                             **celltype.options)
        self.celltype = celltype
        self.namespace_dict = {}
        # with the firing-rate regulariser's sums (the synapse type decides whether they are used)
        model = layer_model(translate_cell(self.ostl_cell, "exact"), regularised=True)
        declared = {line.split(":")[0].strip() for line in model.splitlines() if ":" in line}
        model += "".join(f"{name} : 1 (constant, shared)\n" for name in celltype.cell_parameters
                         if name not in declared)
        spiking = getattr(self.ostl_cell, "output", "step") == "step"
        super().__init__(n, model, threshold="y > 0.5" if spiking else NO_EVENTS, reset="",
                         clock=simulator.state.network.clock, namespace=self.namespace_dict)
        self._init_pynn()
        for name in celltype.cell_parameters:
            setattr(self, name, _scalar(name, ps[name]))
        if celltype.neuron_parameter:
            setattr(self, celltype.neuron_parameter, np.asarray(ps[celltype.neuron_parameter], dtype=float))


class ReadoutGroup(b2.NeuronGroup, _PyNNGroupMixin):
    """The readout/error population; holds the target and loss mask as TimedArrays."""

    def __init__(self, celltype, n, parameters):
        self.celltype = celltype
        self.leak = _scalar("leak", parameters["leak"])
        target, mask = readout_sequences(parameters, n)
        self.steps = target.shape[0]
        self.namespace_dict = {
            "target_values": b2.TimedArray(target, dt=1 * b2.ms),
            "mask_values": b2.TimedArray(mask, dt=1 * b2.ms)}
        super().__init__(n, readout_model(), threshold=NO_EVENTS, reset="", clock=simulator.state.network.clock,
                         namespace=self.namespace_dict)
        self._init_pynn()
        self.bias = np.asarray(parameters["bias"], dtype=float)


# -- cell types: the declarations with pyNN.brian2's translation ----------------------------------
def _state_translations(names):
    """Recordable variables (dimensionless; pyNN.brian2 applies the transforms as functions)."""
    return build_translations(*[(name, name, (lambda n: lambda **p: p[n])(name), (lambda n: lambda **p: p[n])(name))
                                for name in names])


class _Brian2CellType:
    eqs = None   # pyNN.brian2 passes it to brian2_model, which builds the model itself

    @property
    def state_variable_translations(self):
        return _state_translations([name for name in self.recordable if name != "spikes"])

    post_synaptic_variables = {"excitatory": "input_current", "recurrent": "recurrent_current"}

    def brian2_model(self, n, equations=None, **parameters):
        _controller()
        return LayerGroup(self, n, parameters)


SNU, SoftResetSNU, LIF, ALIF = (sm.translated(declaration, _Brian2CellType, __name__)
                                for declaration in (sm.SNU, sm.SoftResetSNU, sm.LIF, sm.ALIF))


class _Brian2Readout:
    eqs = None
    post_synaptic_variables = {"excitatory": "readout_input"}

    @property
    def state_variable_translations(self):
        return _state_translations(self.recordable)

    def brian2_model(self, n, equations=None, **parameters):
        _controller()
        return ReadoutGroup(self, n, parameters)


Readout = sm.translated(sm.Readout, _Brian2Readout, __name__)


# -- synapse types ------------------------------------------------------------------------------
_KEYS = itertools.count(1)
KEY_VARIABLE = "ostl_synapse_type_key"
RECEPTOR_PREFIX = "ostl_receptor_"


class _Brian2SynapseType:
    """pyNN.brian2 builds a projection's Synapses from ``eqs``, ``pre`` and ``post``. Ours
    hold the weights (what ``Projection.get/set`` use) and name, in their equations, their
    synapse type and receptor, so that the controller finds them."""

    pre = "weight = weight"
    post = None
    initial_conditions = {}

    @property
    def eqs(self):
        key = getattr(self, "_ostl_key", None)
        if key is None:
            key = self._ostl_key = next(_KEYS)
        # the controller keeps the type (a script need not keep its projections)
        _controller().synapse_types[key] = self
        return (f"weight : 1\n{KEY_VARIABLE} = {key} : integer\n"
                f"{RECEPTOR_PREFIX}%(syn_var)s = 1 : integer\n")

    def _set_target_type(self, weight_units):
        """Called by pyNN.brian2: Brian2 takes delays as time quantities."""
        self.translations = deepcopy(type(self).translations)
        self.translations["delay"] = build_translations(("delay", "delay", b2.ms))["delay"]


OSTLSynapse, EPropSynapse, ReadoutSynapse, LearningSignalConnection = (
    sm.translated(declaration, _Brian2SynapseType, __name__)
    for declaration in (sm.OSTLSynapse, sm.EPropSynapse, sm.ReadoutSynapse, sm.LearningSignalConnection))


# -- the controller ------------------------------------------------------------------------------
_CONTROLLERS = weakref.WeakKeyDictionary()


def _controller():
    """The controller of the current pyNN.brian2 network (registered with PyNN's recorders,
    the pre-run hook; a new setup gets a new one)."""
    network = simulator.state.network
    ctrl = _CONTROLLERS.get(network)
    if ctrl is None:
        require_pynn(simulator.state, "_finalize")
        ctrl = _CONTROLLERS[network] = Controller()
        simulator.state.recorders.add(ctrl)
    return ctrl


def _store_weights(store):
    """A projection's weights as a (pre, post) array (NaN: no connection)."""
    W = np.full((len(store.source), len(store.target)), np.nan)
    W[store.i[:], store.j[:]] = store.weight[:]
    return W


class Controller:
    """Checks and assembles the learning circuit of one pyNN.brian2 network before its
    first step, and keeps PyNN's view of the weights in step with the circuit."""

    def __init__(self):
        self.built = False
        self.synapse_types = {}       # key in the projections' equations -> synapse type
        self.records = []
        self.synapse_requests = []    # (projection, variables) from record_synapses
        self.synapse_monitors = []    # (record, monitor)
        self.links = []               # (store, circuit synapses, store -> circuit order)

    # what PyNN calls on its recorders
    def store_to_cache(self, annotations=None):
        pass

    def _finalize(self):
        """Before every run: build at the first, then take the weights PyNN may have set."""
        if not self.built:
            self.records = self._find_projections()
            if not self.records:
                return
            self.build()
            self.built = True
        else:
            self.push_weights()

    # ------------------------------------------------------------------------------------
    def _find_projections(self):
        populations = {id(r.population.brian2_group): r.population for r in simulator.state.recorders
                       if getattr(r, "population", None) is not None}
        records = []
        for obj in simulator.state.network.objects:
            if not isinstance(obj, b2.Synapses) or KEY_VARIABLE not in obj.equations.names:
                continue
            synapse_type = self.synapse_types.get(int(str(obj.equations[KEY_VARIABLE].expr)))
            pre, post = populations.get(id(obj.source)), populations.get(id(obj.target))
            if synapse_type is None or pre is None or post is None:
                continue
            variable = next(name[len(RECEPTOR_PREFIX):] for name in obj.equations.names
                            if name.startswith(RECEPTOR_PREFIX))
            receptor = next((r for r, v in post.celltype.post_synaptic_variables.items() if v == variable), variable)
            record = ProjectionRecord(pre, post, synapse_type, receptor, weights=lambda s=obj: _store_weights(s))
            record.store = obj
            records.append(record)
        return records

    def build(self):
        readout, layers, ff, rec, ro, feedback, syn_type = describe(self.records, simulator.state.dt)
        if any(getattr(r.synapse_type, "pcm_config", None) is not None for r in self.records):
            raise ParameterError("PCM synapses (synapses={...}) map to NEST's ostl_pcm_synapse: run the script with "
                                 "pyNN.nest, or train on Brian2 with ostl.training.Trainer(..., backend='brian2', "
                                 "synapses={...})")
        rule = syn_type.rule
        optimizer = network_optimizer(syn_type, ro)
        exact_ieee_compilation(b2)
        # pyNN.brian2 creates spike sources on Brian2's defaultclock: step them with the network
        b2.defaultclock.dt = simulator.state.network.clock.dt
        specs, net_layers = [], []
        for index, pop in enumerate(layers):
            group = pop.brian2_group
            autapses = True
            if id(pop) in rec:  # self-connections as the connector made them
                store = rec[id(pop)].store
                autapses = bool(np.any(store.i[:] == store.j[:]))
            layer = Layer(pop.size, group.ostl_cell, recurrent=id(pop) in rec, autapses=autapses)
            net_layers.append(layer)
            specs.append(LayerSpec(group, translate_cell(group.ostl_cell, rule.traces), f"layer{index}",
                                   group.ostl_cell.neuron_param, layer.recurrent, autapses))
        readout_group = readout.brian2_group
        readout_spec = OstlReadout(readout.size, readout.celltype.options["activation"], leak=readout_group.leak)
        self.ostl_network = Network(ff[id(layers[0])].pre.size, net_layers, readout_spec)
        check_supported(self.ostl_network, rule)
        matrices = feedback_matrices(rule, layers, readout, feedback)
        self.feedback = rule.check_feedback(self.ostl_network, matrices)
        # trainable: every weight and the neuron parameters declared learned (learn_bias, ...)
        trainable = trainable_parameters(self.ostl_network, layers, readout)
        trial_steps = None if syn_type.trial_duration is None else int(round(syn_type.trial_duration))
        namespace = {}
        circuit = build_circuit(b2, ff[id(layers[0])].pre.brian2_group, "events", specs, readout_group, readout_spec,
                                rule, trainable, self.feedback, syn_type.mode, optimizer, namespace,
                                trial_steps=trial_steps, verify_order=True,
                                store_traces=self._stored_traces(ff, rec, layers),
                                regularisation=syn_type.regularisation)
        for group in [*(s.group for s in specs), readout_group]:
            group.namespace_dict.update({k: v for k, v in namespace.items() if k not in group.namespace_dict})
        # the circuit's synapses take the projections' connections and weights; PyNN's
        # Synapses keep them for Projection.get/set and stop doing work of their own
        for index, pop in enumerate(layers):
            self._link(ff[id(pop)], circuit.synapses[f"layer{index}.W"], circuit.indices[f"layer{index}.W"])
            if id(pop) in rec:
                self._link(rec[id(pop)], circuit.synapses[f"layer{index}.H"], circuit.indices[f"layer{index}.H"])
        self._link(ro, circuit.synapses["readout.W"], circuit.indices["readout.W"])
        for record in feedback:
            record.store.active = False   # the circuit's feedback pathway carries the signal
        net = simulator.state.network
        for obj in circuit.objects:
            if obj not in net.objects:
                net.add(obj)
        net.add(_WeightSync(self))
        self.circuit = circuit
        self.rule, self.optimizer, self.layers, self.readout = rule, optimizer, layers, readout
        self._make_synapse_monitors(net)

    def _stored_traces(self, ff, rec, layers):
        """Parameters whose eligibility trace is recorded (kept as a synaptic variable)."""
        names = set()
        for index, pop in enumerate(layers):
            for kind, table in (("W", ff), ("H", rec)):
                record = table.get(id(pop))
                if record is not None and "eligibility_trace" in self._requested(record):
                    names.add(f"layer{index}.{kind}")
        return names

    def _requested(self, record):
        return set().union(*[set(v) for p, v in self.synapse_requests if record.matches(p)])

    def _link(self, record, syn, indices):
        """The circuit's ``syn`` learns the connections of ``record`` (all-to-all)."""
        store = record.store
        W = _store_weights(store)
        i, j = indices
        values = W[i, j]
        if np.any(np.isnan(values)):
            raise ParameterError(f"projection {record.label!r} must connect all-to-all "
                                 "(AllToAllConnector; allow_self_connections for recurrent layers)")
        syn.weight = values
        position = np.full((len(store.source), len(store.target)), -1)
        position[i, j] = np.arange(len(i))
        store.active = False
        record.circuit_synapses = syn
        self.links.append((store, syn, position[store.i[:], store.j[:]], (i, j)))

    def push_weights(self):
        """PyNN's weights (``Projection.set`` between runs) into the circuit."""
        for store, syn, _, (i, j) in self.links:
            syn.weight = _store_weights(store)[i, j]

    def pull_weights(self):
        """The circuit's weights into PyNN's Synapses (``Projection.get``)."""
        for store, syn, order, _ in self.links:
            store.weight[:] = np.asarray(syn.weight[:])[order]

    def _make_synapse_monitors(self, net):
        for record in self.records:
            variables = self._requested(record)
            if not variables:
                continue
            syn = getattr(record, "circuit_synapses", None)
            if syn is None:
                raise ParameterError(f"record_synapses: projection {record.label!r} has no learning synapses")
            native = []
            for v in sorted(variables):
                names = {"weight": ["weight"], "eligibility_trace": ["eligibility_trace"],
                         "eligibility_vector": ["eligibility_vector", "eligibility_vector_a"]}[v]
                native += [n for n in names if n in syn.variables]
            if native:
                mon = b2.StateMonitor(syn, native, record=np.arange(len(syn)), when="end",
                                      clock=simulator.state.network.clock)
                net.add(mon)
                self.synapse_monitors.append((record, mon))


class _WeightSync(b2.BrianObject):
    """Copies the learned weights into PyNN's Synapses after every run (Brian2 calls
    ``after_run`` on every object of the network)."""

    add_to_magic_network = False

    def __init__(self, controller):
        super().__init__(name="ostl_weight_sync*")
        self.controller = weakref.ref(controller)

    def after_run(self):
        controller = self.controller()
        if controller is not None:
            controller.pull_weights()


def record_synapses(projection, variables=("weight", "eligibility_vector", "eligibility_trace")):
    """Record per-connection variables of a learning projection at every step:
    ``weight``, ``eligibility_vector`` (``eps``; with ALIF also its adaptation component)
    and ``eligibility_trace`` (``e``). Call before the first ``run``; read them with
    :func:`get_synapse_data`."""
    variables = synapse_variables(variables)
    ctrl = _controller()
    if ctrl.built:
        raise ParameterError("record_synapses must be called before the first run")
    ctrl.synapse_requests.append((projection, set(variables)))


def synapse_records(projection):
    """``{variable: (values (T, n_connections), source indices, target indices)}``."""
    ctrl = _controller()
    for record, mon in ctrl.synapse_monitors:
        if record.matches(projection):
            syn = record.circuit_synapses
            return {v: (np.asarray(getattr(mon, v)).T.copy(), np.asarray(syn.i[:]), np.asarray(syn.j[:]))
                    for v in mon.record_variables}
    raise ParameterError(f"nothing recorded for projection {projection.label!r}: call record_synapses before "
                         "running")


def get_synapse_data(projection):
    """A :class:`neo.Segment` with one AnalogSignal per recorded variable (see
    :func:`pyNN_ostl.get_synapse_data`)."""
    from .structure import synapse_segment

    return synapse_segment(projection, synapse_records(projection))


def get_data(population, variables="all", gather=True, clear=False, locations=None):
    """``population.get_data(...)``: on pyNN.brian2 the recordings are on every simulator's grid
    already (:func:`pyNN_ostl.nest.get_data` moves NEST's there)."""
    return population.get_data(variables, gather=gather, clear=clear, locations=locations)
