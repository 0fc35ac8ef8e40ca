"""Named kinds and their specs: the one helper behind every ``make_X(spec)`` factory and every
``spec()`` of ostl.

A *spec* is JSON-able data that rebuilds an object: ``make_cell({"kind": "lif", "tau_m": 20.0})``
and ``cell.spec()`` are inverses. :class:`Specified` derives ``spec()`` from the constructor's
signature (each argument as the instance holds it, nested objects as their own specs), so a
class declares its parameters once, in ``__init__``. :class:`Registry` maps names to classes
and builds an object from a name, a spec dict or an instance, with one set of error messages.
:func:`make_dataclass` does the same for configuration dataclasses.
"""

from __future__ import annotations

import dataclasses
import inspect

from .errors import ParameterError
from .validation import is_known


def to_spec(value):
    """``value`` as spec data: an object with ``spec()`` becomes its spec, lists and tuples
    become lists of specs, anything else stays."""
    if hasattr(value, "spec") and callable(value.spec) and not isinstance(value, type):
        return value.spec()
    if isinstance(value, (list, tuple)):
        return [to_spec(item) for item in value]
    return value


class Specified:
    """Mixin: :meth:`spec` is the kind's name under :attr:`spec_key` plus the constructor's
    arguments as the instance holds them.

    Attributes
    ----------
    spec_key : str or None
        The key that names the kind in a spec (``'name'``, ``'kind'``, ``'type'``; None: no key),
        read from the class attribute of the same name unless :attr:`spec_kind` says otherwise.
    spec_kind : str, optional
        The value under :attr:`spec_key` when it is not the class attribute ``spec_key``.
    spec_attributes : dict
        Constructor argument -> the attribute that holds it, where the names differ.
    spec_omitted_when_none : tuple
        Arguments left out of the spec while they are None.
    """

    spec_key = "name"
    spec_kind = None
    spec_attributes = {}
    spec_omitted_when_none = ()

    @classmethod
    def spec_arguments(cls):
        """The constructor's argument names, in order."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return tuple(p.name for p in parameters if p.name != "self"
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def spec(self):
        """A JSON-able description; the class's factory rebuilds an equal object from it."""
        spec = {}
        if self.spec_key is not None:
            spec[self.spec_key] = self.spec_kind if self.spec_kind is not None else getattr(self, self.spec_key)
        for argument in self.spec_arguments():
            value = getattr(self, self.spec_attributes.get(argument, argument))
            if value is None and argument in self.spec_omitted_when_none:
                continue
            spec[argument] = to_spec(value)
        return spec


class ValueBySpec(Specified):
    """:class:`Specified` whose equality, hash and ``repr`` follow from the spec (cells,
    pseudo-derivatives, activations: two with the same parameters are the same)."""

    def __eq__(self, other):
        """Equal kinds with equal specs."""
        return isinstance(other, ValueBySpec) and type(other).spec_key == self.spec_key and \
            self.spec() == other.spec()

    def __hash__(self):
        """The hash of the spec."""
        return hash(repr(self.spec()))

    def __repr__(self):
        """``Class(argument=value, ...)`` from the spec."""
        arguments = {k: v for k, v in self.spec().items() if k != self.spec_key}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


class Registry(dict):
    """``{name: class}`` of one family of kinds, and :meth:`make` to build one.

    Parameters
    ----------
    family : str
        How errors name a spec of this family (``'cell'``, ``'pseudo'``, ...).
    key : str
        The spec key that names the kind (and the class attribute holding a class's name).
    base : type, optional
        Instances of ``base`` are accepted as they are.
    names_only : bool
        Specs may be a bare name (``"lif"``) as well as a dict.
    """

    def __init__(self, family, key="name", base=None, names_only=True):
        super().__init__()
        self.family, self.key, self.base, self.names_only = family, key, base, names_only

    def register(self, cls, name=None):
        """Add ``cls`` under ``name`` (default: its ``key`` attribute); returns ``cls``."""
        self[getattr(cls, self.key) if name is None else name] = cls
        return cls

    def names(self):
        """The registered names, sorted."""
        return sorted(self)

    def make(self, spec, parameter=None, allowed=None):
        """Build a kind from an instance, a name or a spec dict (``{key: name, **arguments}``).

        ``parameter`` names the argument in errors (default: the family); ``allowed`` restricts
        the names. Every error is a :class:`~ostl.errors.ParameterError` naming the parameter
        and the allowed values."""
        parameter = parameter or self.family
        names = self if allowed is None else allowed
        if self.base is not None and isinstance(spec, self.base):
            kind = getattr(spec, "spec_kind", None) or getattr(spec, self.key, None)
            if allowed is not None and kind not in allowed:
                raise ParameterError(f"{parameter} must be one of {_listed(names)}, got {kind!r}")
            return spec
        if self.names_only and isinstance(spec, str):
            spec = {self.key: spec}
        if not isinstance(spec, dict) or self.key not in spec:
            shape = f"a name or a dict with {self.key!r}" if self.names_only else f"a dict with {self.key!r}"
            raise ParameterError(f"{parameter} must be {shape}, got {spec!r}")
        spec = dict(spec)
        name = spec.pop(self.key)
        if not is_known(name, names) or not is_known(name, self):
            raise ParameterError(f"{parameter} must be one of {_listed(names)}, got {name!r}")
        try:
            return self[name](**spec)
        except TypeError as exc:
            raise ParameterError(f"{parameter} {name!r}: {exc}") from None


def _listed(names):
    return ", ".join(repr(n) for n in sorted(names))


def make_dataclass(cls, spec, parameter, kind=None):
    """A configuration dataclass ``cls`` from an instance, None (the defaults) or a dict; an
    unknown key is refused naming the known ones. ``kind``: the value a spec's ``'kind'`` key
    must have (the key is optional)."""
    if isinstance(spec, cls):
        return spec
    spec = dict(spec or {})
    if kind is not None:
        given = spec.pop("kind", kind)
        if given != kind:
            raise ParameterError(f"{parameter} kind must be {kind!r}, got {given!r}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ParameterError(f"unknown {parameter} settings {', '.join(unknown)}; known: {', '.join(known)}")
    return cls(**spec)
