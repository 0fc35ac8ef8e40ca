"""Elementwise activation functions with their derivatives.

Used as the SNU input activation ``g`` (identity, ReLU, leaky ReLU), as the sSNU
output ``h = sigmoid``, and in stateless dense layers. Each function is written once
against :mod:`ostl.ops` so that NumPy and autodiff evaluate the same formula; the
derivative at the kink of ReLU / leaky ReLU is the left one (``0`` / ``alpha``),
matching what autodiff returns for ``where(x > 0, x, alpha * x)``.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .validation import check_range, is_known


class Activation:
    name = None

    def value(self, ops, x):
        raise NotImplementedError

    def derivative(self, x):
        """NumPy derivative at ``x`` (the pre-activation)."""
        raise NotImplementedError

    def spec(self):
        return {"name": self.name, **self._params()}

    def _params(self):
        return {}

    def __eq__(self, other):
        return isinstance(other, Activation) and self.spec() == other.spec()

    def __hash__(self):
        return hash(tuple(sorted(self.spec().items())))

    def __repr__(self):
        return f"{type(self).__name__}({self._params() or ''})"


class Identity(Activation):
    name = "identity"

    def value(self, ops, x):
        return x

    def derivative(self, x):
        return np.ones_like(x)


class ReLU(Activation):
    name = "relu"

    def value(self, ops, x):
        return ops.where(x > 0, x, 0.0 * x)

    def derivative(self, x):
        return (x > 0).astype(np.float64)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        self.alpha = check_range("leaky_relu alpha", alpha, 0.0, 1.0, high_closed=False)

    def _params(self):
        return {"alpha": self.alpha}

    def value(self, ops, x):
        return ops.where(x > 0, x, self.alpha * x)

    def derivative(self, x):
        return np.where(x > 0, 1.0, self.alpha)


class Sigmoid(Activation):
    name = "sigmoid"

    def value(self, ops, x):
        return ops.sigmoid(x)

    def derivative(self, x):
        from .ops import NUMPY

        s = NUMPY.sigmoid(x)
        return s * (1.0 - s)


class Tanh(Activation):
    name = "tanh"

    def value(self, ops, x):
        return ops.tanh(x)

    def derivative(self, x):
        t = np.tanh(x)
        return 1.0 - t * t


ACTIVATIONS = {cls.name: cls for cls in (Identity, ReLU, LeakyReLU, Sigmoid, Tanh)}


def make_activation(spec, parameter="activation", allowed=None):
    """Build an activation from a name, a spec dict or an instance.

    ``allowed`` restricts the names (e.g. the SNU input activation ``g`` admits only
    identity, relu and leaky_relu); ``parameter`` names the argument in errors.
    """
    if isinstance(spec, Activation):
        obj = spec
    else:
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict) or "name" not in spec:
            raise ParameterError(f"{parameter} must be a name or a dict with 'name', got {spec!r}")
        spec = dict(spec)
        name = spec.pop("name")
        names = allowed if allowed is not None else ACTIVATIONS
        if not is_known(name, names) or not is_known(name, ACTIVATIONS):
            raise ParameterError(
                f"{parameter} must be one of {', '.join(repr(n) for n in sorted(names))}, got {name!r}")
        try:
            obj = ACTIVATIONS[name](**spec)
        except TypeError as exc:
            raise ParameterError(f"{parameter} {name!r}: {exc}") from None
    if allowed is not None and obj.name not in allowed:
        raise ParameterError(
            f"{parameter} must be one of {', '.join(repr(n) for n in sorted(allowed))}, got {obj.name!r}")
    return obj
