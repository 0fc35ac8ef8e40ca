"""Pseudo-derivatives (surrogate gradients) of the Heaviside spike function.

The spike ``y = Theta(x)`` has derivative zero almost everywhere; gradient-based
rules replace ``dTheta/dx`` by a named pseudo-derivative ``psi(x)``:

=====================  ==================================  =========================
name                   psi(x)                              source
=====================  ==================================  =========================
``tanh``               ``1 - tanh(x)**2``                  OSTTP, JSB setting
``fast_sigmoid``       ``1 / (slope*|x| + 1)**2``          OSTTP, SHD (slope = 100)
``piecewise_linear``   ``gamma * max(0, 1 - |x|)``         e-prop (gamma = 0.3)
=====================  ==================================  =========================

``x`` is the argument of the Heaviside function of the cell (``s + b`` for the SNU,
``(v - A) / v_th`` for LIF/ALIF). The same formula serves the reference engine and,
through :mod:`ostl.ops`, the autodiff oracle.
"""

from __future__ import annotations

from .registry import Registry, ValueBySpec
from .validation import check_positive


class PseudoDerivative(ValueBySpec):
    """Base class: ``derivative(ops, x)``, the surrogate gradient of the Heaviside step at
    ``x``; the constructor's arguments are the spec (:class:`ostl.registry.Specified`)."""

    name = None

    def derivative(self, ops, x):
        """The pseudo-derivative at ``x``, written against ``ops`` (:mod:`ostl.ops`)."""
        raise NotImplementedError

    def __call__(self, x):
        """The pseudo-derivative at ``x`` (NumPy)."""
        from .ops import NUMPY

        return self.derivative(NUMPY, x)


class TanhPseudo(PseudoDerivative):
    """``psi(x) = 1 - tanh(x)^2`` (OSTTP, JSB).

    Evaluated as ``4 e^{-2|x|} / (1 + e^{-2|x|})^2`` (= sech^2 x), which is the same
    function without the cancellation of ``1 - tanh^2`` for large ``|x|`` and about
    twice as fast in NumPy."""

    name = "tanh"

    def derivative(self, ops, x):
        """``sech^2 x`` evaluated without cancellation."""
        e = ops.exp(-2.0 * ops.abs(x))
        d = 1.0 + e
        return 4.0 * e / (d * d)


class FastSigmoidPseudo(PseudoDerivative):
    """``psi(x) = 1 / (slope |x| + 1)^2``, the derivative of the fast sigmoid
    ``x / (1 + slope |x|)`` up to a factor; OSTTP's SHD setting uses slope 100."""

    name = "fast_sigmoid"

    def __init__(self, slope=100.0):
        self.slope = check_positive("pseudo-derivative slope", slope)


    def derivative(self, ops, x):
        """``1 / (slope |x| + 1)^2``."""
        d = self.slope * ops.abs(x) + 1.0
        return 1.0 / (d * d)


class PiecewiseLinearPseudo(PseudoDerivative):
    """``psi(x) = gamma * max(0, 1 - |x|)`` (e-prop, dampening factor gamma = 0.3)."""

    name = "piecewise_linear"

    def __init__(self, gamma=0.3):
        self.gamma = check_positive("pseudo-derivative gamma", gamma)


    def derivative(self, ops, x):
        """``gamma max(0, 1 - |x|)``."""
        return self.gamma * ops.maximum(1.0 - ops.abs(x), 0.0)


#: the pseudo-derivatives, by name
PSEUDO_DERIVATIVES = Registry("pseudo", base=PseudoDerivative)
for _pseudo in (TanhPseudo, FastSigmoidPseudo, PiecewiseLinearPseudo):
    PSEUDO_DERIVATIVES.register(_pseudo)


def make_pseudo(spec):
    """Build a pseudo-derivative from a name, a spec dict or an instance."""
    return PSEUDO_DERIVATIVES.make(spec)
