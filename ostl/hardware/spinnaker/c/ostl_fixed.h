/*
 * ostl_fixed.h -- s16.15 fixed point as sPyNNaker computes it, integer only (no accum type:
 * the same source compiles for the host and for the ARM968 cores). See docs/spinnaker.md;
 * the NumPy model of every function is ostl/hardware/spinnaker/numerics.py and model.py.
 */
#ifndef OSTL_FIXED_H
#define OSTL_FIXED_H

#include <stdint.h>

typedef int32_t s1615;            /* value * 2^15 */
#define S1615_ONE ((s1615) 32768)

/* Saturation events, by kind (reported, never silent). */
typedef struct {
    uint32_t multiply;      /* a rounded product beyond int32 */
    uint32_t add;           /* a sum or difference beyond int32 */
    uint32_t ring_buffer;   /* a 16-bit input ring buffer at 0xFFFF (per event, as synapses.c) */
    uint32_t weight;        /* a weight word at +-0xFFFF after write-back */
} ostl_saturations_t;

static inline s1615 ostl_saturate(int64_t x, uint32_t *count) {
    if (x > INT32_MAX) { ++*count; return INT32_MAX; }
    if (x < INT32_MIN) { ++*count; return INT32_MIN; }
    return (s1615) x;
}

/* MULT_ROUND_NEAREST_ACCUM (spinn_common round.h): round half up, saturating. */
static inline s1615 ostl_mul(s1615 x, s1615 y, ostl_saturations_t *sat) {
    if (x == INT32_MIN && y == INT32_MIN) { return INT32_MAX; }
    const int64_t p = (int64_t) x * (int64_t) y;
    return ostl_saturate((p >> 15) + ((p >> 14) & 1), &sat->multiply);
}

/* __stdfix_sadd_k: saturating addition; and the saturating difference. */
static inline s1615 ostl_add(s1615 x, s1615 y, ostl_saturations_t *sat) {
    return ostl_saturate((int64_t) x + (int64_t) y, &sat->add);
}

static inline s1615 ostl_sub(s1615 x, s1615 y, ostl_saturations_t *sat) {
    return ostl_saturate((int64_t) x - (int64_t) y, &sat->add);
}

/* -x and |x| with -INT32_MIN = |INT32_MIN| = INT32_MAX */
static inline s1615 ostl_neg(s1615 x) { return x == INT32_MIN ? INT32_MAX : -x; }
static inline s1615 ostl_abs(s1615 x) { return x < 0 ? ostl_neg(x) : x; }

/* A function on [0, 2^range) as 2^OSTL_TABLE_BITS + 1 values, interpolated linearly. */
#define OSTL_TABLE_BITS 10
typedef struct {
    const s1615 *values;    /* 2^OSTL_TABLE_BITS + 1 entries, encoded on the host */
    uint32_t shift;         /* fraction bits of x below one interval */
} ostl_table_t;

static inline s1615 ostl_table(const ostl_table_t *table, s1615 x) {   /* x >= 0 */
    const uint32_t index = (uint32_t) x >> table->shift;
    if (index >= (1u << OSTL_TABLE_BITS)) {
        return table->values[1u << OSTL_TABLE_BITS];
    }
    const int64_t t0 = table->values[index], t1 = table->values[index + 1];
    const int64_t frac = (int64_t) ((uint32_t) x & ((1u << table->shift) - 1u));
    return (s1615) (t0 + (((t1 - t0) * frac + ((int64_t) 1 << (table->shift - 1))) >> table->shift));
}

/* Counter-based 32-bit hash of (seed, trial, index) (lowbias32): stochastic rounding. */
static inline uint32_t ostl_hash(uint32_t seed, uint32_t trial, uint32_t index) {
    uint32_t h = seed ^ (trial * 0x9E3779B9u) ^ (index * 0x85EBCA6Bu);
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return h;
}

#endif
