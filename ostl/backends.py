"""Training backends, discovered through the ``ostl.backends`` entry-point group.

The core knows no simulator by name. A package that can run trials for
:class:`ostl.training.Trainer` declares a :class:`BackendPlugin` in its metadata::

    [options.entry_points]
    ostl.backends =
        brian2 = brian2_ostl.plugin:PLUGIN

A plugin is a light description (importing it imports no simulator): its name, one line
of help, the command-line options it adds to ``ostl train``, the sub-commands it adds to
``ostl`` and how to install what it needs. :meth:`BackendPlugin.load` imports the backend class itself, which implements

``__init__(network, rule, mode, feedback, trainable=None, optimizer=None, params=None, **options)``
    refuse what it cannot run (``ParameterError``) before anything is simulated;
``run(params, trial)``
    one trial, returning :class:`ostl.online.SequenceResult`;
``trainable_parameters(network)`` (class method)
    what the backend can learn in ``network`` (``None``: every parameter);
``default_batch_size`` (class attribute, optional)
    the batch size it trains with when the user gives none (``None``: the task's).

The reference engine is itself such a plugin (:data:`REFERENCE`), always available.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import metadata

from .errors import BackendUnavailableError, ParameterError
from .validation import is_known

ENTRY_POINT_GROUP = "ostl.backends"


@dataclass(frozen=True)
class Option:
    """A command-line option a backend adds to ``ostl train`` (``dest`` is the keyword the
    backend's constructor receives)."""

    flag: str
    dest: str
    help: str
    type: type = str
    choices: tuple = None
    metavar: str = None
    validate: object = None   # callable(value) -> value, raising ParameterError
    flag_only: bool = False   # a switch (store_true) rather than an option with a value

    def add_to(self, parser):
        if self.flag_only:
            parser.add_argument(self.flag, dest=self.dest, action="store_true", help=self.help)
            return
        kwargs = {"dest": self.dest, "default": None, "help": self.help, "type": self.type}
        if self.choices is not None:
            kwargs["choices"] = list(self.choices)
        if self.metavar is not None:
            kwargs["metavar"] = self.metavar
        parser.add_argument(self.flag, **kwargs)


@dataclass(frozen=True)
class Command:
    """A sub-command a plugin adds to ``ostl`` (e.g. ``ostl build-nest``): ``function``
    ("module:function") is called with the parsed arguments and returns the exit status."""

    name: str
    help: str
    function: str
    options: tuple = field(default_factory=tuple)

    def run(self, args):
        module_name, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module_name), attribute)(args)


@dataclass(frozen=True)
class BackendPlugin:
    """The entry-point object of a training backend (see module docstring)."""

    name: str
    factory: str                  # "package.module:Class"
    summary: str
    install_hint: str = ""
    options: tuple = field(default_factory=tuple)
    commands: tuple = field(default_factory=tuple)

    def load(self):
        """The backend class; :class:`BackendUnavailableError` if its simulator is missing."""
        module_name, _, attribute = self.factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f": {self.install_hint}" if self.install_hint else ""
            raise BackendUnavailableError(f"backend {self.name!r} is not available in this installation "
                                          f"({exc}){hint}") from None
        return getattr(module, attribute)

    def options_from(self, values):
        """The constructor keywords of this backend among ``values`` (a dict of option
        dests, e.g. parsed command-line arguments), validated."""
        out = {}
        for option in self.options:
            value = values.get(option.dest)
            if value is not None:
                out[option.dest] = option.validate(value) if option.validate else value
        return out


REFERENCE = BackendPlugin("reference", "ostl.training:ReferenceBackend", "the NumPy reference engine (default)")


def plugins():
    """``{name: BackendPlugin}``: the reference engine and every installed plugin."""
    found = {REFERENCE.name: REFERENCE}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found:
            continue
        try:
            plugin = entry.load()
        except ImportError:   # a plugin whose package is broken is not offered
            continue
        if not isinstance(plugin, BackendPlugin) or plugin.name != entry.name:
            raise BackendUnavailableError(f"entry point {entry.name!r} of group {ENTRY_POINT_GROUP!r} must name a "
                                          f"BackendPlugin called {entry.name!r}, got {plugin!r}")
        found[entry.name] = plugin
    return found


def get_plugin(name):
    """The plugin called ``name``; a ``ParameterError`` lists the installed ones."""
    available = plugins()
    if not is_known(name, available):
        raise ParameterError(f"backend must be one of {', '.join(repr(n) for n in sorted(available))}, got {name!r}")
    return available[name]


def make_backend(name, batch_size=1, **kwargs):
    """Construct the backend ``name`` with the trainer's keywords (and its own options); a backend
    that sums a batch's trials itself (``accumulates_batches``) is also told the batch size."""
    cls = get_plugin(name).load()
    if getattr(cls, "accumulates_batches", False):
        kwargs["batch_size"] = batch_size
    return cls(**kwargs)
