"""What every backend's PyNN translation checks and reads the same way: the structure of
a learning network (readout, chain of hidden layers, plastic, readout and learning-signal
projections) and its feedback matrices. Written once here; :mod:`pyNN_ostl.brian2` and
:mod:`pyNN_ostl.nest` only find the projections in their simulator (as
:class:`ProjectionRecord`) and translate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ostl.errors import ParameterError
from ostl.optim import make_optimizer

from . import standardmodels as sm

#: what every backend translation module offers (``pyNN_ostl.for_simulator(sim)``)
TRANSLATION_API = ("SNU", "SoftResetSNU", "LIF", "ALIF", "Readout", "OSTLSynapse", "EPropSynapse", "ReadoutSynapse",
                   "LearningSignalConnection", "setup", "run", "record_synapses", "get_synapse_data", "get_data",
                   "spike_times")

#: what record_synapses records of a learning projection, per connection and step
SYNAPSE_VARIABLES = ("weight", "eligibility_vector", "eligibility_trace")


def synapse_variables(variables):
    """The list of ``variables`` asked of record_synapses, checked against :data:`SYNAPSE_VARIABLES`."""
    variables = [variables] if isinstance(variables, str) else list(variables)
    bad = sorted(set(variables) - set(SYNAPSE_VARIABLES))
    if bad:
        raise ParameterError(f"record_synapses variables must be a subset of {sorted(SYNAPSE_VARIABLES)}, got {bad}")
    return variables


@dataclass
class ProjectionRecord:
    """A learning projection as a backend found it: its PyNN populations, synapse type and
    receptor, and a function returning its weights as a ``(pre, post)`` array (NaN where
    there is no connection)."""

    pre: object
    post: object
    synapse_type: object
    receptor_type: str
    weights: Callable

    @property
    def label(self):
        """``pre -> post``."""
        return f"{self.pre.label} -> {self.post.label}"

    def matches(self, projection):
        """Whether this record is the PyNN ``projection``."""
        return (projection.synapse_type is self.synapse_type and projection.pre is self.pre
                and projection.post is self.post)


def describe(projections, timestep):
    """Check the learning network made of ``projections`` (:class:`ProjectionRecord` of the
    ostl synapse types) and return its structure in depth order: ``(readout, layers,
    feedforward, recurrent, readout_projection, feedback_projections, synapse_type)``."""
    if abs(timestep - 1.0) > 1e-12:
        raise ParameterError(f"the ostl models run in steps of 1 ms: call sim.setup(timestep=1.0), "
                             f"got timestep={timestep}")
    readouts = [p for p in projections if isinstance(p.post.celltype, sm.Readout)]
    readout_pops = {id(p.post): p.post for p in readouts}
    if len(readout_pops) != 1:
        raise ParameterError("a learning network needs exactly one Readout population reached by a "
                             f"ReadoutSynapse projection, found {len(readout_pops)}")
    readout = next(iter(readout_pops.values()))
    plastic = [p for p in projections if isinstance(p.synapse_type, sm._PlasticSynapse)]
    feedback = [p for p in projections if isinstance(p.synapse_type, sm.LearningSignalConnection)]
    if not plastic:
        raise ParameterError("no OSTLSynapse/EPropSynapse projection onto a hidden population")
    for p in plastic:
        if not isinstance(p.post.celltype, sm._OSTLCellType):
            raise ParameterError(f"plastic projection {p.label!r} must target a population of an ostl cell type")
        if p.pre is p.post and p.receptor_type != "recurrent":
            raise ParameterError(f"the recurrent projection {p.label!r} needs receptor_type='recurrent'")
    types = {repr(p.synapse_type.learning_settings()) for p in plastic}
    if len(types) != 1:
        raise ParameterError("all plastic projections must use the same synapse type, rule, mode, optimizer, "
                             f"learning_rate and trial_duration; found {sorted(types)}")
    syn_type = plastic[0].synapse_type
    # the feed-forward chain: input -> layer 0 -> ... -> layer k-1 -> readout
    ff = {id(p.post): p for p in plastic if p.pre is not p.post}
    rec = {id(p.post): p for p in plastic if p.pre is p.post}
    sources = [p for p in plastic if p.pre is not p.post and not isinstance(p.pre.celltype, sm._OSTLCellType)]
    if len(sources) != 1:
        raise ParameterError("exactly one plastic projection must come from a spike source population "
                             f"(the input), found {len(sources)}")
    layers = [sources[0].post]
    while True:
        nxt = [p.post for p in plastic if p.pre is layers[-1] and p.pre is not p.post]
        if not nxt:
            break
        if len(nxt) > 1:
            raise ParameterError("the hidden layers must form a chain (one feed-forward projection per layer)")
        layers.append(nxt[0])
    if len(ff) != len(layers):
        raise ParameterError("every hidden population needs exactly one feed-forward plastic projection, "
                             "from the input or the layer below")
    ro = [p for p in readouts if p.pre is layers[-1]]
    if len(ro) != 1:
        raise ParameterError("the ReadoutSynapse projection must come from the last hidden layer")
    return readout, layers, ff, rec, ro[0], feedback, syn_type


def network_optimizer(syn_type, readout_projection):
    """The network's optimiser: the plastic types', with the ReadoutSynapse's ``learning_rate`` (if it
    gives one) as the readout's own rate (SGD's ``readout_lr``, :class:`ostl.optim.SGD`)."""
    rate = getattr(readout_projection.synapse_type, "learning_rate", None)
    if rate is None:
        return syn_type.optimizer()
    if syn_type.optimizer_name != "sgd":
        raise ParameterError("a ReadoutSynapse learning_rate of its own applies to optimizer 'sgd' (SGD's "
                             "readout_lr, as ostl train --readout-lr); the plastic types use "
                             f"{syn_type.optimizer_name!r}")
    return make_optimizer(dict(syn_type.optimizer_spec, readout_lr=rate))


def feedback_matrices(rule, layers, readout, feedback):
    """The fixed feedback matrices of the LearningSignalConnection projections, checked
    against the rule (symmetric feedback: none, the readout weights are used)."""
    kinds = {p.synapse_type.feedback for p in feedback}
    if rule.feedback not in kinds or len(kinds) != 1:
        raise ParameterError(f"rule {rule.name!r} needs LearningSignalConnection(feedback={rule.feedback!r}) "
                             f"projections, found {sorted(kinds) or 'none'}")
    index = {id(pop): i for i, pop in enumerate(layers)}
    matrices, by_target = {}, {}
    for p in feedback:
        if p.pre is readout and id(p.post) in index:
            by_target[("readout", index[id(p.post)])] = p
        elif id(p.pre) in index and id(p.post) in index and index[id(p.pre)] == index[id(p.post)] + 1:
            by_target[("layer", index[id(p.pre)])] = p
        else:
            raise ParameterError(f"LearningSignalConnection {p.label!r} must go from the readout to a hidden "
                                 "layer (or, for chained random feedback, from a layer to the one below)")
    k = len(layers)
    if rule.feedback == "symmetric":
        if ("readout", k - 1) not in by_target:
            raise ParameterError("symmetric feedback: declare LearningSignalConnection('symmetric') from the "
                                 "readout to the last hidden layer")
        return {}
    if rule.feedback == "random":
        need = [("readout", k - 1)] + [("layer", i) for i in range(1, k)]
    else:
        need = [("readout", i) for i in range(k)]
    missing = [n for n in need if n not in by_target]
    if missing:
        raise ParameterError(f"feedback {rule.feedback!r} needs LearningSignalConnection projections for "
                             f"{missing}")
    for key in need:
        B = np.nan_to_num(np.asarray(by_target[key].weights(), dtype=float)).T  # (target, source)
        if key == ("readout", k - 1) and rule.feedback == "random":
            matrices["feedback.readout"] = B
        elif key[0] == "readout":
            matrices[f"feedback.layer{key[1]}"] = B
        else:
            matrices[f"feedback.layer{key[1]}"] = B
    return matrices


def trainable_parameters(ostl_network, layers, readout):
    """Every weight of the network and the neuron parameters the cell types declare as
    learned (``learn_bias`` / ``learn_threshold``, ``Readout(learn_bias=...)``)."""
    names = set(ostl_network.param_shapes())
    for index, pop in enumerate(layers):
        parameter = pop.celltype.neuron_parameter
        if parameter and not pop.celltype.learned[parameter]:
            names.discard(f"layer{index}.{parameter}")
    if not readout.celltype.learned["bias"]:
        names.discard("readout.b")
    return names


def readout_sequences(ps, n):
    """The Readout's ``target`` (steps, n) and ``loss_mask`` (steps,) from its parameters, checked."""
    targets = [np.asarray(getattr(seq, "value", seq), dtype=float) for seq in np.ravel(ps["target"])]
    if len(targets) != n or any(t.size == 0 for t in targets):
        raise ParameterError("Readout target must give one non-empty Sequence per readout neuron")
    if len({t.size for t in targets}) != 1:
        raise ParameterError("Readout target sequences must all have the same length (one value per step)")
    mask_seq = np.ravel(ps["loss_mask"])[0]
    mask = np.asarray(getattr(mask_seq, "value", mask_seq), dtype=float)
    steps = targets[0].size
    if mask.size == 0:
        mask = np.ones(steps)
    if mask.size != steps or np.any(mask < 0):
        raise ParameterError(f"Readout loss_mask must have {steps} values >= 0 (one per step), got {mask.size}")
    return np.stack(targets, axis=1), mask


def spike_times(x, latency=1.0):
    """Spike times (ms) for a ``SpikeSourceArray`` that delivers the binary input
    ``x`` (T, n) to a layer step for step: a spike source's spike reaches the layer one
    step (``latency`` ms) later, so input step ``t`` is emitted at ``t - latency``.
    Input at step 0 cannot be delivered and must be zero."""
    from pyNN.parameters import Sequence

    x = np.asarray(x)
    if np.any(x[0] != 0):
        raise ParameterError("input at step 0 cannot be delivered by a spike source (zero it)")
    return [Sequence(np.nonzero(x[:, i])[0].astype(float) - latency) for i in range(x.shape[1])]


def synapse_segment(projection, records):
    """A :class:`neo.Segment` with one AnalogSignal per recorded synapse variable, one
    channel per connection (annotated with ``source_index`` and ``target_index``)."""
    import neo
    import quantities as pq

    segment = neo.Segment(name=f"synapses of {projection.label}")
    for name, (values, sources, targets) in records.items():
        signal = neo.AnalogSignal(values, units=pq.dimensionless, sampling_period=1.0 * pq.ms, name=name,
                                  t_start=1.0 * pq.ms)
        signal.array_annotate(source_index=np.asarray(sources), target_index=np.asarray(targets))
        segment.analogsignals.append(signal)
    return segment
