/*
 * write_back.c -- the weight update at the end of a trial (NumPy model: model.write_back):
 *
 *   u = -((g m + 2^(k-1)) >> k)            -lr g in s16.15, lr = m 2^-k (15-bit mantissa m)
 *   residual rounding (default): acc = residual + u; steps = (acc + 2^(s-1)) >> s;
 *                                residual = acc - steps 2^s  (kept per synapse: nothing is lost)
 *   stochastic rounding:         steps = (u >> s) + [hash(seed, trial, synapse) mod 2^s < u mod 2^s]
 *   word <- clamp(word + steps, -0xFFFF, 0xFFFF)   (a clamp is counted)
 *
 * s is the synapse type's ring-buffer shift: one word step is 2^s s16.15 LSB (the weight grid).
 */
#include "ostl_kernels.h"

s1615 ostl_update_bits(s1615 grad, int32_t lr_mantissa, int32_t lr_shift) {
    const int64_t p = (int64_t) grad * lr_mantissa;
    const int64_t step = lr_shift > 0 ? (p + ((int64_t) 1 << (lr_shift - 1))) >> lr_shift : p * ((int64_t) 1 << -lr_shift);
    const int64_t update = -step;
    return update > INT32_MAX ? INT32_MAX : (update < INT32_MIN ? INT32_MIN : (s1615) update);
}

void ostl_write_back(uint32_t count, int32_t *words, int16_t *residual, const s1615 *grad, const uint8_t *mask,
                     int32_t lr_mantissa, int32_t lr_shift, uint32_t shift, int32_t rounding, uint32_t seed,
                     uint32_t trial, uint32_t index_offset, ostl_saturations_t *sat) {
    for (uint32_t i = 0; i < count; ++i) {
        if (mask && !mask[i]) {
            continue;
        }
        int64_t acc = ostl_update_bits(grad[i], lr_mantissa, lr_shift);
        int64_t steps;
        if (rounding == OSTL_RESIDUAL) {
            acc += residual[i];
            acc = acc > INT32_MAX ? INT32_MAX : (acc < INT32_MIN ? INT32_MIN : acc);
            steps = shift > 0 ? (acc + ((int64_t) 1 << (shift - 1))) >> shift : acc;
            residual[i] = (int16_t) (acc - steps * ((int64_t) 1 << shift));
        } else {
            steps = acc >> shift;
            if (shift > 0) {
                const uint32_t draw = ostl_hash(seed, trial, index_offset + i) & ((1u << shift) - 1u);
                steps += (int64_t) draw < (acc & (((int64_t) 1 << shift) - 1));
            }
        }
        int64_t word = (int64_t) words[i] + steps;
        if (word > OSTL_WORD_LIMIT || word < -OSTL_WORD_LIMIT) {
            word = word > 0 ? OSTL_WORD_LIMIT : -OSTL_WORD_LIMIT;
            ++sat->weight;
        }
        words[i] = (int32_t) word;
    }
}

/* The readout bias: s16.15 itself (no word grid), b <- b - lr g, saturating. */
void ostl_bias_write_back(uint32_t count, s1615 *bias, const s1615 *grad, int32_t lr_mantissa, int32_t lr_shift,
                          ostl_saturations_t *sat) {
    for (uint32_t i = 0; i < count; ++i) {
        bias[i] = ostl_add(bias[i], ostl_update_bits(grad[i], lr_mantissa, lr_shift), sat);
    }
}
