"""An ostl network, rule and optimiser as a NEST network that learns in NEST.

:class:`NestNetwork` builds, from the same objects the reference engine takes
(:class:`ostl.Network`, a rule, parameters, feedback matrices, an optimiser), a NEST network
of the learning models of this package:

* inputs: ``spike_generator`` -> ``parrot_neuron`` (one per input);
* the hidden layers (one or more; several need direct feedback): ``<cell>_neuron_learning``
  (SNU, soft-reset SNU, LIF, ALIF);
* the readout: ``readout_neuron_learning`` with its target and loss mask from
  ``step_current_generator``s;
* plastic projections: ``ostl_synapse`` (inputs -> first hidden layer, layer -> next layer,
  hidden -> hidden within a layer, last layer -> readout), static ones ``static_synapse``;
* learning signals: ``ostl_learning_signal_connection`` (NEST's ``eprop_learning_signal_connection``,
  labelled) from every readout neuron to every
  hidden neuron, weighted with the feedback matrix (``random``, ``random_direct``), the
  readout weights (``symmetric``) or carrying the masked target (``target_projection``).

Trials of ``T`` steps are separated by ``pause_steps`` silent steps, in which the deferred
updates complete (docs/design.md#nest). :meth:`run_trial` simulates one trial (the training
backend's unit); :meth:`run_trials` simulates many in one ``nest.Simulate``.

Time: every connection has a delay of one step (1 ms at resolution 1 ms). Input step ``r`` of
trial ``k`` reaches the first hidden layer at update ``HIDDEN_FIRST_STEP + k * period + r``; each
further layer's trial, and the readout's, starts one update later than the layer before it, so
that its step ``r`` sees the step ``r`` of the layer below (``readout_lag`` of a hidden neuron:
the updates by which the readout follows its layer; ``pause_steps_for``).
"""

from __future__ import annotations

import os

import numpy as np

from ostl.errors import ParameterError
from ostl.network import Network
from ostl.optim import make_optimizer
from ostl.regularisation import FiringRateRegularisation
from ostl.validation import check_int

from . import parallel
from .parameters import (
    HIDDEN_FIRST_STEP,
    MASK_PORT,
    READOUT_MODEL,
    TARGET_PORT,
    hidden_parameters,
    neuron_optimizer_settings,
    pause_steps_for,
    readout_parameters,
    synapse_defaults,
)
from .pcm_synapses import (
    PCM_DEVICE_KEYS,
    PCM_MODEL,
    PCM_READOUT_MODEL,
    PCM_SYNAPSE_KEYS,
    check_pcm_supported,
    pcm_defaults,
    push_pcm_state,
)
from .readout_records import ReadoutRecords
from .support import check_supported, neuron_parameter_names
from .wiring import (
    CATCH_UP_EVERY,
    catch_up_synapses,
    connect_softmax_readouts,
    connection_indices,
    copy_readout_weights,
)


class NestNetwork:
    """An ostl network learning in NEST (see the module docstring).

    Parameters
    ----------
    network : ostl.Network (hidden layers of spiking cells; several need direct feedback)
    rule : rule name or :class:`ostl.rules.Rule`
    params : dict of parameters as in the reference engine (the hidden neurons' own parameters stay fixed)
    trainable : what to learn (default: the weights): weights and ``readout.b``
    steps : trial length ``T``
    feedback : dict of fixed feedback matrices (as :meth:`Rule.make_feedback` returns)
    optimizer : ostl optimiser or spec (SGD or Adam; applied by every synapse at trial ends)
    threads : NEST's ``local_num_threads``
    record_outputs : record the readout output of every step (for metrics; costs time)
    pcm : :class:`ostl.hardware.pcm.loop.PCMWeights` or None: the plastic weights on PCM
        devices (``ostl_pcm_synapse``), their state pushed into the synapses at build and
        pulled back after every trial (:meth:`pull_pcm`)
    record_weights : record every plastic synapse's weight with NEST's ``weight_recorder`` (an event at
        every spike it transmits, with the weight it transmits: the update of the trial before
        included); :meth:`recorded_weights` reads them
    batch_size : trials per update: the synapses sum the gradients of ``batch_size`` trials and
        apply their average after the last (NEST's e-prop ``batch_size``; the trainer's batches)
    regularisation : firing-rate regularisation of the hidden neurons
        (:class:`~ostl.regularisation.FiringRateRegularisation`, its dict form, or None): every
        hidden neuron gets ``c_reg`` and ``f_target``; its synapses add ``r_j sum_t e^t`` at
        each trial's end; :meth:`regularisation_losses` gives its value per trial
    """

    def __init__(self, network, rule, params, steps, feedback, optimizer, trainable=None, threads=1,
                 record_outputs=True, pause_steps=None, pcm=None, regularisation=None, batch_size=1,
                 record_weights=False):
        self.network = network if isinstance(network, Network) else Network.from_spec(network)
        self.optimizer = make_optimizer(optimizer)
        self.rule, self.trainable = check_supported(self.network, rule, "deferred", self.optimizer, trainable)
        self.steps = check_int("steps", steps, minimum=1)
        self.depth = len(self.network.layers)
        #: a softmax readout: the readouts exchange their potentials; the loss and outputs are computed
        #: from the recorded potentials (the reference engine's formulas)
        self.softmax = self.network.readout.activation == "softmax"
        fewest = pause_steps_for(self.depth, self.softmax)
        self.pause_steps = check_int("pause_steps", fewest if pause_steps is None else pause_steps, minimum=fewest)
        self.threads = check_int("threads", threads, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.params = self.network.check_params(params)
        self.feedback = self.rule.check_feedback(self.network, feedback)
        self.symmetric = self.rule.feedback == "symmetric"
        self.record_outputs = bool(record_outputs) or self.softmax
        self.record_weights = bool(record_weights)
        self.regularisation = FiringRateRegularisation.make(regularisation)
        self.pcm = pcm
        if pcm is not None:
            check_pcm_supported(pcm)
        self.trial = 0
        self._build()

    @property
    def period(self):
        """Steps of one trial in NEST: the trial and the pause after it."""
        return self.steps + self.pause_steps

    @property
    def readout_first_step(self):
        """The readout's update of the first trial's step 0: one update after the last hidden layer's."""
        return HIDDEN_FIRST_STEP + self.depth

    # -- construction ----------------------------------------------------------------------
    def _build(self):
        os.environ.setdefault("PYNEST_QUIET", "1")
        import nest

        import nestml_models

        self.nest = nest
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        nestml_models.install()
        # spike_buffer_shrink_limit 0: NEST's spike buffer never shrinks. It would otherwise shrink in
        # every pause between trials and grow again at the next trial, and NEST logs every resize in
        # the kernel status (spike_buffer_resize_log), which every GetKernelStatus (every
        # SynapseCollection.get) converts: measured 0.08 -> 0.32 ms per call over 30 trials, and the
        # time per trial of a long run growing with it
        nest.set(resolution=1.0, local_num_threads=self.threads, print_time=False, spike_buffer_shrink_limit=0.0)
        net, params, T = self.network, self.params, self.steps
        ro, depth = net.readout, self.depth
        geometry = {"trial_steps": T, "pause_steps": self.pause_steps}
        kappa = float(ro.leak)
        self.inputs = nest.Create("spike_generator", net.n_in)
        self.parrots = nest.Create("parrot_neuron", net.n_in)
        nest.Connect(self.inputs, self.parrots, "one_to_one", {"delay": 1.0})
        #: the hidden layers' populations; every connection delays by one step, so layer l's trial
        #: starts l updates after the first layer's and the readout's depth updates after it
        self.hidden_layers = []
        for index, layer in enumerate(net.layers):
            model, hidden_params = hidden_parameters(layer.cell, self.rule, HIDDEN_FIRST_STEP + index, kappa,
                                                     geometry, self.regularisation)
            # a softmax readout's learning signal leaves one update later (after the exchange)
            population = nest.Create(model, layer.size, dict(hidden_params, readout_lag=depth - index + self.softmax))
            if layer.cell.neuron_param is not None:
                values = np.broadcast_to(layer.neuron_param(params, f"layer{index}"), layer.size).astype(float)
                population.set([{layer.cell.neuron_param: v} for v in values])   # per node: also under MPI
            self.hidden_layers.append(population)
        #: the first hidden layer (the one the inputs reach)
        self.hidden = self.hidden_layers[0]
        self.readout = nest.Create("readout_neuron_learning", ro.size,
                                   readout_parameters(ro.activation, kappa, self.rule, self.readout_first_step,
                                                      geometry))
        if ro.bias:
            # a list of dictionaries, one per node: NEST expands {"bias": [...]} only when every node
            # is local, which under MPI they are not
            self.readout.set([{"bias": float(b)} for b in params["readout.b"]])
        if self.softmax:
            connect_softmax_readouts(nest, self.readout)
        for name in neuron_parameter_names(net):   # the neurons learn them
            if name in self.trainable:
                population, _, prefix = self._neuron_parameter(name)
                population.set({"learn_bias" if prefix == "bias" else "learn_neuron_param": True})
        self._configure_neuron_optimisers()
        base = "ostl_synapse" if self.pcm is None else PCM_MODEL
        for model in self._synapse_models():   # the readout's own rate: a copy with an optimiser of its own
            if model not in nest.synapse_models:
                nest.CopyModel(base, model)
            if self.pcm is not None:
                nest.SetDefaults(model, {"pcm": pcm_defaults(self.pcm.config, self.steps)})
        self._configure_optimisers()
        self.weight_recorder = None
        if self.record_weights:   # NEST's weight_recorder, set on the plastic synapse models
            self.weight_recorder = nest.Create("weight_recorder")
            for model in self._synapse_models():
                nest.SetDefaults(model, {"weight_recorder": self.weight_recorder})
        self.projections = {}
        source = self.parrots
        for index, (layer, population) in enumerate(zip(net.layers, self.hidden_layers)):
            self._connect(f"layer{index}.W", source, population, {"rule": "all_to_all"})
            if layer.recurrent:
                self._connect(f"layer{index}.H", population, population,
                              {"rule": "all_to_all", "allow_autapses": layer.autapses})
            source = population
        self._connect("readout.W", source, self.readout, {"rule": "all_to_all"})
        for index, population in enumerate(self.hidden_layers):
            nest.Connect(self.readout, population, "all_to_all",
                         {"synapse_model": "ostl_learning_signal_connection", "delay": 1.0,
                          "weight": self._feedback_matrix(index)})
        self.targets = nest.Create("step_current_generator", ro.size)
        self.masks = nest.Create("step_current_generator", ro.size)
        nest.Connect(self.targets, self.readout, "one_to_one", {"receptor_type": TARGET_PORT, "delay": 1.0})
        nest.Connect(self.masks, self.readout, "one_to_one", {"receptor_type": MASK_PORT, "delay": 1.0})
        #: the readout's losses and outputs (nestml_models.readout_records)
        self.readout_records = ReadoutRecords(nest, self.readout, T, self.period, self.readout_first_step,
                                              self.softmax, self.record_outputs)
        # the regulariser's rates: the hidden spikes (a spike is an output y = 1)
        self.spike_recorder = None
        if self.regularisation is not None:
            self.spike_recorder = nest.Create("spike_recorder")
            for population in self.hidden_layers:
                nest.Connect(population, self.spike_recorder)
        self._regularisation_losses = []

    def _rates(self):
        """The optimiser's current rate of every trainable parameter (a schedule changes them)."""
        return {name: self.optimizer.rate(name) for name in sorted(self.trainable)}

    def _configure_optimisers(self):
        """The synapse models' optimiser settings at the optimiser's current rates."""
        for model, name in self._synapse_models().items():
            self.nest.SetDefaults(model, synapse_defaults(self.optimizer, name, self.batch_size))
        self._configured_rates = self._rates()

    def _synapse_models(self):
        """``{model: the parameter whose rate it learns at (None: the optimiser's rate)}`` of the plastic
        synapse models: ``ostl_synapse`` (``ostl_pcm_synapse`` on PCM devices) and, for a readout rate of
        its own (SGD's ``readout_lr``), a copy of it for the readout's synapses."""
        if self.pcm is None:
            models = {"ostl_synapse": None}
            if self._readout_rate_of_its_own():
                models[READOUT_MODEL] = "readout.W"
            return models
        models = {PCM_MODEL: None}
        if self._readout_rate_of_its_own():
            models[PCM_READOUT_MODEL] = "readout.W"
        return models

    def _plastic_model(self, name):
        """The synapse model that learns parameter ``name``."""
        models = self._synapse_models()
        own = [model for model, rate_of in models.items() if rate_of == name]
        return own[0] if own else next(iter(models))

    def _configure_neuron_optimisers(self):
        """The optimiser settings of the parameters the neurons learn (no weight bounds on them)."""
        for name in neuron_parameter_names(self.network):
            if name in self.trainable:
                population, _, prefix = self._neuron_parameter(name)
                settings = neuron_optimizer_settings(self.optimizer, name, self.batch_size)
                population.set({f"{prefix}_optimizer": settings})

    def follow_rates(self):
        """Give the synapses and neurons the optimiser's current rates if a learning-rate schedule
        changed them (between trials). Every synapse first catches up, so that the updates of the
        trials before take the rate they were computed with."""
        if self._rates() == self._configured_rates:
            return
        catch_up_synapses(self.nest)
        self._configure_optimisers()
        self._configure_neuron_optimisers()

    def _readout_rate_of_its_own(self):
        """Whether the readout learns at a rate of its own (SGD's ``readout_lr``)."""
        return self.optimizer.readout_lr is not None

    def _connect(self, name, pre, post, conn_spec):
        nest = self.nest
        plastic = name in self.trainable
        model = self._plastic_model(name) if plastic else "static_synapse"
        nest.Connect(pre, post, conn_spec, {"synapse_model": model, "delay": 1.0, "weight": self.params[name]})
        self.projections[name] = (pre, post, model)
        if plastic and self.pcm is not None:
            self._push_pcm(name)

    # -- PCM synapses ----------------------------------------------------------------------
    def _push_pcm(self, name):
        conns, rows, cols = self._connections(name)
        push_pcm_state(conns, rows, cols, self.pcm, name)

    PCM_KEYS = ("pcm_state",)   # the synapse's state packed in one list (ostl_pcm_synapse.h)

    def read_back(self, names, keys):
        """Per-synapse quantities ``keys`` of the projections ``names`` in one status read per
        projection: ``{name: (rows, cols, {key: values})}`` (rows, cols: post, pre indices)."""
        out = {}
        for name in names:
            pre, post, model = self.projections[name]
            conns = self.nest.GetConnections(pre, post, synapse_model=model)
            values = parallel.connection_columns(self.nest, conns, ["source", "target", *keys])
            rows = np.asarray(values.pop("target")) - post[0].global_id
            cols = np.asarray(values.pop("source")) - pre[0].global_id
            out[name] = (rows, cols, values)
        return out

    def pull_pcm(self, read=None):
        """The synapses' device states (caught up to the last complete trial) into ``pcm``;
        ``read``: what :meth:`read_back` returned with :attr:`PCM_KEYS` (read now if None)."""
        names = [name for name, (_, _, model) in self.projections.items() if model in (PCM_MODEL, PCM_READOUT_MODEL)]
        if read is None:
            read = self.read_back(names, self.PCM_KEYS)
        clocks = []
        for name in names:
            rows, cols, values = read[name]
            array = self.pcm.arrays[name]
            synapse = rows * array.shape[1] + cols
            devices = synapse[:, None] * array.k + np.arange(array.k)[None, :]
            packed = np.asarray(values["pcm_state"], dtype=float).reshape(len(synapse), 8 * array.k + 6)
            for position, field in enumerate(PCM_DEVICE_KEYS.values()):
                target = getattr(array.devices, field)
                target[devices] = packed[:, position * array.k:(position + 1) * array.k].astype(target.dtype)
            tail = packed[:, 8 * array.k:]
            for position, field in enumerate(PCM_SYNAPSE_KEYS.values()):
                target = getattr(array, field)
                target[synapse] = tail[:, position].astype(target.dtype)
            self.pcm.current[name][rows, cols] = tail[:, 5]
            clocks.extend(tail[:, 4])
        if clocks:
            self.pcm.clock = float(clocks[0])
            self.pcm.used = False

    def _feedback_matrix(self, index=0):
        """Weight of the learning-signal connection readout k -> neuron j of hidden layer ``index``,
        shape (n_j, n_out)."""
        kind = self.rule.feedback
        if kind == "symmetric":   # the readout weights (on PCM: as read for the next trial)
            weights = self.params["readout.W"] if self.pcm is None else self.pcm.current["readout.W"]
            return weights.T.copy()
        key = "feedback.readout" if kind == "random" else f"feedback.layer{index}"
        return self.feedback[key].copy()

    # -- running ---------------------------------------------------------------------------
    def _schedule(self, trials, first):
        """Set the generators for the checked ``trials`` (x, target, mask), the first of them
        trial number ``first`` (times in ms)."""
        T = self.steps
        starts = HIDDEN_FIRST_STEP + (first + np.arange(len(trials))) * self.period   # hidden update of step 0
        for i, generator in enumerate(self.inputs):
            times = [np.nonzero(x[:, i] > 0.5)[0] + start - 1.0 for (x, _, _), start in zip(trials, starts)]
            generator.set(spike_times=np.concatenate(times).astype(float))
        # a continuous port is read at the end of the update: set one step early (the readout's step 0 is
        # update start + depth); 0 after each trial
        times = np.concatenate([np.arange(T + 1) + start + self.depth - 1 for start in starts]).astype(float)
        for k, (_, target, mask) in enumerate(trials):
            self.readout_records.schedule(first + k, target, mask)
        for j in range(self.network.n_out):
            self.targets[j].set(amplitude_times=times, amplitude_values=np.concatenate(
                [np.append(target[:, j], 0.0) for _, target, _ in trials]))
            self.masks[j].set(amplitude_times=times, amplitude_values=np.concatenate(
                [np.append(mask, 0.0) for _, _, mask in trials]))

    def _check_trial(self, x, target, mask):
        net = self.network
        x, target, *rest = net.check_inputs(x, target, mask)
        mask = rest[0] if rest else np.ones(x.shape[0])
        if x.shape[0] != self.steps:
            raise ParameterError(f"trial length must be {self.steps} steps (the network was built for it), "
                                 f"got {x.shape[0]}")
        if not np.all((x == 0.0) | (x == 1.0)):
            raise ParameterError("the NEST backend takes binary spike input x (0 or 1 per step)")
        return x, target, mask

    def run_trial(self, x, target, mask=None):
        """Simulate one trial (and the pause after it); returns (loss, outputs (T, n_out)).
        The synapses apply their update at the trial's end."""
        self.follow_rates()
        self._schedule([self._check_trial(x, target, mask)], self.trial)
        # chunk boundaries sit two steps before a trial's first hidden update, so that the next
        # trial's first input spike is still in the future
        self.nest.Simulate(float(self.period))
        loss, outputs = self.readout_records.trial(self.trial)
        self.trial += 1
        if self.trial % CATCH_UP_EVERY == 0:
            catch_up_synapses(self.nest)
        self._follow_readout()
        return loss, outputs

    def _follow_readout(self):
        """Symmetric feedback with a trained readout: the learning-signal weights take the readout
        weights the trial's update left (between trials)."""
        if self.symmetric and "readout.W" in self.trainable:
            signals = self.nest.GetConnections(self.readout, self.hidden,
                                               synapse_model="ostl_learning_signal_connection")
            key = "weight" if self.pcm is None else "pcm_read_weight"   # PCM: the read the next trial uses
            copy_readout_weights(signals, self.synapse_state("readout.W", key), self.readout, self.hidden)

    def run_trials(self, xs, targets, masks=None):
        """Simulate several trials in one ``nest.Simulate`` (no outputs recorded); returns
        the loss of each."""
        if self.symmetric and "readout.W" in self.trainable:
            raise ParameterError("symmetric feedback with a trained readout needs the feedback weights copied "
                                 "after every trial: use run_trial, or feedback 'random'")
        masks = [None] * len(xs) if masks is None else masks
        checked = [self._check_trial(x, t, m) for x, t, m in zip(xs, targets, masks)]
        self.follow_rates()
        n_trials = len(checked)
        self._schedule(checked, self.trial)
        self.nest.Simulate(float(n_trials * self.period))
        self.trial += n_trials
        catch_up_synapses(self.nest)
        losses = self.trial_losses()[-n_trials:]   # softmax: from the recorded potentials
        self.readout_records.forget_outputs()
        return losses

    def trial_losses(self):
        """The loss of every trial simulated so far (summed over the readout neurons)."""
        return self.readout_records.trial_losses(self.trial)

    def recorded_weights(self):
        """The weight recorder's events since the last read (``record_weights``): ``{"times",
        "senders", "targets", "weights"}`` (node ids; every process gets them all)."""
        if self.weight_recorder is None:
            raise ParameterError("the weights are recorded with NestNetwork(..., record_weights=True)")
        events = parallel.recorded_events(self.nest, self.weight_recorder, ("times", "senders", "targets", "weights"))
        self.weight_recorder.n_events = 0
        return events

    def regularisation_losses(self):
        """The firing-rate regulariser's value ``E_reg`` of every trial simulated so far (zeros
        without it), from the hidden neurons' spike counts."""
        if self.spike_recorder is None:
            return np.zeros(self.trial)
        events = parallel.recorded_events(self.nest, self.spike_recorder, ("times", "senders"))
        self.spike_recorder.n_events = 0
        times, senders = np.rint(events["times"]).astype(int), np.asarray(events["senders"], dtype=int)
        counts = []   # per layer: (trials, neurons)
        for index, population in enumerate(self.hidden_layers):
            # layer l's update u is recorded at u + 1 ms; its step r of trial k is u = first + l + k period + r
            ids = population.tolist()
            mine = (senders >= ids[0]) & (senders <= ids[-1])
            trials = (times[mine] - 1 - HIDDEN_FIRST_STEP - index) // self.period
            layer_counts = np.zeros((self.trial, len(population)))
            np.add.at(layer_counts, (trials, senders[mine] - ids[0]), 1.0)
            counts.append(layer_counts)
        for k in range(len(self._regularisation_losses), self.trial):
            self._regularisation_losses.append(sum(self.regularisation.penalty(layer[k], self.steps)[0]
                                                   for layer in counts))
        return np.array(self._regularisation_losses)

    # -- state -----------------------------------------------------------------------------
    def _connections(self, name):
        """The projection's connections with their (post, pre) indices. NEST sorts
        connections when a simulation starts, so the order is read together with the values."""
        pre, post, model = self.projections[name]
        conns = self.nest.GetConnections(pre, post, synapse_model=model)
        return (conns, *connection_indices(conns, pre, post))

    def weights(self):
        """The current weights (each synapse caught up to its last complete step)."""
        return {name: self.synapse_state(name, "weight", fill=self.params[name]) for name in self.projections}

    def synapse_state(self, name, key, fill=None):
        """A per-synapse quantity (``weight``, ``eligibility_vector``, ``gradient``, ``adam_m``,
        ...) as a matrix (post, pre[, 2]); entries without a connection from ``fill`` (or 0).
        Under MPI every process gets the whole matrix."""
        pre, post, model = self.projections[name]
        conns = self.nest.GetConnections(pre, post, synapse_model=model)
        columns = parallel.connection_columns(self.nest, conns, ["source", "target", key])
        rows = np.asarray(columns["target"], dtype=int) - post[0].global_id
        cols = np.asarray(columns["source"], dtype=int) - pre[0].global_id
        values = np.asarray(columns[key], dtype=float)
        out = np.zeros(self.params[name].shape + values.shape[1:])
        if fill is not None:
            out[...] = fill
        out[rows, cols] = values
        return out

    def _neuron_parameter(self, name):
        """(population, its status key, the prefix of its learning keys) of a parameter the neurons
        learn: ``readout.b`` (``bias``, ``bias_optimizer``, ...) or ``layer<l>.<param>`` (``<param>``,
        ``neuron_param_optimizer``, ...)."""
        if name == "readout.b":
            return self.readout, "bias", "bias"
        layer, param = name.split(".")
        return self.hidden_layers[int(layer[len("layer"):])], param, "neuron_param"

    def neuron_parameter_state(self, name, adam=False):
        """A neuron-learned parameter's ``value`` (and with ``adam`` its ``adam_m``, ``adam_v``) as
        arrays in neuron order (every process gets them all)."""
        population, key, prefix = self._neuron_parameter(name)
        keys = {"value": key, **({"adam_m": f"{prefix}_adam_m", "adam_v": f"{prefix}_adam_v"} if adam else {})}
        columns = parallel.node_columns(self.nest, population, list(keys.values()))
        order = np.argsort(columns["global_id"])
        return {field: np.asarray(columns[status], dtype=float)[order] for field, status in keys.items()}

    def set_neuron_parameter_state(self, name, adam_m, adam_v, optimizer_steps):
        """Set a neuron-learned parameter's optimiser state (Adam's moments and step count, arrays
        in neuron order): an exact resumption."""
        population, _, prefix = self._neuron_parameter(name)
        population.set([{f"{prefix}_adam_m": float(adam_m[k]), f"{prefix}_adam_v": float(adam_v[k]),
                         f"{prefix}_optimizer_steps": int(optimizer_steps[k])} for k in range(len(population))])

    def set_synapse_state(self, name, **matrices):
        """Set per-synapse quantities from (post, pre) matrices (e.g. the optimiser state)."""
        conns, rows, cols = self._connections(name)
        columns = {key: np.asarray(value)[rows, cols] for key, value in matrices.items()}
        conns.set([{key: (int(v[n]) if key == "optimizer_steps" else float(v[n])) for key, v in columns.items()}
                   for n in range(len(rows))])
