"""Training backend ``brian2`` for :class:`ostl.training.Trainer` and ``ostl train``.

Each trial runs the network as Brian2 objects (:class:`brian2_ostl.Brian2Network`). In
deferred mode the rule's gradient comes back and the trainer's optimiser applies it (the
same code as on the reference engine); in online mode the optimiser runs inside the
simulation and its state (weights, Adam moments, step count) is read back after each
trial, so checkpoints and resumption work as on the reference engine.

The Brian2 code-generation target is chosen with ``target`` (``ostl train
--brian2-target``): ``cpp_standalone`` (default: compiled once, then every trial is a
fast run), ``numpy`` or ``cython``.
"""

from __future__ import annotations

from ostl.backends import Backend
from ostl.validation import check_choice

from .network import TARGETS, Brian2Network, check_supported
from .plugin import PLUGIN


class Brian2Backend(Backend):
    """Trials as Brian2 objects; every parameter of the network learns (weights, biases,
    thresholds)."""

    name = "brian2"
    capabilities = PLUGIN.capabilities

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1,
                 target="cpp_standalone", regularisation=None):
        check_supported(network, rule)  # refuse before anything is built
        super().__init__(network, rule, mode, feedback, trainable, optimizer, params, batch_size)
        self.target = check_choice("brian2 target", target, set(TARGETS))
        #: the firing-rate regulariser (:mod:`ostl.regularisation`), or None
        self.regularisation = regularisation
        self._net = None

    def _simulator(self, params, steps):
        if self._net is None or self._net.steps != steps:
            self._net = Brian2Network(self.network, self.rule, params, steps=steps, feedback=self.feedback,
                                      mode=self.mode, optimizer=self.optimizer if self.mode == "online" else None,
                                      target=self.target, trainable=self.trainable,
                                      regularisation=self.regularisation)
        return self._net

    def run(self, params, trial):
        """One trial in Brian2 (online mode: the weights it reached land in ``params``)."""
        net = self._simulator(params, trial.x.shape[0])
        result = net.run(trial.x, trial.target, trial.mask, params=params)
        if self.mode == "online":  # the trainer's dict holds the weights the simulation reached
            for name, value in net.params.items():
                params[name][...] = value
        return result

