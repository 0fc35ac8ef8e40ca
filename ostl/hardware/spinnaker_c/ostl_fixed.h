/*
 * ostl_fixed.h -- s16.15 fixed point as sPyNNaker computes it, integer only (no accum type:
 * the same source compiles for the host and for the ARM968 cores). See docs/spinnaker.md;
 * the NumPy model of every function is ostl/hardware/spinnaker.py.
 */
#ifndef OSTL_FIXED_H
#define OSTL_FIXED_H

#include <stdint.h>

typedef int32_t s1615;            /* value * 2^15 */
#define S1615_ONE ((s1615) 32768)

/* Saturation events, by kind (reported, never silent). */
typedef struct {
    uint32_t multiply;
    uint32_t add;
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

/* __stdfix_sadd_k: saturating addition. */
static inline s1615 ostl_add(s1615 x, s1615 y, ostl_saturations_t *sat) {
    return ostl_saturate((int64_t) x + (int64_t) y, &sat->add);
}

#endif
