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

from . import ARRAY, address, real_library
from .ctrace import C_OPS, HELPERS, CExpr

_TEMPLATE = r"""
{helpers}
/* {description} */
void ostl_layer_block(long K, long n, const real *restrict feed, const real *restrict recurrent_weights,
                      const real *restrict neuron_param, real *restrict state, real *restrict y,
                      real *restrict state_prev_out, real *restrict state_out, real *restrict y_prev_out,
                      real *restrict y_out, real *restrict current, real *restrict recurrent_columns)
{{
    if (recurrent_weights) {{   /* H's columns contiguous: H^T, in tiles */
        for (long i0 = 0; i0 < n; i0 += 32)
            for (long j0 = 0; j0 < n; j0 += 32)
                for (long i = i0; i < i0 + 32 && i < n; ++i)
                    for (long j = j0; j < j0 + 32 && j < n; ++j)
                        recurrent_columns[j * n + i] = recurrent_weights[i * n + j];
    }}
    for (long k = 0; k < K; ++k) {{
        const real *feed_k = feed + k * n;
        for (long i = 0; i < n; ++i) current[i] = 0;
        if (recurrent_weights) {{
            for (long j = 0; j < n; ++j) {{
                const real y_j = y[j];
                if (y_j == 0) continue;
                const real *column = recurrent_columns + j * n;
                for (long i = 0; i < n; ++i) current[i] += column[i] * y_j;
            }}
            for (long i = 0; i < n; ++i) current[i] = feed_k[i] + current[i];
        }} else {{
            for (long i = 0; i < n; ++i) current[i] = feed_k[i];
        }}
        for (long i = 0; i < n; ++i) {{
            const real y_prev = y[i];
            const real input = current[i];
            const real param = neuron_param ? neuron_param[i] : 0;
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
    load = "\n".join(f"            const real s{j}_prev = state[{j} * n + i];\n"
                     f"            state_prev_out[({j} * K + k) * n + i] = s{j}_prev;" for j in range(d))
    compute = "\n".join(f"            const real s{j} = {update[j]};" for j in range(d))
    compute += f"\n            const real out = {output};"
    store = "\n".join(f"            state[{j} * n + i] = s{j};\n"
                      f"            state_out[({j} * K + k) * n + i] = s{j};" for j in range(d))
    store += "\n            y[i] = out;\n            y_out[k * n + i] = out;"
    description = f"cell {json.dumps(cell.spec(), sort_keys=True)}"
    return _TEMPLATE.format(helpers=HELPERS, description=description, load=load, compute=compute, store=store)


class LayerKernel:
    """The compiled block recurrence of one cell configuration in one precision."""

    def __init__(self, cell, dtype=np.float64):
        self.cell = cell
        self.dtype = np.dtype(dtype)
        self.source = _source(cell)

        def declare(library):
            library.ostl_layer_block.restype = None
            library.ostl_layer_block.argtypes = [ctypes.c_long, ctypes.c_long] + [ARRAY] * 11

        self._function = real_library("layer_block", self.source, self.dtype, declare).ostl_layer_block

    def run(self, carry, feed, recurrent_weights, neuron_param):
        """Advance ``carry = (state tuple, y)`` over the block ``feed`` (K, n); returns
        ``(carry, state_prev (d, K, n), state (d, K, n), y_prev (K, n), y (K, n))``, the
        arrays :func:`ostl.blocked.forward_block` records."""
        state_prev, y_prev = carry
        K, n = feed.shape
        d = self.cell.state_size
        real = self.dtype
        feed = np.ascontiguousarray(feed, dtype=real)
        state = np.empty((d, n), dtype=real)
        for j in range(d):
            state[j] = state_prev[j]
        y = np.array(y_prev, dtype=real)
        weights = None if recurrent_weights is None else np.ascontiguousarray(recurrent_weights, dtype=real)
        param = None
        if self.cell.neuron_param is not None:
            param = np.ascontiguousarray(np.broadcast_to(np.asarray(neuron_param, dtype=real), (n,)))
        S_prev, S = np.empty((d, K, n), dtype=real), np.empty((d, K, n), dtype=real)
        Yp, Y = np.empty((K, n), dtype=real), np.empty((K, n), dtype=real)
        columns = None if weights is None else np.empty((n, n), dtype=real)
        current = np.empty(n, dtype=real)   # named: an array made inside the call would be freed before it runs
        self._function(K, n, address(feed), address(weights), address(param), address(state), address(y),
                       address(S_prev), address(S), address(Yp), address(Y), address(current),
                       address(columns))
        return (tuple(state[j].copy() for j in range(d)), y), S_prev, S, Yp, Y


_KERNELS = {}   # by the cell's spec and the precision (one build per configuration)
_BY_CELL = {}   # (id(cell), precision) -> (cell, kernel): the spec is not recomputed at every block


def layer_kernel(cell, dtype=np.float64):
    """The :class:`LayerKernel` of ``cell`` in ``dtype`` (built once per configuration and process)."""
    precision = np.dtype(dtype).name
    known = _BY_CELL.get((id(cell), precision))
    if known is not None and known[0] is cell:
        return known[1]
    key = (json.dumps(cell.spec(), sort_keys=True), precision)
    kernel = _KERNELS.get(key)
    if kernel is None:
        kernel = _KERNELS[key] = LayerKernel(cell, dtype)
    _BY_CELL[(id(cell), precision)] = (cell, kernel)
    return kernel
