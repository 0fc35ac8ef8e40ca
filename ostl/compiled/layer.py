"""The compiled forward recurrence of a stateful layer over one block of steps.

For ``k = 0 .. K-1`` (:meth:`ostl.network.Layer.advance`, step by step)::

    I^k = feed^k + H y^{k-1}            (feed = W x^k, formed for the block by the caller)
    s^k = update(s^{k-1}, y^{k-1}, I^k, p)
    y^k = output(s^k, p)

The cell's ``update`` and ``output`` are traced into C from :mod:`ostl.cells`
(:mod:`ostl.compiled.ctrace`): the kernel is generated per cell configuration, compiled once
(cached by its source's hash, :mod:`ostl.cbuild`) and called once per block. ``H y^{k-1}``
adds the columns of ``H`` of the neurons with a non-zero output only (a spiking layer's
outputs are mostly zero). The NumPy loop in :func:`ostl.blocked.forward_block` stays the
definition; ``tests/test_compiled_engine.py`` holds the two equal.
"""

from __future__ import annotations

import ctypes
import json

import numpy as np

from . import ARRAY, FLAGS, address
from .ctrace import C_OPS, HELPERS, CExpr

_TEMPLATE = r"""
{helpers}
/* {description} */
void ostl_layer_block(long K, long n, const double *restrict feed, const double *restrict recurrent_weights,
                      const double *restrict neuron_param, double *restrict state, double *restrict y,
                      double *restrict state_prev_out, double *restrict state_out, double *restrict y_prev_out,
                      double *restrict y_out, double *restrict current, double *restrict recurrent_columns)
{{
    if (recurrent_weights) {{   /* H's columns contiguous: H^T, in tiles */
        for (long i0 = 0; i0 < n; i0 += 32)
            for (long j0 = 0; j0 < n; j0 += 32)
                for (long i = i0; i < i0 + 32 && i < n; ++i)
                    for (long j = j0; j < j0 + 32 && j < n; ++j)
                        recurrent_columns[j * n + i] = recurrent_weights[i * n + j];
    }}
    for (long k = 0; k < K; ++k) {{
        const double *feed_k = feed + k * n;
        for (long i = 0; i < n; ++i) current[i] = 0.0;
        if (recurrent_weights) {{
            for (long j = 0; j < n; ++j) {{
                const double y_j = y[j];
                if (y_j == 0.0) continue;
                const double *column = recurrent_columns + j * n;
                for (long i = 0; i < n; ++i) current[i] += column[i] * y_j;
            }}
            for (long i = 0; i < n; ++i) current[i] = feed_k[i] + current[i];
        }} else {{
            for (long i = 0; i < n; ++i) current[i] = feed_k[i];
        }}
        for (long i = 0; i < n; ++i) {{
            const double y_prev = y[i];
            const double input = current[i];
            const double param = neuron_param ? neuron_param[i] : 0.0;
            (void)param;
{load}
            y_prev_out[k * n + i] = y_prev;
{compute}
{store}
        }}
    }}
}}
"""


def _source(cell):
    """The C source of the block kernel for ``cell`` (its constants baked in)."""
    d = cell.state_size
    previous = tuple(CExpr(f"s{j}_prev") for j in range(d))
    param = CExpr("param") if cell.neuron_param else None
    update = cell.update(C_OPS, previous, CExpr("y_prev"), CExpr("input"), param)
    new = tuple(CExpr(f"s{j}") for j in range(d))
    output = cell.output_value(C_OPS, new, param)
    load = "\n".join(f"            const double s{j}_prev = state[{j} * n + i];\n"
                     f"            state_prev_out[({j} * K + k) * n + i] = s{j}_prev;" for j in range(d))
    compute = "\n".join(f"            const double s{j} = {update[j]};" for j in range(d))
    compute += f"\n            const double out = {output};"
    store = "\n".join(f"            state[{j} * n + i] = s{j};\n"
                      f"            state_out[({j} * K + k) * n + i] = s{j};" for j in range(d))
    store += "\n            y[i] = out;\n            y_out[k * n + i] = out;"
    description = f"cell {json.dumps(cell.spec(), sort_keys=True)}"
    return _TEMPLATE.format(helpers=HELPERS, description=description, load=load, compute=compute, store=store)


class LayerKernel:
    """The compiled block recurrence of one cell configuration."""

    def __init__(self, cell):
        from ..cbuild import shared_library

        self.cell = cell
        self.source = _source(cell)
        library = shared_library("the compiled engine", "engine", "libostl_layer.so",
                                 {"layer_block.c": self.source}, FLAGS)
        self._function = library.ostl_layer_block
        self._function.restype = None
        self._function.argtypes = [ctypes.c_long, ctypes.c_long] + [ARRAY] * 11

    def run(self, carry, feed, recurrent_weights, neuron_param):
        """Advance ``carry = (state tuple, y)`` over the block ``feed`` (K, n); returns
        ``(carry, state_prev (d, K, n), state (d, K, n), y_prev (K, n), y (K, n))``, the
        arrays :func:`ostl.blocked.forward_block` records."""
        state_prev, y_prev = carry
        K, n = feed.shape
        d = self.cell.state_size
        feed = np.ascontiguousarray(feed, dtype=np.float64)
        state = np.empty((d, n))
        for j in range(d):
            state[j] = state_prev[j]
        y = np.array(y_prev, dtype=np.float64)
        weights = None if recurrent_weights is None else np.ascontiguousarray(recurrent_weights, dtype=np.float64)
        param = None
        if self.cell.neuron_param is not None:
            param = np.ascontiguousarray(np.broadcast_to(np.asarray(neuron_param, dtype=np.float64), (n,)))
        S_prev, S = np.empty((d, K, n)), np.empty((d, K, n))
        Yp, Y = np.empty((K, n)), np.empty((K, n))
        columns = None if weights is None else np.empty((n, n))
        current = np.empty(n)   # named: an array made inside the call would be freed before the call runs
        self._function(K, n, address(feed), address(weights), address(param), address(state), address(y),
                       address(S_prev), address(S), address(Yp), address(Y), address(current),
                       address(columns))
        return (tuple(state[j].copy() for j in range(d)), y), S_prev, S, Yp, Y


_KERNELS = {}   # by the cell's spec (one build per configuration)
_BY_CELL = {}   # id(cell) -> (cell, kernel): the spec is not recomputed at every block


def layer_kernel(cell):
    """The :class:`LayerKernel` of ``cell`` (built once per configuration and process)."""
    known = _BY_CELL.get(id(cell))
    if known is not None and known[0] is cell:
        return known[1]
    key = json.dumps(cell.spec(), sort_keys=True)
    kernel = _KERNELS.get(key)
    if kernel is None:
        kernel = _KERNELS[key] = LayerKernel(cell)
    _BY_CELL[id(cell)] = (cell, kernel)
    return kernel
