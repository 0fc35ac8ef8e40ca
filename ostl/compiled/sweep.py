"""The compiled backward sweep of :class:`ostl.blocked.BlockCoefficients`.

For one block of ``K`` steps, per neuron (``D x D`` matrices ``M^k``, row vectors ``W^k``)::

    B[K-1] = W[K-1]         B[k] = W[k] + B[k+1] M[k+1]
    P[K-1] = 1              P[k] = P[k+1] M[k+1]
    carry_G = B[0] M[0]     carry_Z = P[0] M[0]

the recursions :class:`~ostl.blocked.BlockCoefficients` evaluates with one NumPy call per step
(``D = 1``: products; ``D > 1``: ``np.matmul`` and ``np.einsum``). Here all ``K`` steps in one
call, steps outside and neurons inside (the arrays are step-major), the products' terms added
in the order of their index.
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..precision import real_dtype
from . import ARRAY, address, real_library

SOURCE = r"""
/* B (K, n, D), P (K, n, D, D), carry_G (n, D), carry_Z (n, D, D) from M (K, n, D, D), W (K, n, D) */
static inline __attribute__((always_inline)) void
block_sweep(long K, long n, const long D, const real *restrict M, const real *restrict W, real *restrict B,
            real *restrict P, real *restrict carry_G, real *restrict carry_Z)
{
    const long DD = D * D;
    for (long i = 0; i < n; ++i) {
        for (long b = 0; b < D; ++b) {
            B[((K - 1) * n + i) * D + b] = W[((K - 1) * n + i) * D + b];
            for (long a = 0; a < D; ++a) P[((K - 1) * n + i) * DD + a * D + b] = a == b ? 1 : 0;
        }
    }
    for (long k = K - 2; k >= -1; --k) {
        const real *M_next = M + (k + 1) * n * DD;   /* M[k + 1] */
        const real *B_next = B + (k + 1) * n * D;
        const real *P_next = P + (k + 1) * n * DD;
        real *B_k = k >= 0 ? B + k * n * D : carry_G;      /* k = -1: the carries, B[0] M[0], P[0] M[0] */
        real *P_k = k >= 0 ? P + k * n * DD : carry_Z;
        const real *W_k = k >= 0 ? W + k * n * D : 0;
        for (long i = 0; i < n; ++i) {
            const real *m = M_next + i * DD;
            const real *b_next = B_next + i * D;
            const real *p_next = P_next + i * DD;
            for (long b = 0; b < D; ++b) {
                real acc = 0;
                for (long a = 0; a < D; ++a) acc += b_next[a] * m[a * D + b];
                B_k[i * D + b] = W_k ? W_k[i * D + b] + acc : acc;
                for (long r = 0; r < D; ++r) {
                    real prod = 0;
                    for (long a = 0; a < D; ++a) prod += p_next[r * D + a] * m[a * D + b];
                    P_k[i * DD + r * D + b] = prod;
                }
            }
        }
    }
}

/* BV (K, n) = B . V and PV (K, n, D) = P V per step and neuron: what the block's inputs add to G
   and to Z (BlockCoefficients.accumulate), for one driving vector V (K, n, D) */
static inline __attribute__((always_inline)) void
block_project(long K, long n, const long D, const real *restrict B, const real *restrict P,
              const real *restrict V, real *restrict BV, real *restrict PV)
{
    for (long kn = 0; kn < K * n; ++kn) {
        const real *b = B + kn * D, *p = P + kn * D * D, *v = V + kn * D;
        real acc = 0;
        for (long a = 0; a < D; ++a) acc += b[a] * v[a];
        BV[kn] = acc;
        for (long a = 0; a < D; ++a) {
            real sum = 0;
            for (long c = 0; c < D; ++c) sum += p[a * D + c] * v[c];
            PV[kn * D + a] = sum;
        }
    }
}

/* out^k = leak out^{k-1} + values^k over K steps of n values from out^{-1} = carry (the leaky
   readout's potential and filtered traces; ostl.blocked._filter) */
void ostl_filter(long K, long n, double leak_in, const real *restrict values, const real *restrict carry,
                 real *restrict out)
{
    const real leak = (real)leak_in;   /* as NumPy converts a Python number */
    const real *previous = carry;
    for (long k = 0; k < K; ++k) {
        for (long i = 0; i < n; ++i) out[k * n + i] = leak * previous[i] + values[k * n + i];
        previous = out + k * n;
    }
}

/* the exported functions: the common state sizes with D a constant (unrolled loops), others generic */
void ostl_block_sweep(long K, long n, long D, const real *M, const real *W, real *B, real *P,
                      real *carry_G, real *carry_Z)
{
    switch (D) {
    case 1: block_sweep(K, n, 1, M, W, B, P, carry_G, carry_Z); break;
    case 2: block_sweep(K, n, 2, M, W, B, P, carry_G, carry_Z); break;
    case 3: block_sweep(K, n, 3, M, W, B, P, carry_G, carry_Z); break;
    default: block_sweep(K, n, D, M, W, B, P, carry_G, carry_Z);
    }
}

void ostl_block_project(long K, long n, long D, const real *B, const real *P, const real *V, real *BV,
                        real *PV)
{
    switch (D) {
    case 1: block_project(K, n, 1, B, P, V, BV, PV); break;
    case 2: block_project(K, n, 2, B, P, V, BV, PV); break;
    case 3: block_project(K, n, 3, B, P, V, BV, PV); break;
    default: block_project(K, n, D, B, P, V, BV, PV);
    }
}
"""

def _declare(library):
    library.ostl_block_sweep.restype = None
    library.ostl_block_sweep.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 6
    library.ostl_block_project.restype = None
    library.ostl_block_project.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 5
    library.ostl_filter.restype = None
    library.ostl_filter.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_double] + [ARRAY] * 3


def sweep_library(dtype=np.float64):
    """The compiled sweep in ``dtype`` (built once per process; raises BackendUnavailableError
    without a compiler)."""
    return real_library("block_sweep", SOURCE, dtype, _declare)


def block_sweep(M, W):
    """``(B, P, carry_G, carry_Z)`` of one block from ``M`` (K, n, D, D) and ``W`` (K, n, D)."""
    K, n, D = W.shape
    real = real_dtype(M, W)
    M = np.ascontiguousarray(M, dtype=real)
    W = np.ascontiguousarray(W, dtype=real)
    B, P = np.empty((K, n, D), dtype=real), np.empty((K, n, D, D), dtype=real)
    carry_G, carry_Z = np.empty((n, D), dtype=real), np.empty((n, D, D), dtype=real)
    sweep_library(real).ostl_block_sweep(K, n, D, address(M), address(W), address(B), address(P), address(carry_G),
                                         address(carry_Z))
    return B, P, carry_G, carry_Z


def block_project(B, P, V):
    """``(B . V, P V)``, (K, n) and (K, n, D), of block coefficients and a driving vector ``V``."""
    K, n, D = V.shape
    real = real_dtype(B, P, V)
    B, P, V = (np.ascontiguousarray(a, dtype=real) for a in (B, P, V))
    BV, PV = np.empty((K, n), dtype=real), np.empty((K, n, D), dtype=real)
    sweep_library(real).ostl_block_project(K, n, D, address(B), address(P), address(V), address(BV), address(PV))
    return BV, PV


def leaky_filter(values, leak, carry):
    """``out^k = leak out^{k-1} + values^k`` along axis 0 from ``carry``: ``(out, out[-1])``."""
    real = real_dtype(values)
    values = np.ascontiguousarray(values, dtype=real)
    K = values.shape[0]
    n = values[0].size if K else 0
    carry = np.ascontiguousarray(np.broadcast_to(np.asarray(carry, dtype=real), values.shape[1:]))
    out = np.empty_like(values)
    sweep_library(real).ostl_filter(K, n, float(leak), address(values), address(carry), address(out))
    return out, out[-1].copy()
