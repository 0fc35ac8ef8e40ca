"""The compiled adjoint recursion of a stateful layer (:func:`ostl.backprop.adjoint_sweep_numpy`).

Per step of a block, from the last one back (``H^T Ibar^{t+1}`` as a sum of ``H``'s rows,
row-major and contiguous, scaled by ``Ibar^{t+1}``; the other sums in the order of their index)::

    ybar^t = direct^t + H^T Ibar^{t+1} + r^{t+1} . sbar^{t+1}
    sbar^t = ybar^t q^t + (A^{t+1})^T sbar^{t+1}
    Ibar^t = c^t . sbar^t
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..precision import real_dtype
from . import ARRAY, address, real_library

SOURCE = r"""
/* one block, last step to first; into_y (n), into_s (n, d): in, what the step after the block sends
   back; out, what the block's first step sends to the step before it */
void ostl_adjoint_sweep(long K, long n, long d, const real *restrict direct, const real *restrict A,
                        const real *restrict own, const real *restrict c, const real *restrict q,
                        const real *restrict H, real *restrict Ibar, real *restrict sbar,
                        real *restrict ybar, real *restrict into_y, real *restrict into_s)
{
    for (long k = K - 1; k >= 0; --k) {
        real *I_k = Ibar + k * n;
        for (long i = 0; i < n; ++i) {
            const long kn = k * n + i;
            const real g = direct[kn] + into_y[i];
            ybar[kn] = g;
            real input = 0, path = 0;
            for (long b = 0; b < d; ++b) {
                const real s = g * q[kn * d + b] + into_s[i * d + b];
                sbar[kn * d + b] = s;
                input += s * c[kn * d + b];
                path += own[kn * d + b] * sbar[kn * d + b];
            }
            I_k[i] = input;
            into_y[i] = path;
            const real *a = A + kn * d * d;
            for (long b = 0; b < d; ++b) {
                real carried = 0;
                for (long r = 0; r < d; ++r) carried += sbar[kn * d + r] * a[r * d + b];
                into_s[i * d + b] = carried;
            }
        }
        if (H) {   /* into_y += H^T Ibar^k, as a sum of H's rows (contiguous) */
            for (long r = 0; r < n; ++r) {
                const real scale = I_k[r];
                if (scale == 0) continue;
                const real *row = H + r * n;
                for (long i = 0; i < n; ++i) into_y[i] += row[i] * scale;
            }
        }
    }
}
"""

def _declare(library):
    library.ostl_adjoint_sweep.restype = None
    library.ostl_adjoint_sweep.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 11


def _function(dtype=np.float64):
    return real_library("adjoint_sweep", SOURCE, dtype, _declare).ostl_adjoint_sweep


def adjoint_sweep(direct, deriv, H, into_y=None, into_s=None):
    """``(Ibar, sbar, ybar, into_y, into_s)`` as :func:`ostl.backprop.adjoint_sweep_numpy`, in one C call."""
    real = real_dtype(direct, deriv.output_gain)
    q = np.ascontiguousarray(deriv.output_gain, dtype=real)
    K, n, d = q.shape
    arrays = [np.ascontiguousarray(a, dtype=real) for a in
              (direct, np.broadcast_to(deriv.state_decay, (K, n, d, d)),
               np.broadcast_to(deriv.reset_path + deriv.adaptation_path, (K, n, d)),
               np.broadcast_to(deriv.input_gain, (K, n, d)), q)]
    weights = None if H is None else np.ascontiguousarray(H, dtype=real)
    into_y = np.zeros(n, dtype=real) if into_y is None else np.array(into_y, dtype=real)
    into_s = np.zeros((n, d), dtype=real) if into_s is None else np.array(into_s, dtype=real)
    Ibar, sbar, ybar = np.empty((K, n), dtype=real), np.empty((K, n, d), dtype=real), np.empty((K, n), dtype=real)
    _function(real)(K, n, d, *[address(a) for a in arrays], address(weights), address(Ibar), address(sbar),
                    address(ybar), address(into_y), address(into_s))
    return Ibar, sbar, ybar, into_y, into_s
