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
from ostl.rules import make_rule
from ostl.validation import check_int

from . import parallel
from .generate import CELL_MODELS as CELL_MODELS_BY_NAME

HIDDEN_FIRST_STEP = 2   # update index of the first hidden layer's first trial step
PAUSE_STEPS = 4         # >= 2 for the learning signals; 4 lets run_trial stop inside the pause
TARGET_PORT, MASK_PORT = 0, 1   # receptor types of readout_neuron's continuous ports
#: reference cell class -> NEST model (the NESTML models generated from it, nestml_models.generate)
CELL_MODELS = {type(cell): model for model, cell in CELL_MODELS_BY_NAME.items()}


def neuron_model(cell, keep_reset_path):
    """NEST model name (without ``_learning``) and parameters of an ostl cell: the numbers
    of the cell's spec under their own names, and each choice (``pseudo``, ``activation``) by
    name with its numbers prefixed (``pseudo_slope``, ``activation_alpha``). The per-neuron
    parameter (``bias``, ``threshold``) is not among them: it is set per neuron."""
    model = CELL_MODELS.get(type(cell))
    if model is None:
        raise ParameterError(f"cell {cell.kind!r} has no NEST model")
    params = {"keep_reset_path": float(keep_reset_path)}
    for key, value in cell.spec().items():
        if key in ("kind", "output", cell.neuron_param):
            continue
        if isinstance(value, dict):
            params[key] = value["name"]
            params.update({f"{key}_{name}": number for name, number in value.items() if name != "name"})
        else:
            params[key] = value
    return model, params


def hidden_parameters(cell, rule, first_step, leak, geometry, regularisation=None):
    """NEST model and parameters of a hidden layer's learning neurons for ``rule`` (its
    traces decide ``keep_reset_path``); ``leak``: the readout's, which filters the traces;
    ``regularisation``: a :class:`~ostl.regularisation.FiringRateRegularisation` or None (the
    neurons' ``c_reg`` and ``f_target`` in Hz, NEST's e-prop names)."""
    model, params = neuron_model(cell, keep_reset_path=rule.keep_reset_path)
    params = dict(params, first_step=first_step, readout_leak=leak, **geometry)
    if regularisation is not None:
        params.update(regularisation_parameters(regularisation))
    return f"{model}_learning", params


def regularisation_parameters(regularisation):
    """A hidden learning neuron's ``c_reg`` and ``f_target`` (Hz, at the 1 ms step of every
    backend) for a :class:`~ostl.regularisation.FiringRateRegularisation`."""
    from ostl.regularisation import STEP_MS

    return {"c_reg": float(regularisation.c_reg), "f_target": float(regularisation.f_target) * 1000.0 / STEP_MS}


def readout_parameters(activation, leak, rule, first_step, geometry):
    """Parameters of ``readout_neuron_learning``: it sends its error, or for OSTTP its masked
    target, as the learning signal; target and mask come through its continuous ports."""
    return dict(geometry, leak=leak, activation=activation, use_mask=1, first_step=first_step,
                learning_signal=rule.signal_source)


def synapse_defaults(optimizer, name=None, batch_size=1):
    """The common properties of ``ostl_synapse`` for an ostl optimiser (SGD or Adam), in
    NEST's e-prop convention (an ``optimizer`` dictionary); ``name``: the parameter the synapses
    hold, whose rate it is (SGD's ``readout_lr`` for ``readout.W``); ``batch_size``: trials per
    update (the average of their gradients is applied after the last)."""
    rate = optimizer.lr if name is None else optimizer.rate(name)
    settings = {"type": "adam" if optimizer.name == "adam" else "gradient_descent", "eta": rate,
                "batch_size": int(batch_size)}
    if optimizer.name == "adam":
        settings.update(beta_1=optimizer.beta1, beta_2=optimizer.beta2, epsilon=optimizer.eps)
    if optimizer.w_min is not None:
        settings["Wmin"] = optimizer.w_min
    if optimizer.w_max is not None:
        settings["Wmax"] = optimizer.w_max
    return {"optimizer": settings}


def connection_indices(connections, pre, post):
    """(post index, pre index) of every connection of a SynapseCollection between the node
    collections ``pre`` and ``post``. NEST sorts connections when a simulation starts, so
    the indices are read together with the values they label."""
    rows = np.asarray(connections.get("target")) - post[0].global_id
    cols = np.asarray(connections.get("source")) - pre[0].global_id
    return np.atleast_1d(rows), np.atleast_1d(cols)


def neuron_optimizer_settings(optimizer, name, batch_size=1):
    """The ``bias_optimizer`` / ``neuron_param_optimizer`` of the neurons that learn parameter
    ``name`` themselves: the synapses' settings at that parameter's rate, without weight bounds
    (``ostl.optim``'s bounds are the weights')."""
    settings = synapse_defaults(optimizer, name, batch_size)["optimizer"]
    settings.pop("Wmin", None)
    settings.pop("Wmax", None)
    return settings


def connect_softmax_readouts(nest, readout):
    """Softmax readouts exchange their potentials (ostl_learning_neurons.h): every readout to every
    readout, itself included, over ``rate_connection_delayed`` (one step), the receptor type naming
    the sender (its index + 1, so that each sums in readout order)."""
    for index in range(len(readout)):
        nest.Connect(readout[index], readout, "all_to_all",
                     {"synapse_model": "rate_connection_delayed", "delay": 1.0, "weight": 1.0,
                      "receptor_type": index + 1})


def copy_readout_weights(signals, readout_weights, readout, hidden):
    """Symmetric feedback: the learning-signal connections ``signals`` (readout -> hidden)
    get the readout weights ``readout_weights`` (n_out, n_hidden), transposed."""
    rows, cols = connection_indices(signals, readout, hidden)
    # a list of dictionaries: NEST refuses {"weight": [...]} under MPI
    signals.set([{"weight": float(w)} for w in np.asarray(readout_weights).T[rows, cols]])


#: trials between two catch-ups of every plastic synapse (see :func:`catch_up_synapses`)
CATCH_UP_EVERY = 20


#: the readout's plastic synapses when they learn at a rate of their own (SGD's readout_lr): a copy of
#: ``ostl_synapse`` (NEST's CopyModel; its common properties hold one optimiser)
READOUT_MODEL = "ostl_readout_synapse"


#: pyNN_ostl.nest's ReadoutSynapse model (a labelled copy of ostl_synapse)
PYNN_READOUT_MODEL = "ostl_pynn_readout_synapse_lbl"


def catch_up_synapses(nest, models=("ostl_synapse", "ostl_synapse_lbl", "ostl_pcm_synapse", "ostl_pcm_synapse_lbl",
                                    READOUT_MODEL, PYNN_READOUT_MODEL)):
    """Let every plastic synapse integrate its target's complete history now. A synapse catches
    up at its presynaptic spikes; one whose source stays silent would keep its target's history
    of the trial it last learned in, and the history would grow with the number of trials. The
    catch-up is exact (the same recursion, split at another step)."""
    for model in models:
        if model in nest.synapse_models:
            connections = nest.GetConnections(synapse_model=model)
            if len(connections):
                connections.set(catch_up=True)


PCM_MODEL = "ostl_pcm_synapse"
#: per-device status keys of ostl_pcm_synapse and the PCMDevices arrays they hold
PCM_DEVICE_KEYS = {"pcm_G": "G", "pcm_P": "P", "pcm_t_programmed": "t_programmed", "pcm_nu": "nu",
                   "pcm_events": "events", "pcm_reads": "reads", "pcm_pulses": "pulses", "pcm_resets": "resets"}
#: per-synapse status keys and the PCMSynapses arrays they hold
PCM_SYNAPSE_KEYS = {"pcm_chi": "chi", "pcm_turn": "turn", "pcm_refreshes": "refreshes", "pcm_clipped": "clipped"}


def pcm_defaults(config, steps):
    """The ``pcm`` common property of ``ostl_pcm_synapse`` for a PCMConfig and trial length."""
    from ostl.hardware.pcm.devices import PULSE_DECAY

    return {"devices": int(config.devices), "eps": float(config.eps), "gmax": float(config.gmax),
            "drift": {"off": 0, "constant": 1, "ibm": 2}[config.drift],
            "read_noise": {"off": 0, "simple": 1, "1/f": 2}[config.read_noise],
            "programming_noise": bool(config.programming_noise),
            "ideal_step": float(config.eps) if config.ideal else 0.0, "refresh_level": float(config.refresh_level),
            "verify": int(config.verify), "step_time": float(config.step_time), "trial_steps": int(steps),
            "pulse_decay": float(PULSE_DECAY)}


def push_pcm_state(conns, rows, cols, pcm, name):
    """Device states, chi and the read for the next trial of the array ``name`` of ``pcm``
    (:class:`ostl.hardware.pcm.loop.PCMWeights`) into the ``ostl_pcm_synapse`` connections
    ``conns`` at matrix positions (``rows``, ``cols``) = (post, pre); their weight becomes the
    programmed weight."""
    array = pcm.arrays[name]
    synapse = rows * array.shape[1] + cols           # the array's synapse index
    devices = synapse[:, None] * array.k + np.arange(array.k)[None, :]
    d = array.devices
    nominal, current = array.nominal(), pcm.current[name]
    conns.set([{"weight": float(nominal[r, c]), "pcm_G": d.G[dev].tolist(), "pcm_P": d.P[dev].tolist(),
                    "pcm_t_programmed": d.t_programmed[dev].tolist(), "pcm_nu": d.nu[dev].tolist(),
                    "pcm_events": d.events[dev].tolist(), "pcm_reads": d.reads[dev].tolist(),
                    "pcm_pulses": d.pulses[dev].tolist(), "pcm_resets": d.resets[dev].tolist(),
                    "pcm_chi": float(array.chi[j]), "pcm_turn": int(array.turn[j]),
                    "pcm_refreshes": int(array.refreshes[j]), "pcm_clipped": int(array.clipped[j]),
                    "pcm_scale": float(array.scale), "pcm_seed": int(d.seed), "pcm_index": int(j),
                    "pcm_clock": float(pcm.clock), "pcm_read_weight": float(current[r, c])}
               for r, c, j, dev in zip(rows, cols, synapse, devices)])


def check_pcm_supported(pcm):
    """What ostl_pcm_synapse cannot do, refused before anything is built."""
    if pcm.config.read != "trial":
        raise ParameterError("PCM reads at every step (read 'step') need the reference backend; NEST's PCM synapses "
                             "read their devices once per trial")
    if pcm.config.update_verify:
        raise ParameterError("PCM write and verify on every update (update_verify) needs the reference or brian2 "
                             "backend; NEST's PCM synapses apply open-loop pulses")
    if pcm.feedback_names:
        raise ParameterError("feedback matrices on PCM arrays need the reference backend; on NEST keep them in "
                             "software (--pcm-feedback off; synapses={'feedback': False})")


def weight_names(network):
    """The weight matrices the NEST synapses learn in ``network``."""
    names = []
    for index, layer in enumerate(network.layers):
        names += [f"layer{index}.W"] + ([f"layer{index}.H"] if layer.recurrent else [])
    return names + ["readout.W"]


def neuron_parameter_names(network):
    """The parameters of ``network`` that NEST's neurons learn themselves: a hidden layer's own
    parameter (SNU ``bias``, soft-reset SNU ``threshold``: ``learn_neuron_param``) where the layer
    trains it, and the readout's bias (``learn_bias``)."""
    names = [f"layer{index}.{layer.cell.neuron_param}" for index, layer in enumerate(network.layers)
             if layer.cell.neuron_param is not None and layer.train_neuron_param]
    return names + (["readout.b"] if network.readout.bias else [])


def learnable_names(network):
    """What NEST learns in ``network``: the weights (its synapses) and the neurons' own parameters."""
    return weight_names(network) + neuron_parameter_names(network)


#: feedback kinds whose learning signal reaches every hidden layer directly from the readouts
DIRECT_FEEDBACK = ("random_direct", "target_projection")


def pause_steps_for(depth, softmax=False):
    """The fewest pause steps after each trial of a network of ``depth`` hidden layers: the
    readout's trial ends ``depth`` updates after the first layer's, its last learning signal
    arrives one later (a softmax readout's one more), and the deepest-lagging layer's last update
    completes in time for :meth:`NestNetwork.run_trial` to read it (4 for one layer)."""
    return depth + 3 + int(bool(softmax))


def check_supported(network, rule, mode="deferred", optimizer=None, trainable=None):
    """Refuse, before anything is built, what the NEST models cannot learn exactly."""
    rule = make_rule(rule)
    if rule.is_bptt:
        raise ParameterError("rule 'bptt' is the autodiff oracle of the reference engine, not a simulator rule")
    for index, layer in enumerate(network.layers):
        if layer.kind == "gated":
            raise ParameterError(f"layer {index} is a gated ({layer.cell.kind.upper()}) layer; gated layers are not "
                                 "spiking cells and run on the reference engine only")
    for index, layer in enumerate(network.layers):
        if not layer.stateful:
            raise ParameterError(f"layer {index} is not a layer of spiking cells; the NEST backend learns spiking "
                                 "layers (use the reference engine)")
    if len(network.layers) > 1 and rule.feedback not in DIRECT_FEEDBACK:
        raise ParameterError(f"{len(network.layers)} hidden layers on NEST need each layer's learning signal "
                             f"directly from the readouts: feedback 'random_direct' or 'target_projection' "
                             f"(rule {rule.name!r} has {rule.feedback!r}); feedback through the layers above is "
                             "not local to a synapse (use the reference engine)")
    rule.require_local(network, "the NEST backend")
    if mode != "deferred":
        raise ParameterError("mode must be 'deferred' on NEST: learning signals travel over delayed connections, "
                             "so a per-step update cannot be exact; the weights change at every trial end")
    if optimizer is not None and make_optimizer(optimizer).clip is not None:
        raise ParameterError("gradient clipping needs the norm over all synapses, which no NEST synapse sees; "
                             "use optimizer without clip on the NEST backend")
    names = set(learnable_names(network))
    trainable = set(weight_names(network)) if trainable is None else set(trainable)
    fixed = sorted(trainable - names)
    if fixed:
        raise ParameterError(f"the NEST backend trains {', '.join(sorted(names))}; {', '.join(fixed)} are not "
                             "parameters of this network that it learns: pass trainable without them")
    return rule, trainable


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
        if pcm is not None and self._readout_rate_of_its_own():
            raise ParameterError("a readout learning rate of its own (readout_lr) is not built for PCM synapses on "
                                 "NEST (ostl_pcm_synapse holds one optimiser); use one rate, or the reference engine")
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
        if self._readout_rate_of_its_own() and READOUT_MODEL not in nest.synapse_models:
            nest.CopyModel("ostl_synapse", READOUT_MODEL)
        self._configure_optimisers()
        if self.pcm is not None:
            nest.SetDefaults(PCM_MODEL, dict(synapse_defaults(self.optimizer, batch_size=self.batch_size),
                                             pcm=pcm_defaults(self.pcm.config, self.steps)))
        self.weight_recorder = None
        if self.record_weights:   # NEST's weight_recorder, set on the plastic synapse models
            self.weight_recorder = nest.Create("weight_recorder")
            for model in ("ostl_synapse", READOUT_MODEL if self._readout_rate_of_its_own() else None,
                          PCM_MODEL if self.pcm is not None else None):
                if model is not None:
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
        # the readout's summed loss at the end of every trial (constant through the pause)
        self.loss_recorder = nest.Create("multimeter", {"record_from": ["loss"], "interval": float(self.period),
                                                        "offset": float(self.readout_first_step + T)})
        nest.Connect(self.loss_recorder, self.readout)
        self.recorder = None
        if self.record_outputs:
            self.recorder = nest.Create("multimeter", {"record_from": ["output_value"], "interval": 1.0})
            nest.Connect(self.recorder, self.readout)
        #: every trial's loss so far, and each readout neuron's running loss at the last trial end
        self._losses, self._loss_last = [], np.zeros(ro.size)
        # the regulariser's rates: the hidden spikes (a spike is an output y = 1)
        self.spike_recorder = None
        if self.regularisation is not None:
            self.spike_recorder = nest.Create("spike_recorder")
            for population in self.hidden_layers:
                nest.Connect(population, self.spike_recorder)
        self._regularisation_losses = []
        #: softmax: each scheduled trial's (target, mask) until its loss is computed, and outputs
        self._scheduled, self._outputs = {}, {}

    def _rates(self):
        """The optimiser's current rate of every trainable parameter (a schedule changes them)."""
        return {name: self.optimizer.rate(name) for name in sorted(self.trainable)}

    def _configure_optimisers(self):
        """The synapse models' optimiser settings at the optimiser's current rates."""
        nest = self.nest
        nest.SetDefaults("ostl_synapse", synapse_defaults(self.optimizer, batch_size=self.batch_size))
        if self._readout_rate_of_its_own():
            nest.SetDefaults(READOUT_MODEL, synapse_defaults(self.optimizer, "readout.W", self.batch_size))
        if self.pcm is not None:
            nest.SetDefaults(PCM_MODEL, synapse_defaults(self.optimizer, batch_size=self.batch_size))
        self._configured_rates = self._rates()

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
        model = "ostl_synapse" if plastic else "static_synapse"
        if plastic and name == "readout.W" and self._readout_rate_of_its_own():
            model = READOUT_MODEL
        if plastic and self.pcm is not None:
            model = PCM_MODEL
        nest.Connect(pre, post, conn_spec, {"synapse_model": model, "delay": 1.0, "weight": self.params[name]})
        self.projections[name] = (pre, post, model)
        if model == PCM_MODEL:
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
        names = [name for name, (_, _, model) in self.projections.items() if model == PCM_MODEL]
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
        if self.softmax:
            for k, (_, target, mask) in enumerate(trials):
                self._scheduled[first + k] = (target, mask)
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
        loss, outputs = self._collect(self.trial)
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
        if self.recorder is not None:
            self.recorder.n_events = 0
        self._outputs.clear()
        return losses

    def trial_losses(self):
        """The loss of every trial simulated so far (summed over the readout neurons)."""
        if self.softmax:
            self._read_softmax(self.trial)
        else:
            self._read_losses()
        return np.array(self._losses)

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

    def _read_losses(self):
        """Append the losses of the trials recorded since the last read. The loss recorder
        holds each readout neuron's running loss at every trial end (on the process that owns
        the neuron); a trial's loss is the increase over the previous trial end."""
        events = parallel.recorded_events(self.nest, self.loss_recorder, ("times", "senders", "loss"))
        self.loss_recorder.n_events = 0
        trials = np.rint((events["times"] - (self.readout_first_step + self.steps)) / self.period).astype(int)
        neurons = np.asarray(events["senders"]) - self.readout[0].global_id
        for k in sorted(set(trials.tolist())):
            if k < len(self._losses):
                continue
            now = self._loss_last.copy()
            now[neurons[trials == k]] = events["loss"][trials == k]
            self._losses.append(float(np.sum(now - self._loss_last)))
            self._loss_last = now

    def _read_softmax(self, trials_done):
        """Softmax readout: the recorded potentials of the trials up to ``trials_done`` (those
        simulated since the last read) give
        their outputs ``softmax(a^t)`` and losses ``-sum_t m^t sum_k y*_k log softmax(a^t)_k``
        (ostl.network.Readout; the readouts normalised the same way for their errors)."""
        from ostl.ops import NumpyOps

        events = parallel.recorded_events(self.nest, self.recorder, ("times", "senders", "output_value"))
        self.recorder.n_events = 0
        updates = np.asarray(events["times"]).round().astype(int) - 1 - self.readout_first_step
        trials, steps = updates // self.period, updates % self.period
        senders = np.asarray(events["senders"]) - self.readout[0].global_id
        keep = (updates >= 0) & (steps < self.steps)
        for k in range(len(self._losses), trials_done):
            chosen = keep & (trials == k)
            potentials = np.zeros((self.steps, self.network.n_out))
            potentials[steps[chosen], senders[chosen]] = np.asarray(events["output_value"])[chosen]
            target, mask = self._scheduled.pop(k)
            step_losses = -np.sum(target * NumpyOps.log_softmax(potentials), axis=1)
            self._losses.append(float(np.sum(mask * step_losses)))
            self._outputs[k] = NumpyOps.softmax(potentials)

    def _collect(self, k, outputs=True):
        if self.softmax:
            self._read_softmax(k + 1)
            return self._losses[k], self._outputs.pop(k) if outputs else None
        self._read_losses()
        loss = self._losses[k]
        out = None
        if outputs and self.recorder is not None:
            events = parallel.recorded_events(self.nest, self.recorder, ("times", "senders", "output_value"))
            times = np.asarray(events["times"]).round().astype(int)
            senders = np.asarray(events["senders"]) - self.readout[0].global_id
            # readout update u is recorded at u + 1 ms; step r of trial k is u = first + k period + r
            steps = times - 1 - (self.readout_first_step + k * self.period)
            keep = (steps >= 0) & (steps < self.steps)
            out = np.zeros((self.steps, self.network.n_out))
            out[steps[keep], senders[keep]] = np.asarray(events["output_value"])[keep]
            self.recorder.n_events = 0
        return loss, out

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
