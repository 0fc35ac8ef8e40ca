"""The contract between :class:`ostl.training.Trainer` and a training backend: :class:`Backend`
declares every hook the trainer calls, each with its default, and the backend's
:class:`~ostl.backends.capabilities.Capabilities` (data, checked before the backend is built)."""

from __future__ import annotations

from ..errors import ParameterError
from .capabilities import Capabilities


class _Declared:
    """A class attribute read from the backend's capabilities (one declaration, two names)."""

    def __init__(self, field):
        self.field = field

    def __get__(self, instance, owner):
        return getattr(owner.capabilities, self.field)


class Backend:
    """Base class of training backends (see ``docs/backends.md``, "Adding a backend").

    The trainer builds a backend once per run, with keywords only::

        Backend(network=..., rule=..., mode=..., feedback=..., trainable=..., optimizer=...,
                params=..., batch_size=..., **options)

    ``options`` are the backend's own (its plugin's command-line options fill them). A
    subclass refuses what it cannot run (:class:`~ostl.errors.ParameterError`) in its
    constructor, before anything is simulated; what its :attr:`capabilities` declare the
    trainer has already checked. It overrides :meth:`run`, and the other hooks where their
    default does not fit.

    Attributes
    ----------
    name : str
        The backend's name (as in ``ostl train --backend``).
    capabilities : Capabilities
        What it can train (the same object its plugin declares).
    """

    name = None
    capabilities = Capabilities()
    #: the batch size when the user gives none (``capabilities.default_batch_size``)
    default_batch_size = _Declared("default_batch_size")
    #: the optimiser when the user names none (``capabilities.default_optimizer``)
    default_optimizer = _Declared("default_optimizer")
    #: the backend applies the optimiser itself (``capabilities.applies_updates``)
    applies_updates = _Declared("applies_updates")

    @classmethod
    def trainable_parameters(cls, network):
        """The parameter names the backend learns in ``network`` (None: every parameter)."""
        return None

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1):
        self.network, self.rule, self.mode, self.feedback = network, rule, mode, feedback
        self.trainable, self.optimizer, self.params, self.batch_size = trainable, optimizer, params, batch_size

    def run(self, params, trial):
        """Run one trial with ``params`` (the trainer's dict) and return its
        :class:`ostl.online.SequenceResult`: the loss, the readout's outputs and, unless the
        backend applies updates itself, the rule's gradient. A backend that applies updates
        leaves the weights it reached in ``params`` (in place)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(params, trial)")

    def end_batch(self):
        """Called after every batch's trials. A backend whose batches are ``'accumulate'`` writes
        its update back here; the default does nothing."""

    def attach_synapses(self, synapses):
        """The trainer's weights live on hardware synapses (``synapses``, e.g.
        :class:`ostl.hardware.pcm.loop.PCMWeights`). A backend that returns gradients needs
        nothing (the trainer programs the devices); one that applies updates itself must hold the
        devices and override this."""
        if self.capabilities.applies_updates:
            raise ParameterError(f"{type(self).__name__} applies updates itself but does not implement "
                                 "attach_synapses")

    @property
    def is_primary(self):
        """Whether this process writes the run's files (checkpoints, summaries, plots, progress).
        A backend that runs one training over several processes (NEST under MPI, each process
        holding the same trainer) answers True on one of them; the default: True."""
        return True

    def state_dict(self):
        """The state the backend keeps itself (e.g. a chip's weight words), saved in checkpoints:
        a dict of arrays, or None (the default: nothing beyond the trainer's weights)."""
        return None

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (resuming a run, undoing a diverged iteration)."""

    def discard(self):
        """Forget any simulation built from the weights: the trainer undid a diverged iteration,
        so the next trial must start from the trainer's weights and optimiser state."""
