/*
 * learning_signal.c -- the learning signal of each hidden neuron from the payloads the readouts
 * send (their errors, or for target projection their masked targets):
 *   L_j = sum_k B_jk payload_k        (rounded products, saturating sums, k in order)
 * B is the neuron's row of feedback weights (random, or the readout weights for symmetric
 * feedback). NumPy model: model.learning_signal.
 */
#include "ostl_kernels.h"

void ostl_learning_signal(uint32_t n, uint32_t n_out, const s1615 *feedback, const s1615 *payload, s1615 *signal,
                          ostl_saturations_t *sat) {
    for (uint32_t j = 0; j < n; ++j) {
        const s1615 *row = feedback + (uint64_t) j * n_out;
        s1615 total = 0;
        for (uint32_t k = 0; k < n_out; ++k) {
            total = ostl_add(total, ostl_mul(row[k], payload[k], sat), sat);
        }
        signal[j] = total;
    }
}
