/*
 * eligibility.c -- the per-synapse state of one step (NumPy model: spinnaker_model.eligibility_step).
 * Synapse (j, i) keeps its eligibility vector eps (d values), with a leaky readout its filtered
 * trace ebar, and its gradient g:
 *
 *   e_prev = q_prev . eps                       (only if the own-spike path is used; q_prev is the
 *                                                neuron's output gain of the previous step)
 *   eps_a <- decay_a eps_a + own_a e_prev + gain_a [pre_i spiked]
 *   e = q . eps;   ebar <- kappa ebar + e;   g <- g + L_j ebar (or L_j e without a leak)
 */
#include "ostl_kernels.h"

void ostl_eligibility_step(uint32_t n, uint32_t m, uint32_t d, s1615 *eps, s1615 *ebar, s1615 *grad,
                           const ostl_factors_t *f, const s1615 *output_gain_prev, const uint8_t *pre,
                           const s1615 *signal, s1615 kappa, int32_t uses_own_path, ostl_saturations_t *sat) {
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
