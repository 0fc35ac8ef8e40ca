"""Brian2 code strings for the elementwise functions of :mod:`ostl.activations` and
:mod:`ostl.pseudo` -- the same formulas the reference engine evaluates."""

from __future__ import annotations

from ostl.activations import Activation
from ostl.errors import ParameterError
from ostl.pseudo import FastSigmoidPseudo, PiecewiseLinearPseudo, PseudoDerivative, TanhPseudo


def _num(value):
    return repr(float(value))


def heaviside(x):
    return f"int(({x}) > 0)"


def pseudo_derivative(pseudo: PseudoDerivative, x):
    """Brian2 expression of ``psi(x)``."""
    if isinstance(pseudo, TanhPseudo):  # 1 - tanh^2 evaluated as sech^2, as in ostl.pseudo
        return f"4*exp(-2*abs({x}))/(1 + exp(-2*abs({x})))**2"
    if isinstance(pseudo, FastSigmoidPseudo):
        return f"1/({_num(pseudo.slope)}*abs({x}) + 1)**2"
    if isinstance(pseudo, PiecewiseLinearPseudo):
        return f"{_num(pseudo.gamma)}*clip(1 - abs({x}), 0, inf)"
    raise ParameterError(f"pseudo-derivative {pseudo!r} has no Brian2 translation")


def sigmoid(x):
    return f"1/(1 + exp(-({x})))"


def activation(act: Activation, x):
    """Brian2 expression of ``g(x)``."""
    if act.name == "identity":
        return f"({x})"
    if act.name == "relu":
        return f"clip({x}, 0, inf)"
    if act.name == "leaky_relu":
        return f"(({x})*int(({x}) > 0) + {_num(act.alpha)}*({x})*int(({x}) <= 0))"
    if act.name == "sigmoid":
        return sigmoid(x)
    if act.name == "tanh":
        return f"tanh({x})"
    raise ParameterError(f"activation {act.name!r} has no Brian2 translation")


def activation_derivative(act: Activation, x):
    """Brian2 expression of ``g'(x)`` (left derivative at the kink, as in ostl)."""
    if act.name == "identity":
        return "1.0"
    if act.name == "relu":
        return f"1.0*int(({x}) > 0)"
    if act.name == "leaky_relu":
        return f"(int(({x}) > 0) + {_num(act.alpha)}*int(({x}) <= 0))"
    raise ParameterError(f"activation {act.name!r} has no Brian2 derivative")
