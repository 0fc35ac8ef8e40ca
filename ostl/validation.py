"""Small, uniform checks for user-facing parameters.

All helpers raise :class:`ostl.errors.ParameterError` with a message of the form
``"<name> must be <rule>, got <value>"`` so that errors read the same everywhere.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import ParameterError


def _fmt(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


def check_real(name, value):
    """``value`` is a finite real number; returns it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {_fmt(value)}")
    return value


def check_range(name, value, low=None, high=None, low_closed=True, high_closed=True):
    """``value`` lies in the interval given by ``low``/``high`` (None = unbounded)."""
    value = check_real(name, value)
    ok = True
    if low is not None:
        ok &= value >= low if low_closed else value > low
    if high is not None:
        ok &= value <= high if high_closed else value < high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("[" if low_closed and low is not None else "(") + f"{lo}, {hi}" + (
            "]" if high_closed and high is not None else ")")
        raise ParameterError(f"{name} must be in {interval}, got {_fmt(value)}")
    return value


def check_positive(name, value):
    """``value`` if it is a number in (0, inf), else a ParameterError naming ``name``."""
    return check_range(name, value, 0.0, None, low_closed=False)


def check_nonnegative(name, value):
    """``value`` if it is a number in [0, inf), else a ParameterError naming ``name``."""
    return check_range(name, value, 0.0, None)


def check_unit_interval_open(name, value):
    """``value`` in [0, 1): decays, leaks."""
    return check_range(name, value, 0.0, 1.0, high_closed=False)


#: the largest count, size or seed any parameter takes (2^31 - 1): larger values are refused
#: by name rather than failing deep inside NumPy
MAX_INT = 2**31 - 1


def check_int(name, value, minimum=None, maximum=MAX_INT):
    """``value`` as an int if it is an integer in [minimum, maximum], else a ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum}, got {value}")
    return value


def is_known(value, choices):
    """``value in choices``, False for an unhashable value (a list, dict or array is no choice)."""
    try:
        return value in choices
    except TypeError:
        return False


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices``, else a ParameterError listing them."""
    if not is_known(value, choices):
        allowed = ", ".join(repr(c) for c in sorted(choices))
        raise ParameterError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_array(name, value, shape, allow_nan=False):
    """``value`` converts to a float64 array of ``shape`` (None entries match any size)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a numeric array, got {type(value).__name__}") from None
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ParameterError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must contain only finite values (found NaN or inf)")
    return arr
