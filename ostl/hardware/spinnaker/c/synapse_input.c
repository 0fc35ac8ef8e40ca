/*
 * synapse_input.c -- the synaptic input of one step: for every postsynaptic neuron the spikes of
 * the m presynaptic neurons (in order) add their weight words to a 16-bit ring buffer of their
 * synapse type (excitatory: positive words; inhibitory: negative words, by magnitude), which
 * saturates at 0xFFFF with a count per saturating event (sPyNNaker synapses.c); the input is
 * (excitatory << shift) - (inhibitory << shift) as s16.15 (synapse_row_convert_weight_to_input).
 * NumPy model: model.synaptic_input.
 */
#include "ostl_kernels.h"

void ostl_synaptic_input(uint32_t n_post, uint32_t m, const int32_t *words, const uint8_t *pre, uint32_t shift,
                         s1615 *current, ostl_saturations_t *sat) {
    /* Event by event, as the chip processes spikes: for each presynaptic spike (in presynaptic
     * order) its row adds to every postsynaptic neuron's two 16-bit buffers, kept in one word of
     * `current` (excitatory in the low half, inhibitory in the high half) until the step's input
     * is read. Each buffer sees its events in presynaptic order, as in the NumPy model. */
    uint32_t *buffers = (uint32_t *) current;
    for (uint32_t j = 0; j < n_post; ++j) {
        buffers[j] = 0;
    }
    for (uint32_t i = 0; i < m; ++i) {
        if (!pre[i]) {
            continue;
        }
        const int32_t *column = words + i;
        for (uint32_t j = 0; j < n_post; ++j) {
            const int32_t word = column[(uint64_t) j * m];
            if (word == 0) {
                continue;
            }
            const uint32_t half = word > 0 ? 0 : 16;
            uint32_t accumulation = ((buffers[j] >> half) & 0xFFFFu) + (uint32_t) (word > 0 ? word : -word);
            if (accumulation & 0x10000u) {
                accumulation = 0xFFFFu;
                ++sat->ring_buffer;
            }
            buffers[j] = (buffers[j] & ~(0xFFFFu << half)) | (accumulation << half);
        }
    }
    for (uint32_t j = 0; j < n_post; ++j) {
        const int32_t excitatory = (int32_t) (buffers[j] & 0xFFFFu), inhibitory = (int32_t) (buffers[j] >> 16);
        current[j] = (s1615) ((excitatory << shift) - (inhibitory << shift));
    }
}
