"""What pyNN.nest records of a learning network, on pyNN.brian2's time grid.

A NEST synapse of ours catches up at presynaptic spikes (the closed form of docs/equations.md
section 8): between them its state exists only as the target's history. Its status, read at any
time, is the state caught up to the target's *last complete step* -- the newest update less the
``readout_lag`` + 1 steps its learning signal needs (``ostl_synapse``'s user docs). A
:class:`SynapseRecording` reads that status once per step while ``pyNN_ostl.nest.run`` runs
(a PyNN run callback), files every value under the step it belongs to, and returns a
``(steps, connections)`` array per variable with rows on pyNN.brian2's grid: row ``s`` is the
state at the end of step ``s`` (hidden step ``s`` is NEST's update ``s - 1``, the readout's is
update ``s``). Two conventions make the rows equal to pyNN.brian2's inside trials:

* a trial's update is applied after its last learning step (NEST: as that step is integrated;
  Brian2: at the trial's last step, in the pause), so the weight of the last learning step is
  the weight before the update;
* steps whose learning signal has not arrived when the run ends are NaN (their state is not
  known yet; the next run fills them in).

In the pause at the end of every trial NEST's neurons rest, so there the rows differ from
Brian2's, whose neurons run on without input (as the recorded outputs and spikes do).

A softmax readout's ``output`` is NEST's potential (its neurons normalise a step later, when
every readout's potential has arrived): :func:`softmax_outputs` gives the probabilities. The
hidden neurons' ``learning_signal`` is recorded by NEST as it arrives (NEST's ``eprop_iaf``
does the same), ``readout_lag`` + 1 updates after its step; NEST records a hidden neuron's step
``s`` (update ``s - 1``) at ``s`` ms, pyNN.brian2 at ``s + 1`` ms. :func:`aligned_block` moves the
hidden populations' signals onto pyNN.brian2's grid.
"""

from __future__ import annotations

import numpy as np

from nestml_models import parallel

#: what record_synapses records, and the NEST status key that holds it
SYNAPSE_KEYS = {"weight": "ostl_weight", "eligibility_vector": "eligibility_vector",
                "eligibility_trace": "eligibility_trace"}


class SynapseRecording:
    """The per-step values of one learning projection's synapses (see the module docstring).

    ``connections``: a function returning the projection's NEST connections now (NEST sorts
    them when a simulation starts: they are looked up at every read); ``pre``/``post``: the
    populations; ``first_step``: the update of the target's step 0; ``trial``/``pause``: the
    trial geometry in steps; ``two_dimensional``: the target has a two-dimensional state (ALIF:
    its eligibility vector has an adaptation component, ``eligibility_vector_a``); ``eligibility``:
    whether the synapses have an eligibility vector of their own to record (not a readout's, whose
    Jacobian is 0: its eligibility vector is the step's input, as on pyNN.brian2, which keeps none)."""

    def __init__(self, connections, pre, post, variables, first_step, trial, pause, two_dimensional,
                 eligibility=True):
        self.connections, self.pre, self.post = connections, pre, post
        self.variables = [v for v in SYNAPSE_KEYS if v in set(variables) and (eligibility or v == "weight")]
        self.first_step, self.trial, self.pause = first_step, trial, pause
        self.two_dimensional = two_dimensional
        self.order = None     # (source index, target index) per column, in the order of the first read
        self.rows = {}        # step -> {variable: values per column}

    def read(self, nest):
        """File the state of the last complete step (one status read of every connection)."""
        keys = ["source", "target", "processed_step"] + [SYNAPSE_KEYS[v] for v in self.variables]
        columns = parallel.connection_columns(nest, self.connections(), keys)
        sources = np.asarray(columns["source"], dtype=int) - self.pre.node_collection[0].global_id
        targets = np.asarray(columns["target"], dtype=int) - self.post.node_collection[0].global_id
        if self.order is None:
            self.order = (sources, targets)
            self._column = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(sources, targets))}
        position = np.array([self._column[(int(i), int(j))] for i, j in zip(sources, targets)])
        steps = np.asarray(columns["processed_step"], dtype=int) - self.first_step
        for step in np.unique(steps[steps >= 0]):
            row = self.rows.setdefault(int(step), {})
            chosen = steps == step
            for variable in self.variables:
                values = np.asarray(columns[SYNAPSE_KEYS[variable]], dtype=float)
                full = row.setdefault(variable, np.full((len(self.order[0]),) + values.shape[1:], np.nan))
                full[position[chosen]] = values[chosen]

    def records(self, steps):
        """``{name: (values (steps, connections), source indices, target indices)}``, pyNN.brian2's
        names (``eligibility_vector_a``: the adaptation component of ALIF targets)."""
        if self.order is None:
            return {}
        out = {}
        for variable in self.variables:
            width = len(self.order[0])
            values = np.full((steps, width, 2) if variable == "eligibility_vector" else (steps, width), np.nan)
            for step, row in self.rows.items():
                if step < steps and variable in row:
                    values[step] = row[variable]
            if variable == "weight":
                # before the first read (the first update's): the weight of the first trial
                known = np.nonzero(~np.isnan(values).any(axis=1))[0]
                if known.size and (self.trial == 0 or known[0] < self.trial):
                    values[:known[0]] = values[known[0]]
                if self.trial > 0:
                    # the update follows a trial's last learning step: that step's weight is the one before
                    last = np.arange(self.trial - self.pause - 1, steps, self.trial)
                    last = last[last >= 1]
                    values[last] = values[last - 1]
            if variable == "eligibility_vector":
                out["eligibility_vector"] = (values[..., 0], *self.order)
                if self.two_dimensional:
                    out["eligibility_vector_a"] = (values[..., 1], *self.order)
            else:
                out[variable] = (values, *self.order)
        return out


def shift_signal(signal, values):
    """A copy of the Neo ``signal`` with ``values`` (same shape)."""
    return signal.duplicate_with_new_data(values, units=signal.units)


def shifted(raw, offset, fill):
    """``out[j] = raw[j + offset]`` along the first axis; before the start the first sample (the
    initial value), after the end ``fill(j)``."""
    n = raw.shape[0]
    source = np.arange(n) + offset
    inside = source < n
    out = np.empty_like(raw)
    out[inside] = raw[np.maximum(source[inside], 0)]
    for j in np.nonzero(~inside)[0]:
        out[j] = fill(j)
    return out


def aligned_hidden_signal(signal, layer, readout_lag, trial, pause, factors=("pseudo_derivative",)):
    """A recorded NEST ``signal`` of hidden layer ``layer`` (0 the first) on pyNN.brian2's grid
    (sample ``j`` at ``j`` ms: the end of step ``j - 1``; sample 0 the initial value).

    Every connection delays by one step: layer ``l``'s step ``s`` is NEST's update ``s - 1 + l``,
    recorded at ``s + l`` ms, so its samples move ``1 - l`` later. Its ``learning_signal`` of step
    ``s`` arrives ``readout_lag`` updates after the step and is recorded one update later still:
    it moves ``readout_lag + l`` samples earlier; the last ones, not yet arrived, are 0 in a trial's
    pause (where the readout sends none) and NaN inside a trial. States that NEST has not reached at
    the end of a run (the third layer on) are NaN too. The first layer's ``factors`` of the first
    step (pseudo-derivative, ...) are NaN: its neurons run that step before NEST's first update,
    unrecorded (its states and output are the resting ones, the initial values: pyNN.nest's checks)."""
    raw = np.asarray(signal.magnitude, dtype=float)
    if raw.shape[0] == 0:   # under MPI, a process that holds no recording
        return signal

    def unknown(j):
        return np.nan

    def arriving(j):   # the learning signal of step j - 1, still on its way
        step = j - 1
        return 0.0 if trial > 0 and step % trial >= trial - pause else np.nan

    if signal.name == "learning_signal":
        values = shifted(raw, readout_lag + layer, arriving)
    else:
        values = shifted(raw, layer - 1, unknown)
        if layer == 0 and signal.name in factors and values.shape[0] > 1:
            values[1] = np.nan
    return shift_signal(signal, values)


def aligned_readout_signal(signal, depth):
    """A recorded NEST ``signal`` of the readout of ``depth`` hidden layers on pyNN.brian2's grid:
    its step ``t`` is NEST's update ``t - 1 + depth``, recorded ``depth - 1`` samples later than on
    pyNN.brian2 (none for one hidden layer)."""
    raw = np.asarray(signal.magnitude, dtype=float)
    if raw.shape[0] == 0 or depth == 1:
        return signal
    return shift_signal(signal, shifted(raw, depth - 1, lambda j: np.nan))


def softmax_outputs(signal):
    """A softmax readout's recorded ``output`` (NEST's ``output_value``: the potential ``a``, which its
    neurons normalise a step later, from every readout's potential) as the probabilities ``pi =
    softmax(a)`` of every step (the reference engine's formula, ``ostl.ops``); sample 0 (the initial
    value) unchanged. Every readout neuron's output must be recorded."""
    from ostl.errors import ParameterError
    from ostl.ops import NumpyOps

    raw = np.asarray(signal.magnitude, dtype=float)
    if raw.shape[0] == 0:
        return signal
    channels = signal.array_annotations.get("channel_index")
    order = np.argsort(np.asarray(channels), kind="stable") if channels is not None else np.arange(raw.shape[1])
    if channels is not None and sorted(np.asarray(channels).tolist()) != list(range(raw.shape[1])):
        raise ParameterError("the outputs of a softmax Readout are normalised over every readout neuron: record "
                             "the output of all of them")
    values = raw.copy()
    values[1:, order] = NumpyOps.softmax(raw[1:, order])
    return shift_signal(signal, values)
