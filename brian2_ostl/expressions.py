"""Brian2 abstract code from the symbolic cells of :mod:`ostl.symbolic`.

:class:`Brian2Printer` prints SymPy expressions as Brian2 expressions. The abstract
element-wise functions of the derivation (the input activation, its derivative and the
pseudo-derivative) become the formulas of the cell's own activation and pseudo-derivative
objects, evaluated symbolically from their reference definitions (:func:`ostl.symbolic.concrete`);
the spike becomes ``int(x > 0)``. Floats are printed exactly (``repr``)."""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter

from ostl import symbolic
from ostl.errors import ParameterError


class Brian2Printer(StrPrinter):
    """Print an expression as Brian2 code. ``functions``: the owner object (activation
    or pseudo-derivative) of each abstract function; ``names``: symbol renames."""

    def __init__(self, functions=None, names=None):
        super().__init__({"order": "none"})
        self.functions = functions or {}
        self.names = names or {}

    def _print_Symbol(self, expr):
        return self.names.get(expr.name, expr.name)

    _print_Dummy = _print_Symbol

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        first, *rest = expr.args
        out = self._print(first)
        for arg in rest:  # max(a, b) = clip(a, b, inf): Brian2 has no max()
            out = f"clip({out}, {self._print(arg)}, inf)"
        return out

    def _print_Piecewise(self, expr):
        pieces = []
        previous = []
        for value, condition in expr.args:
            cond = "" if condition is sympy.true else f"int({self._print(condition)})"
            guard = "".join(f"*int(not ({self._print(c)}))" for c in previous)
            if value != 0:
                pieces.append(f"({self._print(value)})" + (f"*{cond}" if cond else "") + guard)
            previous.append(condition)
        return "(" + " + ".join(pieces) + ")" if pieces else "0"

    def _print_Function(self, expr):
        function = type(expr)
        (argument,) = expr.args if len(expr.args) == 1 else (None,)
        if function is symbolic.spike:
            return f"int(({self._print(argument)}) > 0)"
        if function is symbolic.sigmoid:
            return f"1/(1 + exp(-({self._print(argument)})))"
        if function in (symbolic.activation, symbolic.activation_derivative, symbolic.pseudo_derivative):
            owner = self.functions.get(function)
            if owner is None:
                raise ParameterError(f"{function.__name__} has no Brian2 translation here")
            return self._print(symbolic.concrete(function, owner, argument))
        return super()._print_Function(expr)

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_exp(self, expr):
        return f"exp({self._print(expr.args[0])})"


def number(value):
    """A constant factor as Brian2 prints it ("1.0", "0.0")."""
    return repr(float(value))
