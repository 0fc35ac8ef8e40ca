"""Command-line options and sub-commands that a plugin (a backend, a synapse model) adds to
``ostl``, declared once as data: the flag, the keyword it fills, its help, how a value is read
and checked, and its choices. The command line builds its parser from these declarations, so
``ostl train --help`` lists exactly what the installed plugins declare."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field

from .errors import ParameterError
from .validation import check_int, check_range


def _reader(option):
    """Argparse ``type=``: read the text as ``option.type``, check the choices, then
    ``option.validate`` it; a bad value becomes argparse's one-line error naming the flag."""

    def read(text):
        value = option.type(text)   # a ValueError is argparse's "invalid int value: 'two'"
        if option.choices is not None and value not in option.choices:
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from "
                                             f"{', '.join(repr(c) for c in option.choices)})")
        try:
            if option.minimum is not None or option.maximum is not None:
                if option.type is int:
                    value = check_int(option.flag, value, minimum=option.minimum,
                                      **({} if option.maximum is None else {"maximum": option.maximum}))
                else:
                    value = check_range(option.flag, value, option.minimum, option.maximum)
            return value if option.validate is None else option.validate(value)
        except ParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = getattr(option.type, "__name__", "value")
    return read


@dataclass(frozen=True)
class Option:
    """A command-line option.

    Parameters
    ----------
    flag : str
        The option as typed, e.g. ``"--nest-threads"`` (a name without dashes: a positional
        argument).
    dest : str
        The keyword its value fills (the backend's constructor keyword, a config field).
    help : str
        One line of help.
    type : callable
        Reads the text (``str``, ``int``, ``float``).
    choices : tuple, optional
        The allowed values (after ``type``).
    metavar : str, optional
        The value's name in the help.
    validate : callable, optional
        ``validate(value) -> value``, raising :class:`~ostl.errors.ParameterError` naming the
        flag and the allowed range; runs while the command line is read (after ``type`` and
        the choices), so a bad value is one line before anything else happens.
    flag_only : bool
        A switch (``store_true``) rather than an option with a value.
    minimum, maximum : number, optional
        The allowed range (inclusive), checked while the command line is read.
    required : bool
        The option must be given.
    default : object
        The value when the option is not given (None: not given, the owner's default).
    keyword : str, optional
        The name its owner receives the value under (a constructor keyword, a configuration
        field), where it differs from ``dest`` (``dest`` must be unique in a parser).
    """

    flag: str
    dest: str
    help: str = None
    type: type = str
    choices: tuple = None
    metavar: str = None
    validate: object = None
    flag_only: bool = False
    minimum: float = None
    maximum: float = None
    required: bool = False
    default: object = None
    keyword: str = None

    @property
    def name(self):
        """What the owner receives the value as (:attr:`keyword`, else :attr:`dest`)."""
        return self.keyword or self.dest

    def add_to(self, parser):
        """Add the option to an ``argparse`` parser (or argument group)."""
        if self.flag_only:
            parser.add_argument(self.flag, dest=self.dest, action="store_true", help=self.help)
            return
        metavar = self.metavar
        if metavar is None and self.choices is not None:
            metavar = "{" + ",".join(str(c) for c in self.choices) + "}"
        keywords = {}
        if self.flag.startswith("-"):
            keywords = {"dest": self.dest, "required": self.required}
        parser.add_argument(self.flag, default=self.default, help=self.help, type=_reader(self), metavar=metavar,
                            **keywords)


@dataclass(frozen=True)
class Command:
    """A sub-command a plugin adds to ``ostl`` (e.g. ``ostl build-nest``).

    Parameters
    ----------
    name : str
        The sub-command.
    help : str
        One line of help.
    function : str
        ``"module:function"``, called with the parsed arguments; returns the exit status.
    options : tuple of Option
        Its options.
    """

    name: str
    help: str
    function: str
    options: tuple = field(default_factory=tuple)

    def run(self, args):
        """Import and call :attr:`function` with the parsed ``args``."""
        module_name, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module_name), attribute)(args)

    def add_to(self, subparsers):
        """Add the sub-command to ``argparse`` sub-parsers."""
        parser = subparsers.add_parser(self.name, help=self.help)
        for option in self.options:
            option.add_to(parser)
        parser.set_defaults(func=self.run)
        return parser
