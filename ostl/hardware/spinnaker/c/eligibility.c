/*
 * eligibility.c -- the per-synapse state of one step (NumPy model: model.eligibility_step).
 * Synapse (j, i) keeps its eligibility vector eps (d values), with a leaky readout its filtered
 * trace ebar, and its gradient g:
 *
 *   e_prev = q_prev . eps                       (only if the own-spike path is used; q_prev is the
 *                                                neuron's output gain of the previous step)
 *   eps_a <- decay_a eps_a + own_a e_prev + gain_a [pre_i spiked]
 *   e = q . eps;   ebar <- kappa ebar + e;   g <- g + L_j ebar (or L_j e without a leak)
 *
 * e-prop on LIF neurons drops the reset path and the neuron's decay and input gain are the same
 * for every neuron (alpha, 1), so every synapse of presynaptic neuron i holds the same eligibility
 * vector: the presynaptic trace zbar_i <- alpha zbar_i + [i spiked]. ostl_eligibility_presynaptic
 * keeps it once per presynaptic neuron (4 bytes per synapse less, one product less per synapse).
 */
#include "ostl_kernels.h"

/* d = 1 (LIF, SNU, soft-reset SNU): the same arithmetic with the choices taken out of the loop
 * (a sum that starts at 0 takes its first term unchanged, so the results are identical). */
static void eligibility_single(uint32_t n, uint32_t m, s1615 *eps, s1615 *ebar, s1615 *grad, const ostl_factors_t *f,
                               const s1615 *output_gain_prev, const uint8_t *pre, const s1615 *signal, s1615 kappa,
                               int32_t uses_own_path, ostl_saturations_t *sat) {
    for (uint32_t j = 0; j < n; ++j) {
        const s1615 decay = f->decay[j], own = f->own_path[j], gain = f->input_gain[j], q = f->output_gain[j];
        const s1615 q_prev = output_gain_prev[j], learning_signal = signal[j];
        s1615 *vector = eps + (uint64_t) j * m, *trace = ebar ? ebar + (uint64_t) j * m : 0;
        s1615 *gradient = grad + (uint64_t) j * m;
        for (uint32_t i = 0; i < m; ++i) {
            s1615 value = vector[i];
            if (uses_own_path) {
                const s1615 e_prev = ostl_mul(q_prev, value, sat);
                value = ostl_add(ostl_mul(decay, value, sat), ostl_mul(own, e_prev, sat), sat);
            } else {
                value = ostl_mul(decay, value, sat);
            }
            if (pre[i]) {
                value = ostl_add(value, gain, sat);
            }
            vector[i] = value;
            s1615 e = ostl_mul(q, value, sat);
            if (trace) {
                e = ostl_add(ostl_mul(kappa, trace[i], sat), e, sat);
                trace[i] = e;
            }
            gradient[i] = ostl_add(gradient[i], ostl_mul(learning_signal, e, sat), sat);
        }
    }
}

void ostl_eligibility_step(uint32_t n, uint32_t m, uint32_t d, s1615 *eps, s1615 *ebar, s1615 *grad,
                           const ostl_factors_t *f, const s1615 *output_gain_prev, const uint8_t *pre,
                           const s1615 *signal, s1615 kappa, int32_t uses_own_path, ostl_saturations_t *sat) {
    if (d == 1) {
        eligibility_single(n, m, eps, ebar, grad, f, output_gain_prev, pre, signal, kappa, uses_own_path, sat);
        return;
    }
    for (uint32_t j = 0; j < n; ++j) {
        const s1615 *decay = f->decay + j * d, *own = f->own_path + j * d;
        const s1615 *gain = f->input_gain + j * d, *q = f->output_gain + j * d;
        const s1615 *q_prev = output_gain_prev + j * d;
        const s1615 learning_signal = signal[j];
        for (uint32_t i = 0; i < m; ++i) {
            const uint64_t synapse = (uint64_t) j * m + i;
            s1615 *vector = eps + synapse * d;
            s1615 e_prev = 0;
            if (uses_own_path) {
                for (uint32_t a = 0; a < d; ++a) {
                    e_prev = ostl_add(e_prev, ostl_mul(q_prev[a], vector[a], sat), sat);
                }
            }
            s1615 e = 0;
            for (uint32_t a = 0; a < d; ++a) {
                s1615 value = ostl_mul(decay[a], vector[a], sat);
                if (uses_own_path) {
                    value = ostl_add(value, ostl_mul(own[a], e_prev, sat), sat);
                }
                if (pre[i]) {
                    value = ostl_add(value, gain[a], sat);
                }
                vector[a] = value;
                e = ostl_add(e, ostl_mul(q[a], value, sat), sat);
            }
            if (ebar) {
                e = ostl_add(ostl_mul(kappa, ebar[synapse], sat), e, sat);
                ebar[synapse] = e;
            }
            grad[synapse] = ostl_add(grad[synapse], ostl_mul(learning_signal, e, sat), sat);
        }
    }
}

void ostl_eligibility_presynaptic(uint32_t n, uint32_t m, s1615 *eps, s1615 *ebar, s1615 *grad,
                                  const ostl_factors_t *f, const uint8_t *pre, const s1615 *signal, s1615 kappa,
                                  ostl_saturations_t *sat) {
    const s1615 decay = f->decay[0], gain = f->input_gain[0];
    for (uint32_t i = 0; i < m; ++i) {
        s1615 value = ostl_mul(decay, eps[i], sat);
        if (pre[i]) {
            value = ostl_add(value, gain, sat);
        }
        eps[i] = value;
    }
    for (uint32_t j = 0; j < n; ++j) {
        const s1615 q = f->output_gain[j], learning_signal = signal[j];
        s1615 *trace = ebar ? ebar + (uint64_t) j * m : 0;
        s1615 *gradient = grad + (uint64_t) j * m;
        for (uint32_t i = 0; i < m; ++i) {
            s1615 e = ostl_mul(q, eps[i], sat);
            if (trace) {
                e = ostl_add(ostl_mul(kappa, trace[i], sat), e, sat);
                trace[i] = e;
            }
            gradient[i] = ostl_add(gradient[i], ostl_mul(learning_signal, e, sat), sat);
        }
    }
}
