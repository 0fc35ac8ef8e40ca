"""The plasticity processor's per-step lane arithmetic (:meth:`PPUAccumulator.step
<ostl.hardware.brainscales2.accumulators.PPUAccumulator.step>`) in one C call.

The NumPy code of :class:`~ostl.hardware.brainscales2.accumulators.PPUAccumulator` is the
definition; this is the same integer arithmetic, element by element (every operation on a
synapse's lanes depends only on that synapse, its neuron's and its source's values), so it is
equal bit for bit, saturation count included (``tests/test_brainscales2.py``). The NumPy step
made ~30 array operations on ``(n, m)`` lanes per step, most of its time Python's: 0.63 ms per
step on the evidence-accumulation network (50 ALIF neurons, 90 sources).

Integer semantics as NumPy's int64: ``>>`` is an arithmetic shift (floor; GCC's documented
behaviour for signed integers), and left shifts are written as multiplications (a left shift of
a negative value is undefined in C).
"""

from __future__ import annotations

import ctypes

import numpy as np

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>

typedef int64_t lane;

static inline lane mul(lane a, lane b)          /* multiply_fractional_rounded, 16-bit lanes */
{
    lane total = a * b * 2 + (1 << 15);
    lane high = total >> 16;
    return high < 32767 ? high : 32767;
}

static inline lane add(lane a, lane b)          /* add_saturating_lanes, 16 bits */
{
    lane s = a + b;
    return s < -32768 ? -32768 : (s > 32767 ? 32767 : s);
}

static inline void count(lane total, int64_t *saturations)
{
    *saturations += (total > 32767) + (total < -32768);
}

/* _rescale, times 2^shift, per source column: left shifts saturate (and are counted), right shifts
   round half up. Branch-free inside the loops: each column's factor, rounding and shift are set
   once per call (a left column has r = 0 and half = 0, a right one factor 1: with a lane in range,
   the unused half of the formula returns x unchanged and counts nothing) */
typedef struct { lane factor, half, r; } column;

static void columns(long m, const lane *shift, column *out)
{
    for (long j = 0; j < m; ++j) {
        lane s = shift[j] > 0 ? (shift[j] < 15 ? shift[j] : 15) : 0;
        lane r = shift[j] < 0 ? (-shift[j] < 15 ? -shift[j] : 15) : 0;
        out[j].factor = (lane)1 << s;
        out[j].r = r;
        out[j].half = r ? (lane)1 << (r - 1) : 0;
    }
}

static inline lane rescale(lane x, const column *c, int64_t *saturations)
{
    lane shifted = x * c->factor;
    count(shifted, saturations);
    lane left = shifted < -32768 ? -32768 : (shifted > 32767 ? 32767 : shifted);
    lane sum = left + c->half;
    return (sum < 32767 ? sum : 32767) >> c->r;
}

static inline lane widen(lane x, long bits) { return x * ((lane)1 << (16 - bits)); }

static inline lane narrow(lane x, long bits, int toward_zero)
{
    if (bits == 16) return x;
    long shift = 16 - bits;
    if (toward_zero) return x >= 0 ? x >> shift : -((-x) >> shift);
    lane y = (x + ((lane)1 << (shift - 1))) >> shift;
    lane low = -((lane)1 << (bits - 1)), high = ((lane)1 << (bits - 1)) - 1;
    return y < low ? low : (y > high ? high : y);
}

/* One step of PPUAccumulator.step for n neurons x m sources. Per neuron: psi, signal (and ALIF:
   psi_prev, beta_psi_prev, beta_psi); per source: zbar, e_shift, ebar_shift, acc_shift (and ALIF:
   zbar_prev, fresh_shift, forget_shift, adaptation_shift). ebar (null: no leaky readout), acc and
   eps_a (null: LIF) are updated in place; saturations accumulates the count. */
static inline __attribute__((always_inline)) void
ppu_step(const int adaptive, const int leaky, long n, long m, long trace_bits, long acc_bits, long kappa, long rho,
         const lane *psi, const lane *zbar, const lane *signal,
         const lane *e_shift, const lane *ebar_shift, const lane *acc_shift,
         const lane *psi_prev, const lane *zbar_prev, const lane *beta_psi_prev, const lane *beta_psi,
         const lane *fresh_shift, const lane *forget_shift, const lane *adaptation_shift,
         lane *ebar, lane *acc, lane *eps_a, int64_t *saturations)
{
    int64_t sat = 0;
    column *table = malloc(5 * m * sizeof(column));
    if (!table) return;
    column *c_e = table, *c_ebar = table + m, *c_acc = table + 2 * m, *c_fresh = table + 3 * m,
           *c_forget = table + 4 * m;
    column *c_adaptation = c_e;   /* set below where adaptive */
    columns(m, e_shift, c_e);
    columns(m, acc_shift, c_acc);
    if (leaky) columns(m, ebar_shift, c_ebar);
    column *adaptation_table = 0;
    if (adaptive) {
        adaptation_table = malloc(m * sizeof(column));
        if (!adaptation_table) { free(table); return; }
        columns(m, fresh_shift, c_fresh);
        columns(m, forget_shift, c_forget);
        columns(m, adaptation_shift, adaptation_table);
        c_adaptation = adaptation_table;
    }
    for (long i = 0; i < n; ++i) {
        for (long j = 0; j < m; ++j) {
            const long k = i * m + j;
            lane e = rescale(mul(psi[i], zbar[j]), c_e + j, &sat);
            if (adaptive) {   /* _adaptation */
                lane eps = eps_a[k];
                lane decayed = mul(eps, rho);
                lane fresh = rescale(mul(psi_prev[i], zbar_prev[j]), c_fresh + j, &sat);
                lane forget = rescale(mul(beta_psi_prev[i], eps), c_forget + j, &sat);
                count(decayed + fresh, &sat);
                eps = add(decayed, fresh);
                count(eps - forget, &sat);
                eps = add(eps, -forget);
                eps_a[k] = eps;
                lane adaptation = rescale(mul(beta_psi[i], eps), c_adaptation + j, &sat);
                count(e - adaptation, &sat);
                e = add(e, -adaptation);
            }
            if (leaky) {
                lane decayed = mul(widen(ebar[k], trace_bits), kappa);
                lane scaled = rescale(e, c_ebar + j, &sat);
                count(decayed + scaled, &sat);
                ebar[k] = narrow(add(decayed, scaled), trace_bits, 1);
                e = widen(ebar[k], trace_bits);
            }
            lane contribution = rescale(mul(signal[i], e), c_acc + j, &sat);
            lane accumulator = widen(acc[k], acc_bits);
            count(accumulator + contribution, &sat);
            acc[k] = narrow(add(accumulator, contribution), acc_bits, 0);
        }
    }
    free(table);
    free(adaptation_table);
    *saturations += sat;
}

/* the four cell/readout combinations with their flags constant (branches out of the loop) */
void ostl_ppu_step(long n, long m, long trace_bits, long acc_bits, long kappa, long rho,
                   const lane *psi, const lane *zbar, const lane *signal,
                   const lane *e_shift, const lane *ebar_shift, const lane *acc_shift,
                   const lane *psi_prev, const lane *zbar_prev, const lane *beta_psi_prev, const lane *beta_psi,
                   const lane *fresh_shift, const lane *forget_shift, const lane *adaptation_shift,
                   lane *ebar, lane *acc, lane *eps_a, int64_t *saturations)
{
#define PPU_ARGS n, m, trace_bits, acc_bits, kappa, rho, psi, zbar, signal, e_shift, ebar_shift, acc_shift, \
    psi_prev, zbar_prev, beta_psi_prev, beta_psi, fresh_shift, forget_shift, adaptation_shift, ebar, acc, eps_a, \
    saturations
    if (eps_a && ebar) ppu_step(1, 1, PPU_ARGS);
    else if (eps_a) ppu_step(1, 0, PPU_ARGS);
    else if (ebar) ppu_step(0, 1, PPU_ARGS);
    else ppu_step(0, 0, PPU_ARGS);
#undef PPU_ARGS
}
"""

_library = None


def library():
    """The kernel (built once per process, then from the disk cache; BackendUnavailableError without a
    C compiler)."""
    global _library
    if _library is None:
        from ...cbuild import shared_library

        lib = shared_library("the BrainScaleS-2 PPU kernel", "engine", "libostl_ppu.so", {"ppu.c": SOURCE},
                             ("-O3", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"))
        lib.ostl_ppu_step.restype = None
        lib.ostl_ppu_step.argtypes = [ctypes.c_long] * 6 + [ctypes.c_void_p] * 17
        _library = lib
    return _library


def available():
    """Whether the kernel builds here."""
    from ...errors import BackendUnavailableError

    try:
        library()
        return True
    except BackendUnavailableError:
        return False


def _int64(array):
    return None if array is None else np.ascontiguousarray(array, dtype=np.int64)


def step(acc, psi, zbar, signal, ebar=None, eps_a=None, previous=None, beta_psi=None):
    """One step on ``acc`` (a :class:`PPUAccumulator`): its lanes updated in place, its chip's
    saturation count raised; the arguments are the step's lane vectors (see the C source)."""
    from ...compiled import address

    chip = acc.chip
    n, m = acc.acc_lanes.shape
    for lanes in (ebar, acc.acc_lanes, eps_a):   # updated in place: a converted copy would lose the update
        if lanes is not None and not (lanes.flags.c_contiguous and lanes.dtype == np.int64):
            raise ValueError("the PPU's lanes must be C-contiguous int64 arrays")
    psi, zbar, signal = _int64(psi), _int64(zbar), _int64(signal)
    shifts = getattr(acc, "_kernel_shifts", None)
    if shifts is None:   # per source, fixed for the accumulator's life: converted once
        names = ("e_shift", "ebar_shift", "acc_shift", "fresh_shift", "forget_shift", "adaptation_shift")
        shifts = acc._kernel_shifts = tuple(
            _int64(np.broadcast_to(getattr(acc, name), (m,))) if hasattr(acc, name) else None for name in names)
    e_shift, ebar_shift, acc_shift, fresh, forget, adaptation = shifts
    adaptive = eps_a is not None
    if adaptive:
        psi_prev, zbar_prev, beta_psi_prev = (_int64(a) for a in previous)
        beta_psi = _int64(beta_psi)
    else:
        psi_prev = zbar_prev = beta_psi_prev = fresh = forget = adaptation = None
    if ebar is None:
        ebar_shift = None
    saturations = np.zeros(1, dtype=np.int64)
    library().ostl_ppu_step(n, m, acc.trace_bits, acc.acc_bits, int(acc.kappa_lanes), int(getattr(acc, "rho_lanes", 0)),
                            address(psi), address(zbar), address(signal), address(e_shift), address(ebar_shift),
                            address(acc_shift), address(psi_prev), address(zbar_prev), address(beta_psi_prev),
                            address(beta_psi), address(fresh), address(forget), address(adaptation), address(ebar),
                            address(acc.acc_lanes), address(eps_a), address(saturations))
    chip.saturations += int(saturations[0])
