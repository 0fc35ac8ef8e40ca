"""The reference engine's compiled inner loops (issue 23).

The NumPy code of :mod:`ostl.blocked` and :mod:`ostl.online` is the definition of every rule.
Where its time goes into Python once per step, a C loop generated from the same definitions
does the steps of a block in one call:

* :mod:`ostl.compiled.layer`: the forward recurrence of a stateful layer (the cell's update
  and output traced into C from :mod:`ostl.cells`);
* :mod:`ostl.compiled.sweep`: the backward sweep of the block coefficients
  (:class:`ostl.blocked.BlockCoefficients`);
* :mod:`ostl.compiled.adjoint`: BPTT's adjoint recursion over a block;
* :mod:`ostl.compiled.traces`: one step of the diagonal eligibility traces (the step-by-step
  evaluator: online mode, recordings).

Two engines: ``"compiled"`` (the default where a host C compiler builds the kernels) and
``"numpy"`` (the definition, everywhere). ``OnlineLearner(..., engine=)``,
``Network.forward(..., engine=)`` and ``ostl train --engine`` choose; the results agree to
rounding (``tests/test_compiled_engine.py``: 1e-12 on every rule, cell and readout).
"""

from __future__ import annotations

import ctypes

from ..errors import BackendUnavailableError
from ..validation import check_choice

ENGINES = ("compiled", "numpy")

#: the kernels' compiler flags: the operations in the order written (no contraction into fused
#: multiply-adds, no fast math), so that they do the NumPy definition's arithmetic
FLAGS = ("-O3", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")

#: the ctypes argument type of an array (passed by :func:`address`)
ARRAY = ctypes.c_void_p

_available = None


#: the C type of each precision the kernels are built for (:mod:`ostl.precision`)
REALS = {"float64": "double", "float32": "float"}

_libraries = {}


def real_library(name, source, dtype, declare):
    """The kernels of ``source`` (written with ``real`` as their floating-point type) built for
    ``dtype`` (float64: ``double``, float32: ``float``, with ``<tgmath.h>`` choosing the C
    library's functions of that type); ``declare(library)`` sets the functions' ctypes
    declarations. Built once per source, precision and process (then from the disk cache);
    called once per kernel call, so the lookup comes first and costs one dictionary access."""
    known = _libraries.get((name, dtype))
    if known is not None and known[0] is source:
        return known[1]
    import numpy as np

    from ..cbuild import shared_library

    precision = np.dtype(dtype).name
    header = f"#include <tgmath.h>\ntypedef {REALS[precision]} real;\n"
    library = shared_library("the compiled engine", "engine", f"libostl_{name}_{precision}.so",
                             {f"{name}.c": header + source}, FLAGS)
    declare(library)
    _libraries[(name, dtype)] = (source, library)
    return library


def address(array):
    """The address of a C-contiguous float64 array's data for a kernel (None: a null pointer).
    Faster than ``ndarray.ctypes.data_as`` (and ``.ctypes.data``, which builds a helper object),
    but it keeps no reference: the caller must hold the array in a variable during the call
    (``address(np.empty(n))`` inside the call's arguments frees the array before the kernel
    writes to it)."""
    return None if array is None else array.__array_interface__["data"][0]   # 3x faster than .ctypes.data


def compiled_available():
    """Whether the compiled kernels build here (a host C compiler; checked once per process)."""
    global _available
    if _available is None:
        try:
            from .sweep import sweep_library

            sweep_library()
            _available = True
        except BackendUnavailableError:
            _available = False
    return _available


def choose_engine(engine, available, build):
    """``engine`` checked (``'compiled'`` or ``'numpy'``); None: ``'compiled'`` where
    ``available()``, else ``'numpy'``. Asking for ``'compiled'`` where it does not build is an
    error: ``build()`` raises the reason (no compiler, a failed build). Also for other compiled
    kernels (the BrainScaleS-2 PPU's, :mod:`ostl.hardware.brainscales2.ppu_kernel`)."""
    if engine is None:
        return "compiled" if available() else "numpy"
    engine = check_choice("engine", engine, set(ENGINES))
    if engine == "compiled" and not available():
        build()
    return engine


def resolve_engine(engine=None):
    """:func:`choose_engine` for the reference engine's kernels."""
    from .sweep import sweep_library

    return choose_engine(engine, compiled_available, sweep_library)
