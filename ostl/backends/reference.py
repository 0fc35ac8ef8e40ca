"""The reference engine as a training backend (``ostl train --backend reference``, the default):
the NumPy definition of every rule (:class:`ostl.online.OnlineLearner`), and ``rule='bptt'``
by the hand-written adjoint recursion of the same equations (:mod:`ostl.backprop`, checked against PyTorch's
autodiff)."""

from __future__ import annotations

from ..backprop import check_precision
from ..errors import ParameterError
from ..online import OnlineLearner
from ..regularisation import FiringRateRegularisation
from ..rules import make_rule
from .base import Backend
from .plugin import REFERENCE


class ReferenceBackend(Backend):
    """Runs trials on the NumPy reference engine."""

    name = "reference"
    capabilities = REFERENCE.capabilities

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1,
                 engine=None, dtype=None, regularisation=None):
        super().__init__(network, rule, mode, feedback, trainable, optimizer, params, batch_size)
        from ..compiled import resolve_engine
        from ..precision import resolve_dtype

        #: ``'compiled'`` or ``'numpy'`` (``ostl train --engine``; :mod:`ostl.compiled`)
        self.engine = resolve_engine(engine)
        #: ``ostl train --dtype`` (:mod:`ostl.precision`)
        self.dtype = resolve_dtype(dtype)
        #: the firing-rate regulariser (:mod:`ostl.regularisation`), or None
        self.regularisation = FiringRateRegularisation.make(regularisation)
        self.bptt = make_rule(rule).is_bptt
        if self.bptt:   # the autodiff gradient of the same equations (PyTorch)
            if mode != "deferred":
                raise ParameterError("rule 'bptt' computes the gradient after the sequence: mode must be 'deferred'")
            check_precision(network, self.dtype, self.regularisation)
            return
        self.learner = OnlineLearner(network, rule, params, mode=mode, optimizer=optimizer,
                                     feedback=feedback, trainable=trainable, engine=self.engine, dtype=self.dtype,
                                     regularisation=self.regularisation)

    def run(self, params, trial, feedback=None, params_at=None):
        """One trial. ``feedback`` / ``params_at``: hardware in the loop (see
        :meth:`ostl.online.OnlineLearner.run`)."""
        if self.bptt:
            if feedback is not None or params_at is not None:
                raise ParameterError("rule 'bptt' computes an exact gradient of fixed weights: it does not run with "
                                     "weights read from hardware at every step or with hardware feedback")
            from ..bptt import bptt_sequence

            return bptt_sequence(self.network, params, trial.x, trial.target, trial.mask, self.trainable,
                                 self.engine, self.dtype, self.regularisation)
        self.learner.params = params  # the trainer's dict: online updates land in it
        return self.learner.run(trial.x, trial.target, trial.mask, feedback=feedback, params_at=params_at)
