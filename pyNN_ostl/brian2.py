"""``pyNN.brian2`` translation of the :mod:`pyNN_ostl` types, built on :mod:`brian2_ostl`.

Populations of the ostl cell types are Brian2 groups with the cell's equations from the
start. The learning machinery depends on the whole network (layer order, rule, feedback
kind), so it is assembled when the simulation starts: pyNN.brian2 finalises its
recorders right before the first ``run``, and this module registers a controller among
them that

1. checks the network (one readout population, a feed-forward chain of layers, one rule,
   consistent options, ``timestep = 1 ms``) and raises a clear error otherwise, before
   anything is simulated;
2. builds the circuit of :func:`brian2_ostl.circuit.build_circuit` on the existing groups,
   replacing the placeholder ``Synapses`` that pyNN created for each learning projection
   (connectivity and weights are copied; ``Projection.get/set`` then act on the real
   synapses);
3. creates the synapse recorders asked for with :func:`pyNN_ostl.record_synapses`.

Inputs are standard PyNN spike sources (``SpikeSourceArray``): a spike at time ``t``
reaches the first layer at step ``t + 1 ms`` (the minimum delay). Between layers,
outputs propagate within the step (OSTL's ``y_{l-1}^t -> s_l^t``).
"""

from __future__ import annotations

import weakref

import brian2 as b2
import numpy as np
import pyNN.brian2 as _pynn_brian2  # (may run while pyNN.brian2 finishes importing)
from pyNN.brian2 import simulator
from pyNN.brian2.projections import Projection as _Brian2Projection

from brian2_ostl.cells import translate_cell
from brian2_ostl.circuit import LayerSpec, build_circuit, exact_ieee_compilation, layer_model, readout_model
from ostl.errors import ParameterError
from ostl.network import Layer, Network
from ostl.network import Readout as OstlReadout

from . import standardmodels as sm
from .structure import describe, feedback_matrices, readout_sequences, trainable_parameters

#: a threshold that never fires: pyNN's placeholder synapses need a spike pathway on
#: every source group; non-spiking groups (readout, sigmoid SNUs) get this one
NO_EVENTS = "0 > 1"


# -- groups --------------------------------------------------------------------------------
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
    """A population of an ostl cell type."""

    def __init__(self, celltype, n, parameters):
        ps = {name: parameters[name] for name in celltype.default_parameters}
        self.ostl_cell = celltype.ostl_class(**{k: _scalar(k, ps[k]) for k in celltype.cell_parameters},
                                             **celltype.options)
        self.celltype = celltype
        self.namespace_dict = {}
        spiking = getattr(self.ostl_cell, "output", "step") == "step"
        super().__init__(n, layer_model(translate_cell(self.ostl_cell, "exact")),
                         threshold="y > 0.5" if spiking else NO_EVENTS, reset="", clock=simulator.state.network.clock,
                         namespace=self.namespace_dict)
        self._init_pynn()
        if celltype.neuron_parameter:
            setattr(self, celltype.neuron_parameter, np.asarray(ps[celltype.neuron_parameter], dtype=float))
        _controller().register_group(self)


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
        _controller().register_group(self)


class Projection(_Brian2Projection):
    """pyNN.brian2's Projection, remembering the projections of ostl synapse types so
    that the controller can assemble the learning circuit."""

    __doc__ = _Brian2Projection.__doc__

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None, source=None,
                 receptor_type=None, space=None, label=None):
        kwargs = {} if space is None else {"space": space}
        super().__init__(presynaptic_population, postsynaptic_population, connector, synapse_type, source,
                         receptor_type, label=label, **kwargs)
        if isinstance(synapse_type, sm._LearningSynapseType):
            _controller().register_projection(self)


_pynn_brian2.Projection = Projection  # sim.Projection(...) now tracks learning projections


# -- the controller --------------------------------------------------------------------------
_CONTROLLERS = weakref.WeakKeyDictionary()


def _controller():
    network = simulator.state.network
    ctrl = _CONTROLLERS.get(network)
    if ctrl is None:
        ctrl = _CONTROLLERS[network] = Controller(network)
        simulator.state.recorders.add(ctrl)
    return ctrl


class Controller:
    """Assembles and checks the learning circuit of one pyNN.brian2 network."""

    def __init__(self, network):
        self.network = weakref.ref(network)
        self.groups = []
        self.projections = []
        self.synapse_records = {}  # projection -> variables
        self.built = False
        self.synapse_monitors = {}

    # recorder interface used by pyNN
    def store_to_cache(self, annotations=None):
        pass

    def register_group(self, group):
        self.groups.append(group)

    def register_projection(self, projection):
        if self.built:
            raise ParameterError("learning projections must be created before the first run")
        self.projections.append(projection)

    def record_synapses(self, projection, variables):
        if self.built:
            raise ParameterError("record_synapses must be called before the first run")
        self.synapse_records.setdefault(projection, set()).update(variables)

    def _finalize(self):
        if not self.built and (self.projections or self.groups):
            self.build()
            self.built = True

    # ------------------------------------------------------------------------------------
    def build(self):
        readout, layers, ff, rec, ro, feedback, syn_type, learning_rate = describe(self.projections, simulator.state.dt)
        rule = syn_type.rule
        optimizer = syn_type.optimizer(learning_rate)
        exact_ieee_compilation(b2)
        # pyNN.brian2 creates spike sources on Brian2's defaultclock: step them with the network
        b2.defaultclock.dt = simulator.state.network.clock.dt
        from brian2_ostl.network import check_supported

        specs, net_layers = [], []
        for index, pop in enumerate(layers):
            group = pop.brian2_group
            autapses = True
            if id(pop) in rec:  # self-connections as the connector made them
                placeholder = rec[id(pop)]._brian2_synapses[0][0]
                autapses = bool(np.any(placeholder.i[:] == placeholder.j[:]))
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
        # one namespace for the circuit; the groups' own namespaces receive its constants
        namespace = {}
        input_pop = ff[id(layers[0])].pre
        circuit = build_circuit(b2, input_pop.brian2_group, "events", specs, readout_group, readout_spec, rule,
                                trainable, self.feedback, syn_type.mode, optimizer, namespace,
                                trial_steps=trial_steps, verify_order=True,
                                store_traces=self._stored_traces(ff, rec, layers))
        for group in [*(s.group for s in specs), readout_group]:
            group.namespace_dict.update({k: v for k, v in namespace.items() if k not in group.namespace_dict})
        net = simulator.state.network
        # the real synapses replace pyNN's placeholders, keeping connectivity and weights
        self.projection_of = {}
        for index, pop in enumerate(layers):
            self._adopt(net, ff[id(pop)], circuit.synapses[f"layer{index}.W"], circuit.indices[f"layer{index}.W"])
            self.projection_of[f"layer{index}.W"] = ff[id(pop)]
            if id(pop) in rec:
                self._adopt(net, rec[id(pop)], circuit.synapses[f"layer{index}.H"],
                            circuit.indices[f"layer{index}.H"])
                self.projection_of[f"layer{index}.H"] = rec[id(pop)]
        self._adopt(net, ro, circuit.synapses["readout.W"], circuit.indices["readout.W"])
        self.projection_of["readout.W"] = ro
        fb_names = self._feedback_synapse_names(rule, layers, readout, feedback)
        for p in feedback:
            name = fb_names.get(id(p))
            if name is None:  # symmetric: the readout synapses carry the signal
                for syn in p._brian2_synapses[0].values():
                    if syn in net.objects:
                        net.remove(syn)
                    syn._network = "replaced by the ostl circuit"
            else:
                self._adopt(net, p, circuit.feedback_synapses[name], None)
        for syn in circuit.objects:
            if syn not in net.objects:
                net.add(syn)
        self.circuit = circuit
        self.rule, self.optimizer, self.layers, self.readout = rule, optimizer, layers, readout
        self._make_synapse_monitors(net)

    def _stored_traces(self, ff, rec, layers):
        """Parameters whose eligibility trace is recorded (kept as a synaptic variable)."""
        names = set()
        for index, pop in enumerate(layers):
            for kind, table in (("W", ff), ("H", rec)):
                p = table.get(id(pop))
                if p is not None and "eligibility_trace" in self.synapse_records.get(p, ()):
                    names.add(f"layer{index}.{kind}")
        return names

    @staticmethod
    def _feedback_synapse_names(rule, layers, readout, feedback):
        """The circuit's name of the Synapses that carries each feedback projection."""
        index = {id(pop): i for i, pop in enumerate(layers)}
        names = {}
        for p in feedback:
            if rule.feedback == "symmetric":
                continue
            if p.pre is readout:
                top = index[id(p.post)] == len(layers) - 1
                names[id(p)] = "feedback_readout" if (rule.feedback == "random" and top) else \
                    f"feedback_layer{index[id(p.post)]}"
            else:
                names[id(p)] = f"feedback_layer{index[id(p.pre)]}"
        return names

    @staticmethod
    def _adopt(net, projection, syn, indices):
        """Give ``projection`` the circuit's ``syn`` in place of its placeholder; with
        ``indices``, the placeholder's weights are copied (feedback synapses already
        hold theirs)."""
        placeholder = projection._brian2_synapses[0][0]
        if indices is not None:
            W = np.full((len(placeholder.source), len(placeholder.target)), np.nan)
            W[placeholder.i[:], placeholder.j[:]] = placeholder.weight[:]
            i, j = indices
            values = W[i, j]
            if np.any(np.isnan(values)):
                raise ParameterError(f"projection {projection.label!r} must connect all-to-all "
                                     "(AllToAllConnector; allow_self_connections for recurrent layers)")
            syn.weight = values
        if placeholder in net.objects:
            net.remove(placeholder)
        placeholder._network = "replaced by the ostl circuit"  # not an unused object: no warning
        projection._brian2_synapses[0][0] = syn
        projection._n_connections = len(syn)

    def _make_synapse_monitors(self, net):
        for projection, variables in self.synapse_records.items():
            syn = projection._brian2_synapses[0][0]
            native = []
            for v in sorted(variables):
                names = {"weight": ["weight"], "eligibility_trace": ["eligibility_trace"],
                         "eligibility_vector": [n for n in ("eligibility_vector", "eligibility_vector_a")
                                                if n in syn.variables]}[v]
                native += [n for n in names if n in syn.variables]
            if native:
                mon = b2.StateMonitor(syn, native, record=np.arange(len(syn)), when="end",
                                      clock=simulator.state.network.clock)
                net.add(mon)
                self.synapse_monitors[projection] = mon


def record_synapses(projection, variables):
    _controller().record_synapses(projection, variables)


def synapse_records(projection):
    """``{variable: (values (T, n_connections), source indices, target indices)}``."""
    ctrl = _controller()
    mon = ctrl.synapse_monitors.get(projection)
    if mon is None:
        raise ParameterError(f"nothing recorded for projection {projection.label!r}: call record_synapses "
                             "before running")
    syn = projection._brian2_synapses[0][0]
    names = {"weight": "weight", "eligibility_trace": "eligibility_trace", "eligibility_vector": "eligibility_vector",
             "eligibility_vector_a": "eligibility_vector_a"}
    return {names[v]: (np.asarray(getattr(mon, v)).T.copy(), np.asarray(syn.i[:]), np.asarray(syn.j[:]))
            for v in mon.record_variables}
