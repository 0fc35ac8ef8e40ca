/*
 * synapse_input.c -- the synaptic input of one step: for every postsynaptic neuron the spikes of
 * the m presynaptic neurons (in order) add their weight words to a 16-bit ring buffer of their
 * synapse type (excitatory: positive words; inhibitory: negative words, by magnitude), which
 * saturates at 0xFFFF with a count per saturating event (sPyNNaker synapses.c); the input is
 * (excitatory << shift) - (inhibitory << shift) as s16.15 (synapse_row_convert_weight_to_input).
 * NumPy model: spinnaker_model.synaptic_input.
 */
#include "ostl_kernels.h"

void ostl_synaptic_input(uint32_t n_post, uint32_t m, const int32_t *words, const uint8_t *pre, uint32_t shift,
                         s1615 *current, ostl_saturations_t *sat) {
    for (uint32_t j = 0; j < n_post; ++j) {
        const int32_t *row = words + (uint64_t) j * m;
        uint32_t excitatory = 0, inhibitory = 0;
        for (uint32_t i = 0; i < m; ++i) {
            if (!pre[i] || row[i] == 0) {
                continue;
            }
            uint32_t *buffer = row[i] > 0 ? &excitatory : &inhibitory;
            uint32_t accumulation = *buffer + (uint32_t) (row[i] > 0 ? row[i] : -row[i]);
            if (accumulation & 0x10000u) {
                accumulation = 0xFFFFu;
                ++sat->ring_buffer;
            }
            *buffer = accumulation;
        }
        current[j] = (s1615) (((int32_t) excitatory << shift) - ((int32_t) inhibitory << shift));
    }
}
