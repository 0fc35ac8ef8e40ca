"""Training backend ``nest`` for :class:`ostl.training.Trainer` and ``ostl train``.

The network learns in NEST: every trial is simulated by :class:`nestml_models.network.NestNetwork`
and the synapses apply the optimiser at the trial's end. After each trial the backend copies
the weights and the optimiser state (Adam's moments and step) from the synapses into the
trainer's parameters and optimiser, so the learning curve, checkpoints and ``--resume`` work as
on the reference engine; a rebuilt simulation (a resumed run) starts from them. The neurons
learn their own parameters (the readout's bias, an SNU's bias, a soft-reset SNU's threshold);
``mode`` is deferred. With ``batch_size`` B the synapses sum
the gradients of B trials and apply their average after the last (NEST's e-prop ``batch_size``),
the trainer's batches; the weights are read back after each batch (:meth:`NestBackend.end_batch`).
"""

from __future__ import annotations

import numpy as np

from ostl.backends import Backend
from ostl.errors import ParameterError
from ostl.online import SequenceResult
from ostl.validation import check_int

from .network import NestNetwork
from .plugin import PLUGIN
from .support import check_supported, learnable_names, neuron_parameter_names


class NestBackend(Backend):
    """Trials in NEST; the synapses apply the optimiser at each trial's end."""

    name = "nest"
    capabilities = PLUGIN.capabilities

    @classmethod
    def trainable_parameters(cls, network):
        """NEST's synapses learn the weights, the neurons their own parameters (the readout's bias,
        an SNU's bias, a soft-reset SNU's threshold)."""
        return learnable_names(network)

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1,
                 threads=1, regularisation=None):
        trainable = sorted(learnable_names(network) if trainable is None else trainable)
        check_supported(network, rule, mode, optimizer, trainable)   # refuse before anything is built
        if optimizer is None:
            raise ParameterError("the NEST backend needs an optimizer (the synapses apply it)")
        super().__init__(network, rule, mode, feedback, trainable, optimizer, params, batch_size)
        self.threads = check_int("threads", threads, minimum=1)
        #: the firing-rate regulariser (:mod:`ostl.regularisation`; its ``c_reg`` and ``f_target`` on
        #: every hidden neuron), or None
        self.regularisation = regularisation
        self._sim = None
        self._batch_trials = 0   # trials of the current batch run so far
        self.pcm = None

    def attach_synapses(self, pcm):
        """Learn with the plastic weights on PCM devices (``ostl_pcm_synapse``): ``pcm`` is the
        trainer's :class:`ostl.hardware.pcm.loop.PCMWeights`, pushed into the synapses when the
        simulation is built and updated from them after every trial."""
        from .pcm_synapses import check_pcm_supported

        check_pcm_supported(pcm)
        self.pcm = pcm
        self._sim = None

    def _simulator(self, params, steps):
        if self._sim is None or self._sim.steps != steps:
            if self._batch_trials:
                raise ParameterError(f"batches on NEST need trials of one length (the network is built for one): "
                                     f"a batch mixes {self._sim.steps} and {steps} steps; use batch_size 1")
            self._sim = NestNetwork(self.network, self.rule, params, steps, self.feedback, self.optimizer,
                                    trainable=self.trainable, threads=self.threads, pcm=self.pcm,
                                    regularisation=self.regularisation, batch_size=self.batch_size)
            if self.optimizer.name == "adam" and self.optimizer.t > 0:
                for name in self._synapse_names():
                    self._sim.set_synapse_state(name, adam_m=self.optimizer.m[name], adam_v=self.optimizer.v[name],
                                                optimizer_steps=np.full(params[name].shape, self.optimizer.t))
                for name in self._neuron_names():
                    self._sim.set_neuron_parameter_state(name, self.optimizer.m[name], self.optimizer.v[name],
                                                         np.full(params[name].shape, self.optimizer.t))
        return self._sim

    def _neuron_names(self):
        """The trainable parameters the neurons learn (the readout's bias, a layer's own parameter)."""
        return [name for name in self.trainable if name in neuron_parameter_names(self.network)]

    def _synapse_names(self):
        """The trainable parameters NEST's synapses hold."""
        return [name for name in self.trainable if name not in self._neuron_names()]

    @property
    def is_primary(self):
        """Under MPI, rank 0 writes the run's files (every rank holds the whole trainer)."""
        from . import parallel
        from .build import _nest

        return parallel.is_primary(_nest())

    def discard(self):
        """Forget the simulation (the trainer undid a diverged iteration): the next trial
        rebuilds it from the trainer's weights and optimiser state."""
        self._sim = None
        self._batch_trials = 0

    def run(self, params, trial):
        """One trial in NEST (the synapses update after a batch's last trial, :meth:`end_batch`)."""
        sim = self._simulator(params, trial.x.shape[0])
        loss, outputs = sim.run_trial(trial.x, trial.target, trial.mask)
        self._batch_trials += 1
        self._params = params   # end_batch writes what the synapses reached into it
        regularisation_loss = sim.regularisation_losses()[-1] if self.regularisation is not None else 0.0
        return SequenceResult(loss=loss, outputs=outputs, grads=None, regularisation_loss=regularisation_loss)

    def end_batch(self):
        """After a batch's trials (the synapses applied the average of their gradients at the end
        of the last): the weights and optimiser state they reached into the trainer's parameters
        and optimiser."""
        if self._batch_trials != self.batch_size:
            raise ParameterError(f"a batch on NEST has {self.batch_size} trials (the synapses count them), "
                                 f"got {self._batch_trials}")
        self._batch_trials = 0
        sim, params = self._sim, self._params
        # everything the trainer keeps, in one status read per projection
        adam = self.optimizer.name == "adam"
        keys = ["weight"] + (["adam_m", "adam_v"] if adam else []) + (list(sim.PCM_KEYS) if self.pcm else [])
        read = sim.read_back(self._synapse_names(), keys)
        if adam:
            self.optimizer.t += 1
        for name in self._neuron_names():   # the neurons' own
            state = sim.neuron_parameter_state(name, adam)
            params[name][...] = state["value"]
            if adam:
                self.optimizer.m[name], self.optimizer.v[name] = state["adam_m"], state["adam_v"]
        for name in self._synapse_names():
            rows, cols, values = read[name]
            params[name][rows, cols] = np.asarray(values["weight"], dtype=float)
            if adam:
                for key, store in (("adam_m", self.optimizer.m), ("adam_v", self.optimizer.v)):
                    matrix = np.zeros(params[name].shape)
                    matrix[rows, cols] = np.asarray(values[key], dtype=float)
                    store[name] = matrix
        if self.pcm is not None:
            sim.pull_pcm(read)

