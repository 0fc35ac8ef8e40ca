"""The compiled adjoint recursion of a stateful layer (:func:`ostl.backprop.adjoint_sweep_numpy`).

Per step, from the last one back (``H^T Ibar^{t+1}`` as a sum of ``H``'s rows, row-major and
contiguous, scaled by ``Ibar^{t+1}``; the other sums in the order of their index)::

    ybar^t = direct^t + H^T Ibar^{t+1} + r^{t+1} . sbar^{t+1}
    sbar^t = ybar^t q^t + (A^{t+1})^T sbar^{t+1}
    Ibar^t = c^t . sbar^t
"""

from __future__ import annotations

import ctypes

import numpy as np

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)
_FLAGS = ("-O3", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Werror", "-fPIC",
          "-shared")

SOURCE = r"""
void ostl_adjoint_sweep(long T, long n, long d, const double *restrict direct, const double *restrict A,
                        const double *restrict own, const double *restrict c, const double *restrict q,
                        const double *restrict H, double *restrict Ibar, double *restrict sbar,
                        double *restrict ybar, double *restrict work)
{
    for (long t = T - 1; t >= 0; --t) {
        const int last = t + 1 == T;
        const double *I_next = Ibar + (t + 1) * n;
        for (long i = 0; i < n; ++i) work[i] = 0.0;
        if (!last && H) {
            for (long k = 0; k < n; ++k) {
                const double scale = I_next[k];
                if (scale == 0.0) continue;
                const double *row = H + k * n;
                for (long i = 0; i < n; ++i) work[i] += row[i] * scale;
            }
        }
        for (long i = 0; i < n; ++i) {
            double g = direct[t * n + i];
            const double *s_next = sbar + ((t + 1) * n + i) * d;
            if (!last) {
                if (H) g += work[i];
                double path = 0.0;
                for (long j = 0; j < d; ++j) path += own[((t + 1) * n + i) * d + j] * s_next[j];
                g += path;
            }
            ybar[t * n + i] = g;
            double input = 0.0;
            for (long b = 0; b < d; ++b) {
                double s = g * q[(t * n + i) * d + b];
                if (!last) {
                    const double *a = A + ((t + 1) * n + i) * d * d;
                    double carried = 0.0;
                    for (long r = 0; r < d; ++r) carried += s_next[r] * a[r * d + b];
                    s += carried;
                }
                sbar[(t * n + i) * d + b] = s;
                input += s * c[(t * n + i) * d + b];
            }
            Ibar[t * n + i] = input;
        }
    }
}
"""

_library = None


def _function():
    global _library
    if _library is None:
        from ..cbuild import shared_library

        library = shared_library("the compiled engine", "engine", "libostl_adjoint.so", {"adjoint_sweep.c": SOURCE},
                                 _FLAGS)
        library.ostl_adjoint_sweep.restype = None
        library.ostl_adjoint_sweep.argtypes = [ctypes.c_long] * 3 + [_DOUBLE_P] * 10
        _library = library
    return _library.ostl_adjoint_sweep


def adjoint_sweep(direct, deriv, H):
    """``(Ibar, sbar, ybar)`` as :func:`ostl.backprop.adjoint_sweep_numpy`, in one C call."""
    q = np.ascontiguousarray(deriv.output_gain, dtype=np.float64)
    T, n, d = q.shape
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in
              (direct, np.broadcast_to(deriv.state_decay, (T, n, d, d)),
               np.broadcast_to(deriv.reset_path + deriv.adaptation_path, (T, n, d)),
               np.broadcast_to(deriv.input_gain, (T, n, d)), q)]
    weights = None if H is None else np.ascontiguousarray(H, dtype=np.float64)
    Ibar, sbar, ybar = np.empty((T, n)), np.empty((T, n, d)), np.empty((T, n))
    pointer = lambda a: None if a is None else a.ctypes.data_as(_DOUBLE_P)   # noqa: E731
    _function()(T, n, d, *[pointer(a) for a in arrays], pointer(weights), pointer(Ibar), pointer(sbar),
                pointer(ybar), pointer(np.empty(n)))
    return Ibar, sbar, ybar
