"""What a backend can do, declared as data (:class:`Capabilities`), and the one check of a
training request against it (:meth:`Capabilities.check`).

The check has one message format:

* ``"<subject> must be <allowed> on the <backend> backend (<reason>), got <value>"`` for a
  value outside what the backend takes, and
* ``"<feature> is not available on the <backend> backend (<reason>); <who has it>"`` for a
  feature it lacks.

The declaration lives in the backend's plugin (light: importing it imports no simulator), so the
command line and the trainer check a request before any simulator is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ParameterError

#: how a backend trains a batch of trials
BATCH_KINDS = ("average", "accumulate", "single")


def refuse(backend, subject, reason, allowed=None, got=None, alternatives=None):
    """The :class:`~ostl.errors.ParameterError` of a request the ``backend`` cannot run: a value
    outside ``allowed`` (with ``got``), or, without ``allowed``, a feature it lacks
    (``alternatives``: the backends that have it)."""
    if allowed is not None:
        return ParameterError(f"{subject} must be {allowed} on the {backend} backend ({reason}), got {got!r}")
    message = f"{subject} is not available on the {backend} backend ({reason})"
    if alternatives:
        message += f"; available on: {', '.join(alternatives)}"
    return ParameterError(message)


def _one_of(values):
    values = sorted(values)
    return repr(values[0]) if len(values) == 1 else "one of " + ", ".join(repr(v) for v in values)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can train, and its defaults.

    Parameters
    ----------
    optimizers : tuple of str
        Optimiser names it runs.
    default_optimizer : str, optional
        The optimiser when the user names none (None: the task's default).
    clipping : bool
        Clipping by the global gradient norm.
    readout_lr : bool
        A readout learning rate of its own (``SGD(readout_lr=...)``).
    lr_decay : bool
        A learning-rate schedule (``decay``, ``decay_every``).
    modes : tuple of str
        ``'deferred'`` (update after the trial) and/or ``'online'`` (update at every step).
    applies_updates : bool
        The backend applies the optimiser itself (its synapses learn); the trainer must not.
    batches : str
        ``'average'``: the trainer averages the gradients the backend returns; ``'accumulate'``:
        the backend sums a batch's trials and writes back at :meth:`Backend.end_batch`;
        ``'single'``: one trial per update (batch size 1).
    default_batch_size : int, optional
        The batch size when the user gives none (None: the task's).
    synapses : tuple of str, optional
        The synapse plugins (``ostl train --synapses``) whose weights it trains besides plain
        float weights. None (the default): every one -- a backend that returns gradients leaves
        the programming of the synapses to the trainer. A backend that applies updates itself
        names the kinds it holds (and implements :meth:`Backend.attach_synapses`).
    hardware_in_the_loop : bool
        :meth:`Backend.run` takes ``feedback`` and ``params_at`` (weights read from hardware
        at every step, feedback matrices read from hardware).
    rules : tuple of str, optional
        Rule names it runs (None: every rule).
    cells : tuple of str, optional
        Cell kinds of its hidden layers (None: every cell).
    max_layers : int, optional
        The most hidden layers it runs (None: any number).
    rate_regularisation : bool
        Firing-rate regularisation (``c_reg > 0``, :mod:`ostl.regularisation`).
    weight_bounds : bool
        Weight bounds ``w_min`` / ``w_max`` of the optimiser (NEST's ``Wmin`` / ``Wmax``).
    reasons : dict
        Why a capability is missing or limited, by field name (``'rules'``, ``'cells'``,
        ``'max_layers'``, ``'optimizers'``, ``'clipping'``, ``'readout_lr'``, ``'lr_decay'``,
        ``'modes'``, ``'batches'``, ``'synapses'``, ``'hardware_in_the_loop'``,
        ``'rate_regularisation'``, ``'weight_bounds'``); part of every
        refusal.
    """

    optimizers: tuple = ("adam", "sgd")
    default_optimizer: str = None
    clipping: bool = True
    readout_lr: bool = False
    lr_decay: bool = True
    modes: tuple = ("deferred", "online")
    applies_updates: bool = False
    batches: str = "average"
    default_batch_size: int = None
    synapses: tuple = None
    hardware_in_the_loop: bool = False
    rules: tuple = None
    cells: tuple = None
    max_layers: int = None
    rate_regularisation: bool = False
    weight_bounds: bool = False
    reasons: dict = field(default_factory=dict)

    def __post_init__(self):
        """Check the batch kind."""
        if self.batches not in BATCH_KINDS:
            raise ValueError(f"batches must be one of {', '.join(BATCH_KINDS)}, got {self.batches!r}")

    def reason(self, name):
        """Why capability ``name`` is missing or limited (a default when undeclared)."""
        return self.reasons.get(name, "not implemented")

    def refuse(self, backend, name, subject, allowed=None, got=None, alternatives=None):
        """:func:`refuse` with this backend's reason for capability ``name``."""
        return refuse(backend, subject, self.reason(name), allowed, got, alternatives)

    def check(self, backend, rule=None, network=None, optimizer=None, mode=None, batch_size=None, synapses=None,
              others=None, regularisation=None):
        """Raise :class:`~ostl.errors.ParameterError` (see the module docstring) for the first
        part of the request that backend ``backend`` cannot run; every argument is optional
        (a rule, a network, an optimiser, a mode, a batch size, a synapse kind, a firing-rate
        regulariser). ``others`` (``{name: Capabilities}`` of the installed backends) names who
        has a missing feature."""
        others = others or {}
        if rule is not None and self.rules is not None and rule.name not in self.rules:
            raise self.refuse(backend, "rules", "rule", _one_of(self.rules), rule.name)
        if network is not None:
            self._check_network(backend, network)
        if optimizer is not None:
            self._check_optimizer(backend, optimizer, others)
        if mode is not None and mode not in self.modes:
            raise self.refuse(backend, "modes", "mode", _one_of(self.modes), mode)
        if batch_size is not None and self.batches == "single" and batch_size != 1:
            raise self.refuse(backend, "batches", "batch_size", "1", batch_size)
        if regularisation is not None and not self.rate_regularisation:
            raise self.refuse(backend, "rate_regularisation", "firing-rate regularisation (c_reg > 0)",
                              alternatives=_having(others, lambda c: c.rate_regularisation))
        if synapses not in (None, "float") and not self.takes_synapses(synapses):
            raise self.refuse(backend, "synapses", f"{synapses} synapses",
                              alternatives=_having(others, lambda c: c.takes_synapses(synapses)))

    def takes_synapses(self, kind):
        """Whether the backend trains weights on synapses of ``kind`` (``'float'`` always)."""
        return kind == "float" or self.synapses is None or kind in self.synapses

    def _check_network(self, backend, network):
        if self.max_layers is not None and len(network.layers) > self.max_layers:
            raise self.refuse(backend, "max_layers", "the number of hidden layers", f"at most {self.max_layers}",
                              len(network.layers))
        if self.cells is not None:
            for layer in network.layers:
                kind = getattr(getattr(layer, "cell", None), "kind", getattr(layer, "kind", None))
                if kind not in self.cells:
                    raise self.refuse(backend, "cells", "cell", _one_of(self.cells), kind)

    def _check_optimizer(self, backend, optimizer, others):
        if optimizer.name not in self.optimizers:
            raise self.refuse(backend, "optimizers", "optimizer", _one_of(self.optimizers), optimizer.name)
        if optimizer.clip is not None and not self.clipping:
            raise self.refuse(backend, "clipping", "gradient clipping",
                              alternatives=_having(others, lambda c: c.clipping))
        if optimizer.readout_lr is not None and not self.readout_lr:
            raise self.refuse(backend, "readout_lr", "a separate readout learning rate",
                              alternatives=_having(others, lambda c: c.readout_lr))
        if optimizer.bounded and not self.weight_bounds:
            raise self.refuse(backend, "weight_bounds", "weight bounds (w_min, w_max)",
                              alternatives=_having(others, lambda c: c.weight_bounds))
        if optimizer.decay is not None and not self.lr_decay:
            raise self.refuse(backend, "lr_decay", "a learning-rate decay",
                              alternatives=_having(others, lambda c: c.lr_decay))


def _having(others, predicate):
    """The backends among ``others`` (``{name: Capabilities}``) that satisfy ``predicate``."""
    return [name for name, capabilities in sorted(others.items()) if predicate(capabilities)]
