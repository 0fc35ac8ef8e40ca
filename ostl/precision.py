"""The engine's floating-point precision: float64 (the definition) or float32 (issue 23).

In float32 the blocked evaluation (deferred mode), the forward pass and BPTT compute every
step in single precision -- parameters, inputs, states, eligibility vectors, gradient sums --
on both engines; the learner keeps its parameters in float64 and returns float64 gradients, so
the optimiser's state and the checkpoints stay float64 (mixed precision). The measured
deviation from float64 is in docs/results.md. The step-by-step evaluator (online mode,
recordings, hardware in the loop) is float64 only.
"""

from __future__ import annotations

import numpy as np

from .validation import check_choice

DTYPES = {"float64": np.float64, "float32": np.float32}


def resolve_dtype(dtype=None):
    """``'float64'`` (default) or ``'float32'`` (a name or a NumPy dtype) as a NumPy type."""
    if dtype is None:
        return np.float64
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    return DTYPES[check_choice("dtype", name, set(DTYPES))]


def real_dtype(*arrays):
    """The precision to compute ``arrays`` in: float32 if every one of them is float32 (the
    engine's ``dtype='float32'``), else float64 (the definition's)."""
    return np.float32 if all(getattr(a, "dtype", None) == np.float32 for a in arrays) else np.float64


def cast(tree, dtype):
    """Arrays in ``tree`` (dicts, tuples, lists, None) as ``dtype``, without copying arrays that
    already are."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {key: cast(value, dtype) for key, value in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(cast(value, dtype) for value in tree)
    return np.asarray(tree).astype(dtype, copy=False)
