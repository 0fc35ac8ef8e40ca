"""Training backends, discovered through the ``ostl.backends`` entry-point group.

The core knows no simulator by name. A package that can run trials for
:class:`ostl.training.Trainer` declares a :class:`BackendPlugin` in its metadata::

    [options.entry_points]
    ostl.backends =
        brian2 = brian2_ostl.plugin:PLUGIN

A plugin is a light description (importing it imports no simulator): its name, one line of
help, what it can train (:class:`~ostl.backends.capabilities.Capabilities`), the command-line
options it adds to ``ostl train``, the sub-commands it adds to ``ostl`` and how to install what
it needs. :meth:`BackendPlugin.load` imports the backend class itself, a subclass of
:class:`~ostl.backends.base.Backend`. The reference engine is itself such a plugin
(:data:`REFERENCE`), always available. ``docs/backends.md`` walks through adding one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..compiled import ENGINES
from ..entry_points import load_group
from ..errors import BackendUnavailableError, ParameterError
from ..options import Option
from ..validation import is_known
from .capabilities import Capabilities

ENTRY_POINT_GROUP = "ostl.backends"


@dataclass(frozen=True)
class BackendPlugin:
    """The entry-point object of a training backend.

    Parameters
    ----------
    name : str
        As in ``ostl train --backend NAME``.
    factory : str
        ``"package.module:Class"``, the :class:`~ostl.backends.base.Backend` subclass.
    summary : str
        One line of help.
    install_hint : str
        What to install when the factory does not import.
    capabilities : Capabilities
        What the backend can train (checked before it is loaded).
    options : tuple of :class:`~ostl.options.Option`
        Options it adds to ``ostl train`` (their ``dest`` is a constructor keyword).
    commands : tuple of :class:`~ostl.options.Command`
        Sub-commands it adds to ``ostl``.
    """

    name: str
    factory: str
    summary: str
    install_hint: str = ""
    capabilities: Capabilities = field(default_factory=Capabilities)
    options: tuple = field(default_factory=tuple)
    commands: tuple = field(default_factory=tuple)

    def load(self):
        """The backend class; :class:`~ostl.errors.BackendUnavailableError` if its simulator is
        missing."""
        module_name, _, attribute = self.factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f": {self.install_hint}" if self.install_hint else ""
            raise BackendUnavailableError(f"backend {self.name!r} is not available in this installation "
                                          f"({exc}){hint}") from None
        return getattr(module, attribute)

    def options_from(self, values):
        """The constructor keywords of this backend among ``values`` (a dict of option dests,
        e.g. parsed command-line arguments, already validated by the parser)."""
        return {option.name: values[option.dest] for option in self.options if values.get(option.dest) is not None}


REFERENCE = BackendPlugin(
    "reference", "ostl.backends.reference:ReferenceBackend", "the NumPy reference engine (default)",
    # every rule, cell, optimiser, schedule and mode; weights and feedback read from hardware
    # at every step (hardware in the loop)
    capabilities=Capabilities(readout_lr=True, hardware_in_the_loop=True, rate_regularisation=True,
                              weight_bounds=True),
    options=(Option("--engine", "reference_engine", "how the reference engine's per-step loops run: 'compiled' (C "
                    "generated from the NumPy definitions; the default where a C compiler builds it) or 'numpy' "
                    "(the definition itself); equal to rounding", choices=ENGINES, keyword="engine"),
             Option("--dtype", "reference_dtype", "the reference engine's precision: float64 (default) or float32 "
                    "(deferred mode; gradients and weights kept in float64)", choices=("float64", "float32"),
                    keyword="dtype")))


def plugins():
    """``{name: BackendPlugin}``: the reference engine and every installed plugin."""
    return load_group(ENTRY_POINT_GROUP, BackendPlugin, builtin=(REFERENCE,))


def get_plugin(name):
    """The plugin called ``name``; a :class:`~ostl.errors.ParameterError` lists the installed
    ones."""
    available = plugins()
    if not is_known(name, available):
        raise ParameterError(f"backend must be one of {', '.join(repr(n) for n in sorted(available))}, got {name!r}")
    return available[name]


def check_request(name, **request):
    """Check a training request against backend ``name``'s capabilities
    (:meth:`~ostl.backends.capabilities.Capabilities.check`; a refusal names the installed backends
    that have a missing feature); returns its plugin."""
    available = plugins()
    plugin = get_plugin(name)
    others = {other: found.capabilities for other, found in available.items() if other != name}
    plugin.capabilities.check(name, others=others, **request)
    return plugin
