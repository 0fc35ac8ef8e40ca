"""The compiled step of the step-by-step evaluator's eligibility vectors and traces.

One call advances the diagonal traces of one synaptic parameter of a stateful layer by one
step (:meth:`ostl.traces.StatefulTraces.update`, the ``eprop``, ``no_h`` and feed-forward
``exact`` traces; not the coupled exact-recurrent ones), in place, per synapse ``(i, j)``::

    eps[i, a, j] = sum_b decay[i, a, b] eps[i, b, j] + own[i, a] e[i, j] + c[i, a] pre[j]
    e[i, j]      = sum_a q[i, a] eps[i, a, j]
    ebar[i, j]   = leak ebar[i, j] + e[i, j]            (a leaky readout only)

the NumPy definition's operations in its order (``e`` on the right is the previous step's).
The step-by-step evaluation runs where the blocked one cannot: online mode (an update at every
step), recordings, weights read at every step. There the NumPy update made a dozen temporaries
of the traces' size per step and parameter (1.3 of 2.7 ms per step at n = 256).
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import ARRAY, address, real_library

SOURCE = r"""
static inline __attribute__((always_inline)) void
trace_step(long n, const long d, long m, const real *restrict decay, const real *restrict own,
           const real *restrict c, const real *restrict q, const real *restrict pre, double leak_in,
           real *restrict eps, real *restrict e, real *restrict ebar)
{
    const real leak = (real)leak_in;
    for (long i = 0; i < n; ++i) {
        const real *A = decay + i * d * d, *p = own + i * d, *g = c + i * d, *w = q + i * d;
        real *z = eps + i * d * m, *trace = e + i * m, *filtered = ebar ? ebar + i * m : 0;
        for (long j = 0; j < m; ++j) {
            real old[3 > d ? 3 : d], new_[3 > d ? 3 : d];
            const real e_prev = trace[j];
            for (long b = 0; b < d; ++b) old[b] = z[b * m + j];
            for (long a = 0; a < d; ++a) {
                real acc = A[a * d] * old[0];
                for (long b = 1; b < d; ++b) acc += A[a * d + b] * old[b];
                acc += p[a] * e_prev;
                acc += g[a] * pre[j];
                new_[a] = acc;
                z[a * m + j] = acc;
            }
            real out = w[0] * new_[0];
            for (long a = 1; a < d; ++a) out += w[a] * new_[a];
            trace[j] = out;
            if (filtered) filtered[j] = leak * filtered[j] + out;
        }
    }
}

/* one step of the diagonal traces of one parameter: decay (n, d, d), own, c, q (n, d), pre (m);
   eps (n, d, m), e (n, m), ebar (n, m, or null without a leaky readout) advanced in place */
void ostl_trace_step(long n, long d, long m, const real *decay, const real *own, const real *c, const real *q,
                     const real *pre, double leak, real *eps, real *e, real *ebar)
{
    switch (d) {
    case 1: trace_step(n, 1, m, decay, own, c, q, pre, leak, eps, e, ebar); break;
    case 2: trace_step(n, 2, m, decay, own, c, q, pre, leak, eps, e, ebar); break;
    case 3: trace_step(n, 3, m, decay, own, c, q, pre, leak, eps, e, ebar); break;
    default: trace_step(n, d, m, decay, own, c, q, pre, leak, eps, e, ebar);
    }
}
"""


def _declare(library):
    library.ostl_trace_step.restype = None
    library.ostl_trace_step.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 5 + [ctypes.c_double] + [ARRAY] * 3


def traces_library(dtype=np.float64):
    """The compiled trace step (built once per process; BackendUnavailableError without a compiler)."""
    return real_library("trace_step", SOURCE, dtype, _declare)


def trace_step(decay, own, c, q, pre, leak, eps, e, ebar):
    """Advance ``eps`` (n, d, m), ``e`` (n, m) and ``ebar`` (n, m; None without a leaky readout)
    in place by one step (float64, C-contiguous; see the module's equations)."""
    n, d, m = eps.shape
    decay, own, c, q, pre = (np.ascontiguousarray(a, dtype=np.float64) for a in (decay, own, c, q, pre))
    if decay.shape != (n, d, d):   # a broadcast decay (e.g. one value per neuron)
        decay = np.ascontiguousarray(np.broadcast_to(decay, (n, d, d)))
    for array in (eps, e) + (() if ebar is None else (ebar,)):
        if not (array.flags.c_contiguous and array.dtype == np.float64):
            raise ValueError("the traces must be C-contiguous float64 arrays")
    traces_library().ostl_trace_step(n, d, m, address(decay), address(own), address(c), address(q), address(pre),
                                     float(leak or 0.0), address(eps), address(e), address(ebar))
