"""Synapse models whose weights live on hardware devices, discovered through the
``ostl.synapses`` entry-point group (``ostl train --synapses NAME``).

The core names no device. A package declares a :class:`SynapsePlugin` in its metadata::

    [options.entry_points]
    ostl.synapses =
        pcm = ostl.hardware.pcm.plugin:PLUGIN

A plugin is light data: its name, one line of help, the class that holds the weights on the
devices (a :class:`HardwareWeights` subclass, imported on use), the options it adds to
``ostl train`` (their ``keyword`` is a field of its configuration) and the sub-commands it adds
to ``ostl``. Plain float weights are no plugin: ``synapses=None``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .entry_points import load_group
from .errors import BackendUnavailableError, ParameterError

ENTRY_POINT_GROUP = "ostl.synapses"
#: the synapse kind of plain float weights (no plugin)
FLOAT = "float"


@dataclass(frozen=True)
class SynapsePlugin:
    """The entry-point object of a synapse model.

    Parameters
    ----------
    name : str
        As in ``ostl train --synapses NAME`` and a configuration's ``kind``.
    weights : str
        ``"package.module:Class"``, the :class:`HardwareWeights` subclass.
    summary : str
        One line of help.
    options : tuple of :class:`~ostl.options.Option`
        Options it adds to ``ostl train``; each ``keyword`` is a configuration field.
    commands : tuple of :class:`~ostl.options.Command`
        Sub-commands it adds to ``ostl``.
    install_hint : str
        What to install when the weights class does not import.
    """

    name: str
    weights: str
    summary: str
    options: tuple = field(default_factory=tuple)
    commands: tuple = field(default_factory=tuple)
    install_hint: str = ""

    def load(self):
        """The :class:`HardwareWeights` subclass."""
        module_name, _, attribute = self.weights.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f": {self.install_hint}" if self.install_hint else ""
            raise BackendUnavailableError(f"synapses {self.name!r} are not available in this installation "
                                          f"({exc}){hint}") from None
        return getattr(module, attribute)

    def config_from(self, values):
        """The configuration fields set among ``values`` (a dict of option dests, e.g. parsed
        command-line arguments)."""
        return {option.name: values[option.dest] for option in self.options if values.get(option.dest) is not None}


def plugins():
    """``{name: SynapsePlugin}`` of every installed synapse model."""
    return load_group(ENTRY_POINT_GROUP, SynapsePlugin)


def kinds():
    """The ``--synapses`` choices: ``'float'`` and every installed synapse model."""
    return (FLOAT, *sorted(plugins()))


def plugin_for(spec):
    """The plugin of a synapse configuration (a dict, or a configuration object with ``spec()``):
    the one its ``kind`` names, or, with no kind, the one installed synapse model."""
    if hasattr(spec, "spec"):
        spec = spec.spec()
    available = plugins()
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind is None:
        if len(available) != 1:
            raise ParameterError(f"synapses needs a 'kind', one of {', '.join(repr(n) for n in sorted(available))}")
        return next(iter(available.values()))
    if kind not in available:
        raise ParameterError(f"synapses kind must be one of {', '.join(repr(n) for n in sorted(available))}, "
                             f"got {kind!r}")
    return available[kind]


class HardwareWeights:
    """Base class of weights on hardware devices: what the trainer and ``ostl train`` call.

    The trainer builds one per run, ``cls(network, params, feedback, config, seed=..., state=...)``
    (``state``: a saved :meth:`state_dict` to restore instead of programming the devices), after
    :meth:`check` has accepted the run.
    """

    @classmethod
    def make_config(cls, spec):
        """The configuration object (with ``spec()``) from a dict, None or itself."""
        raise NotImplementedError

    @classmethod
    def check(cls, config, backend, capabilities, mode, feedback):
        """Refuse (:class:`~ostl.errors.ParameterError`) a run these synapses cannot serve:
        on backend ``backend`` (its :class:`~ostl.backends.Capabilities`), in ``mode``, with the
        rule's ``feedback`` matrices. The default accepts every run."""

    def nominal(self):
        """The weights as programmed: ``{name: array}`` (the trainer's parameters start there)."""
        raise NotImplementedError

    def run_trial(self, backend, params, trial):
        """Run one trial on ``backend`` with the weights as the devices read them."""
        raise NotImplementedError

    def apply(self, optimizer, params, grads):
        """Program the optimiser's update of ``grads`` into the devices; ``params`` follow."""
        raise NotImplementedError

    def current_params(self, params):
        """``params`` with the weights as the devices read them now."""
        raise NotImplementedError

    def state_dict(self):
        """The devices' state (a dict of arrays) for checkpoints."""
        raise NotImplementedError

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`."""
        raise NotImplementedError

    def summary(self):
        """What ``ostl train --summary-json`` records of the synapses (JSON-able)."""
        return {"config": self.config.spec()}

    def report(self):
        """One line for the end of ``ostl train``, or None."""
        return None

    def plot(self, directory):
        """Write a figure of the devices into ``directory``; returns its path, or None."""
        return None
