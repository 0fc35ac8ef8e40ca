"""Elementwise activation functions with their derivatives.

Used as the SNU input activation ``g`` (identity, ReLU, leaky ReLU), as the sSNU
output ``h = sigmoid``, and in stateless dense layers. Each function is written once
against :mod:`ostl.ops` so that NumPy and autodiff evaluate the same formula; the
derivative at the kink of ReLU / leaky ReLU is the left one (``0`` / ``alpha``),
matching what autodiff returns for ``where(x > 0, x, alpha * x)``.
"""

from __future__ import annotations

import numpy as np

from .precision import real_dtype
from .registry import Registry, ValueBySpec
from .validation import check_range


class Activation(ValueBySpec):
    """Base class: ``value(ops, x)`` (any ops namespace) and ``derivative(x)`` (NumPy); the
    constructor's arguments are the spec (:class:`ostl.registry.Specified`)."""

    name = None

    def value(self, ops, x):
        """The activation at ``x``, written against ``ops`` (:mod:`ostl.ops`)."""
        raise NotImplementedError

    def derivative(self, x):
        """NumPy derivative at ``x`` (the pre-activation)."""
        raise NotImplementedError


class Identity(Activation):
    """``g(x) = x``."""

    name = "identity"

    def value(self, ops, x):
        """``x``."""
        return x

    def derivative(self, x):
        """``1``."""
        return np.ones_like(x)


class ReLU(Activation):
    """``g(x) = max(x, 0)``; derivative 0 at the kink."""

    name = "relu"

    def value(self, ops, x):
        """``max(x, 0)``."""
        return ops.where(x > 0, x, 0.0 * x)

    def derivative(self, x):
        """``1`` where ``x > 0``, else ``0``."""
        return (x > 0).astype(real_dtype(x))


class LeakyReLU(Activation):
    """``g(x) = x`` for ``x > 0``, else ``alpha x``; derivative ``alpha`` at the kink."""

    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        self.alpha = check_range("leaky_relu alpha", alpha, 0.0, 1.0, high_closed=False)


    def value(self, ops, x):
        """``x`` where ``x > 0``, else ``alpha x``."""
        return ops.where(x > 0, x, self.alpha * x)

    def derivative(self, x):
        """``1`` where ``x > 0``, else ``alpha``."""
        return np.where(x > 0, 1.0, self.alpha).astype(getattr(x, "dtype", np.float64), copy=False)


class Sigmoid(Activation):
    """``g(x) = 1 / (1 + exp(-x))``."""

    name = "sigmoid"

    def value(self, ops, x):
        """The logistic sigmoid of ``x``."""
        return ops.sigmoid(x)

    def derivative(self, x):
        """``s (1 - s)`` with ``s`` the sigmoid of ``x``."""
        from .ops import NUMPY

        s = NUMPY.sigmoid(x)
        return s * (1.0 - s)


class Tanh(Activation):
    """``g(x) = tanh(x)``."""

    name = "tanh"

    def value(self, ops, x):
        """``tanh(x)``."""
        return ops.tanh(x)

    def derivative(self, x):
        """``1 - tanh(x)^2``."""
        t = np.tanh(x)
        return 1.0 - t * t


#: the activation functions, by name
ACTIVATIONS = Registry("activation", base=Activation)
for _activation in (Identity, ReLU, LeakyReLU, Sigmoid, Tanh):
    ACTIVATIONS.register(_activation)


def make_activation(spec, parameter="activation", allowed=None):
    """Build an activation from a name, a spec dict or an instance.

    ``allowed`` restricts the names (e.g. the SNU input activation ``g`` admits only
    identity, relu and leaky_relu); ``parameter`` names the argument in errors.
    """
    return ACTIVATIONS.make(spec, parameter, allowed)
