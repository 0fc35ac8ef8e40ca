/*
 * network.c -- one trial, step by step, in the reference engine's order (ostl.online):
 * synaptic input, neuron step, readout, learning signal, eligibility and gradients. On the chip
 * each iteration of the loop is one 1 ms timer tick. NumPy model: spinnaker_network.run_numpy.
 */
#include <string.h>

#include "ostl_kernels.h"

void ostl_trial(const ostl_network_t *net, const int32_t *words, const int32_t *readout_words, const s1615 *bias,
                const s1615 *feedback, uint32_t steps, const uint8_t *x, const s1615 *target, const s1615 *mask,
                ostl_trial_state_t *s, ostl_record_t *record, ostl_saturations_t *sat) {
    const uint32_t n = net->n, n_in = net->n_in, n_out = net->n_out, d = net->d;
    for (uint32_t t = 0; t < steps; ++t) {
        memcpy(s->pre, x + (uint64_t) t * n_in, n_in);
        if (net->recurrent) {
            for (uint32_t j = 0; j < n; ++j) {
                s->pre[n_in + j] = (uint8_t) (s->z[j] != 0);
            }
        }
        ostl_synaptic_input(n, net->m, words, s->pre, net->shift, s->current, sat);
        ostl_neuron_step(&net->cell, n, s->state, s->z, s->current, &s->factors, sat);
        for (uint32_t j = 0; j < n; ++j) {
            s->z_bytes[j] = (uint8_t) (s->z[j] != 0);
        }
        const s1615 *target_t = target + (uint64_t) t * n_out;
        ostl_readout_step(&net->readout, n_out, n, readout_words, bias, s->a, s->z_bytes, target_t, mask[t], s->out,
                          s->delta, s->scratch, sat);
        if (net->signal_source == 0) {
            memcpy(s->payload, s->delta, n_out * sizeof(s1615));
        } else {
            for (uint32_t k = 0; k < n_out; ++k) {
                s->payload[k] = ostl_mul(mask[t], target_t[k], sat);
            }
        }
        ostl_learning_signal(n, n_out, feedback, s->payload, s->signal, sat);
        if (net->presynaptic) {
            ostl_eligibility_presynaptic(n, net->m, s->eps, s->ebar, s->grad, &s->factors, s->pre, s->signal,
                                         net->readout.kappa, sat);
        } else {
            ostl_eligibility_step(n, net->m, d, s->eps, s->ebar, s->grad, &s->factors, s->output_gain_prev, s->pre,
                                  s->signal, net->readout.kappa, net->uses_own_path, sat);
        }
        ostl_readout_traces(n_out, n, net->readout.kappa, s->ybar, s->ones, s->grad_readout, s->grad_bias, s->z_bytes,
                            s->delta, sat);
        memcpy(s->output_gain_prev, s->factors.output_gain, (uint64_t) n * d * sizeof(s1615));
        if (record) {
            if (record->state) memcpy(record->state + (uint64_t) t * n * d, s->state, (uint64_t) n * d * sizeof(s1615));
            if (record->spikes) memcpy(record->spikes + (uint64_t) t * n, s->z, n * sizeof(int32_t));
            if (record->readout) memcpy(record->readout + (uint64_t) t * n_out, s->a, n_out * sizeof(s1615));
            if (record->output) memcpy(record->output + (uint64_t) t * n_out, s->out, n_out * sizeof(s1615));
            if (record->signal) memcpy(record->signal + (uint64_t) t * n, s->signal, n * sizeof(s1615));
        }
    }
}
