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

from . import ARRAY, FLAGS, address

SOURCE = r"""
/* B (K, n, D), P (K, n, D, D), carry_G (n, D), carry_Z (n, D, D) from M (K, n, D, D), W (K, n, D) */
static inline __attribute__((always_inline)) void
block_sweep(long K, long n, const long D, const double *restrict M, const double *restrict W, double *restrict B,
            double *restrict P, double *restrict carry_G, double *restrict carry_Z)
{
    const long DD = D * D;
    for (long i = 0; i < n; ++i) {
        for (long b = 0; b < D; ++b) {
            B[((K - 1) * n + i) * D + b] = W[((K - 1) * n + i) * D + b];
            for (long a = 0; a < D; ++a) P[((K - 1) * n + i) * DD + a * D + b] = a == b ? 1.0 : 0.0;
        }
    }
    for (long k = K - 2; k >= -1; --k) {
        const double *M_next = M + (k + 1) * n * DD;   /* M[k + 1] */
        const double *B_next = B + (k + 1) * n * D;
        const double *P_next = P + (k + 1) * n * DD;
        double *B_k = k >= 0 ? B + k * n * D : carry_G;      /* k = -1: the carries, B[0] M[0], P[0] M[0] */
        double *P_k = k >= 0 ? P + k * n * DD : carry_Z;
        const double *W_k = k >= 0 ? W + k * n * D : 0;
        for (long i = 0; i < n; ++i) {
            const double *m = M_next + i * DD;
            const double *b_next = B_next + i * D;
            const double *p_next = P_next + i * DD;
            for (long b = 0; b < D; ++b) {
                double acc = 0.0;
                for (long a = 0; a < D; ++a) acc += b_next[a] * m[a * D + b];
                B_k[i * D + b] = W_k ? W_k[i * D + b] + acc : acc;
                for (long r = 0; r < D; ++r) {
                    double prod = 0.0;
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
block_project(long K, long n, const long D, const double *restrict B, const double *restrict P,
              const double *restrict V, double *restrict BV, double *restrict PV)
{
    for (long kn = 0; kn < K * n; ++kn) {
        const double *b = B + kn * D, *p = P + kn * D * D, *v = V + kn * D;
        double acc = 0.0;
        for (long a = 0; a < D; ++a) acc += b[a] * v[a];
        BV[kn] = acc;
        for (long a = 0; a < D; ++a) {
            double sum = 0.0;
            for (long c = 0; c < D; ++c) sum += p[a * D + c] * v[c];
            PV[kn * D + a] = sum;
        }
    }
}

/* out^k = leak out^{k-1} + values^k over K steps of n values from out^{-1} = carry (the leaky
   readout's potential and filtered traces; ostl.blocked._filter) */
void ostl_filter(long K, long n, double leak, const double *restrict values, const double *restrict carry,
                 double *restrict out)
{
    const double *previous = carry;
    for (long k = 0; k < K; ++k) {
        for (long i = 0; i < n; ++i) out[k * n + i] = leak * previous[i] + values[k * n + i];
        previous = out + k * n;
    }
}

/* the exported functions: the common state sizes with D a constant (unrolled loops), others generic */
void ostl_block_sweep(long K, long n, long D, const double *M, const double *W, double *B, double *P,
                      double *carry_G, double *carry_Z)
{
    switch (D) {
    case 1: block_sweep(K, n, 1, M, W, B, P, carry_G, carry_Z); break;
    case 2: block_sweep(K, n, 2, M, W, B, P, carry_G, carry_Z); break;
    case 3: block_sweep(K, n, 3, M, W, B, P, carry_G, carry_Z); break;
    default: block_sweep(K, n, D, M, W, B, P, carry_G, carry_Z);
    }
}

void ostl_block_project(long K, long n, long D, const double *B, const double *P, const double *V, double *BV,
                        double *PV)
{
    switch (D) {
    case 1: block_project(K, n, 1, B, P, V, BV, PV); break;
    case 2: block_project(K, n, 2, B, P, V, BV, PV); break;
    case 3: block_project(K, n, 3, B, P, V, BV, PV); break;
    default: block_project(K, n, D, B, P, V, BV, PV);
    }
}
"""

_library = None


def sweep_library():
    """The compiled sweep (built once per process; raises BackendUnavailableError without a compiler)."""
    global _library
    if _library is None:
        from ..cbuild import shared_library

        library = shared_library("the compiled engine", "engine", "libostl_sweep.so", {"block_sweep.c": SOURCE},
                                 FLAGS)
        library.ostl_block_sweep.restype = None
        library.ostl_block_sweep.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 6
        library.ostl_block_project.restype = None
        library.ostl_block_project.argtypes = [ctypes.c_long] * 3 + [ARRAY] * 5
        library.ostl_filter.restype = None
        library.ostl_filter.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_double] + [ARRAY] * 3
        _library = library
    return _library


def block_sweep(M, W):
    """``(B, P, carry_G, carry_Z)`` of one block from ``M`` (K, n, D, D) and ``W`` (K, n, D)."""
    K, n, D = W.shape
    M = np.ascontiguousarray(M, dtype=np.float64)
    W = np.ascontiguousarray(W, dtype=np.float64)
    B, P = np.empty((K, n, D)), np.empty((K, n, D, D))
    carry_G, carry_Z = np.empty((n, D)), np.empty((n, D, D))
    sweep_library().ostl_block_sweep(K, n, D, address(M), address(W), address(B), address(P), address(carry_G),
                                     address(carry_Z))
    return B, P, carry_G, carry_Z


def block_project(B, P, V):
    """``(B . V, P V)``, (K, n) and (K, n, D), of block coefficients and a driving vector ``V``."""
    K, n, D = V.shape
    V = np.ascontiguousarray(V, dtype=np.float64)
    BV, PV = np.empty((K, n)), np.empty((K, n, D))
    sweep_library().ostl_block_project(K, n, D, address(B), address(P), address(V), address(BV), address(PV))
    return BV, PV


def leaky_filter(values, leak, carry):
    """``out^k = leak out^{k-1} + values^k`` along axis 0 from ``carry``: ``(out, out[-1])``."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    K = values.shape[0]
    n = values[0].size if K else 0
    carry = np.ascontiguousarray(np.broadcast_to(np.asarray(carry, dtype=np.float64), values.shape[1:]))
    out = np.empty_like(values)
    sweep_library().ostl_filter(K, n, float(leak), address(values), address(carry), address(out))
    return out, out[-1].copy()
