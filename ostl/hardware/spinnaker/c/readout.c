/*
 * readout.c -- the readout neurons (ostl.network.Readout) in s16.15 and their traces
 * (NumPy model: model.readout_step, readout_traces_step):
 *
 *   a = kappa a + W_out z + b         (W_out z through the readout's ring buffers)
 *   out = a | sigmoid(a) | softmax(a) (tables; softmax: exp(a_k - max) / sum, kdivk)
 *   delta = mask (out - target)       (the error the readout sends as a payload)
 *   ybar = kappa ybar + z;  ones = kappa ones + 1;  g_W += delta ybar;  g_b += delta ones
 */
#include "ostl_kernels.h"

/* sPyNNaker's kdivk: an unsigned division (64-bit by 32-bit, __aeabi_uldivmod on the ARM). */
static inline s1615 ostl_kdivk(s1615 a, s1615 b) {
    return (s1615) (uint32_t) (((uint64_t) (uint32_t) a << 15) / (uint64_t) (uint32_t) b);
}

void ostl_readout_step(const ostl_readout_t *readout, uint32_t n_out, uint32_t n, const int32_t *words,
                       const s1615 *bias, s1615 *a, const uint8_t *z, const s1615 *target, s1615 mask,
                       s1615 *out, s1615 *delta, s1615 *scratch, ostl_saturations_t *sat) {
    ostl_synaptic_input(n_out, n, words, z, readout->shift, scratch, sat);
    for (uint32_t k = 0; k < n_out; ++k) {
        s1615 current = scratch[k];
        if (readout->kappa) {
            current = ostl_add(ostl_mul(readout->kappa, a[k], sat), current, sat);
        }
        a[k] = ostl_add(current, bias[k], sat);
    }
    if (readout->activation == OSTL_LINEAR) {
        for (uint32_t k = 0; k < n_out; ++k) {
            out[k] = a[k];
        }
    } else if (readout->activation == OSTL_SIGMOID) {
        for (uint32_t k = 0; k < n_out; ++k) {
            const s1615 value = ostl_table(&readout->sigmoid, ostl_abs(a[k]));
            out[k] = a[k] >= 0 ? value : S1615_ONE - value;
        }
    } else {
        s1615 top = a[0];
        for (uint32_t k = 1; k < n_out; ++k) {
            top = a[k] > top ? a[k] : top;
        }
        int64_t total = 0;
        for (uint32_t k = 0; k < n_out; ++k) {
            scratch[k] = ostl_table(&readout->exp, ostl_sub(top, a[k], sat));
            total += scratch[k];
        }
        for (uint32_t k = 0; k < n_out; ++k) {
            out[k] = ostl_kdivk(scratch[k], (s1615) total);
        }
    }
    for (uint32_t k = 0; k < n_out; ++k) {
        delta[k] = ostl_mul(mask, ostl_sub(out[k], target[k], sat), sat);
    }
}

void ostl_readout_traces(uint32_t n_out, uint32_t n, s1615 kappa, s1615 *ybar, s1615 *ones, s1615 *grad_w,
                         s1615 *grad_b, const uint8_t *z, const s1615 *delta, ostl_saturations_t *sat) {
    for (uint32_t j = 0; j < n; ++j) {
        const s1615 spike = z[j] ? S1615_ONE : 0;
        ybar[j] = kappa ? ostl_add(ostl_mul(kappa, ybar[j], sat), spike, sat) : spike;
    }
    for (uint32_t k = 0; k < n_out; ++k) {
        ones[k] = kappa ? ostl_add(ostl_mul(kappa, ones[k], sat), S1615_ONE, sat) : S1615_ONE;
        s1615 *row = grad_w + (uint64_t) k * n;
        for (uint32_t j = 0; j < n; ++j) {
            row[j] = ostl_add(row[j], ostl_mul(delta[k], ybar[j], sat), sat);
        }
        grad_b[k] = ostl_add(grad_b[k], ostl_mul(delta[k], ones[k], sat), sat);
    }
}
