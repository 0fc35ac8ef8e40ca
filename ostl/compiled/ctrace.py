"""C expressions traced from the reference definitions.

A cell's :meth:`~ostl.cells.Cell.update` and :meth:`~ostl.cells.Cell.output_value` are written
against the array interface of :mod:`ostl.ops`. Evaluated on :class:`CExpr` values with
:data:`C_OPS` they return C expressions instead of arrays: every ``+ - * /`` in the order Python
evaluates it, every constant as an exact hexadecimal literal, every nonlinearity as the same
formula NumPy evaluates (:meth:`CodeOps.sigmoid` is :meth:`ostl.ops.NumpyOps.sigmoid`'s stable
branch). The C compiler is told to keep that order (``-ffp-contract=off``, no fast math), so the
compiled step does the reference's arithmetic operation for operation; only ``exp``/``tanh``/
``log`` come from the C library instead of NumPy's (they may differ in the last bit).
"""

from __future__ import annotations

import numbers


def literal(value):
    """A C constant of a real number: its exact double (``float.hex``) converted to the kernel's
    ``real`` type, as NumPy converts a Python number to the array's precision."""
    if isinstance(value, CExpr):
        return value
    if isinstance(value, bool):
        value = 1.0 if value else 0.0
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"constant {value} has no C literal here")
        return CExpr(f"((real){value.hex()})")
    raise TypeError(f"cannot trace {type(value).__name__} into C")


class CExpr:
    """A C expression of the kernel's type ``real`` (or a condition), fully parenthesised."""

    __array_ufunc__ = None   # NumPy scalars defer to the reflected operators below

    def __init__(self, text):
        self.text = text

    def __str__(self):
        """The C text."""
        return self.text

    def __repr__(self):
        """``CExpr('...')``."""
        return f"CExpr({self.text!r})"

    def _binary(self, other, op, reflected=False):
        other = literal(other)
        left, right = (other, self) if reflected else (self, other)
        return CExpr(f"({left} {op} {right})")

    def __add__(self, other):
        """``self + other``."""
        return self._binary(other, "+")

    def __radd__(self, other):
        """``other + self``."""
        return self._binary(other, "+", True)

    def __sub__(self, other):
        """``self - other``."""
        return self._binary(other, "-")

    def __rsub__(self, other):
        """``other - self``."""
        return self._binary(other, "-", True)

    def __mul__(self, other):
        """``self * other``."""
        return self._binary(other, "*")

    def __rmul__(self, other):
        """``other * self``."""
        return self._binary(other, "*", True)

    def __truediv__(self, other):
        """``self / other``."""
        return self._binary(other, "/")

    def __rtruediv__(self, other):
        """``other / self``."""
        return self._binary(other, "/", True)

    def __neg__(self):
        """``-self``."""
        return CExpr(f"(-{self})")

    def __pow__(self, other):
        """``pow(self, other)``."""
        return CExpr(f"pow({self}, {literal(other)})")

    def __gt__(self, other):
        """The condition ``self > other``."""
        return self._binary(other, ">")

    def __ge__(self, other):
        """The condition ``self >= other``."""
        return self._binary(other, ">=")

    def __lt__(self, other):
        """The condition ``self < other``."""
        return self._binary(other, "<")

    def __le__(self, other):
        """The condition ``self <= other``."""
        return self._binary(other, "<=")

    def __bool__(self):
        """Refused: tracing cannot follow a branch in Python."""
        raise TypeError("a traced value has no truth value: the cell's arithmetic must not branch in Python "
                        "(use ops.where)")


class CodeOps:
    """The :mod:`ostl.ops` interface, evaluated into C expressions."""

    name = "c"

    @staticmethod
    def heaviside(x, pseudo):
        """``x > 0`` as 1 / 0 (NaN: 0, as NumPy's comparison)."""
        return CExpr(f"(({x} > 0) ? ((real)1) : ((real)0))")

    @staticmethod
    def asarray(x):
        """A value as a C expression."""
        return literal(x)

    @staticmethod
    def abs(x):
        """``fabs``."""
        return CExpr(f"fabs({literal(x)})")

    @staticmethod
    def tanh(x):
        """``tanh`` (the C library's)."""
        return CExpr(f"tanh({literal(x)})")

    @staticmethod
    def exp(x):
        """``exp`` (the C library's)."""
        return CExpr(f"exp({literal(x)})")

    @staticmethod
    def log(x):
        """``log`` (the C library's)."""
        return CExpr(f"log({literal(x)})")

    @staticmethod
    def where(cond, a, b):
        """``cond ? a : b`` (``np.where``)."""
        return CExpr(f"(({cond}) ? {literal(a)} : {literal(b)})")

    @staticmethod
    def maximum(x, value):
        """``np.maximum``: NaN in either argument gives NaN."""
        return CExpr(f"ostl_maximum({literal(x)}, {literal(value)})")

    @staticmethod
    def sigmoid(x):
        """:meth:`ostl.ops.NumpyOps.sigmoid`: ``1 / (1 + exp(-x))`` for ``x >= 0``, else
        ``exp(x) / (1 + exp(x))``."""
        return CExpr(f"ostl_sigmoid({literal(x)})")


#: the C namespace (one instance: it has no state)
C_OPS = CodeOps()

#: the helpers the traced expressions call, to precede them in a C file (after ``real``'s typedef)
HELPERS = r"""
static inline real ostl_maximum(real x, real value)
{
    if (x != x || value != value) return x + value;   /* NaN, as np.maximum */
    return x >= value ? x : value;
}

static inline real ostl_sigmoid(real x)
{
    if (x >= 0) return ((real)1) / (((real)1) + exp(-x));
    const real ex = exp(x);
    return ex / (((real)1) + ex);
}
"""
