/*
 * neuron_lif.c -- one step of the e-prop LIF neuron (ostl.cells.LIF) in s16.15, with the
 * pseudo-derivative the learning rules need:
 *
 *   v = alpha v + I - v_th z_prev            (multiplies round to nearest, sums saturate)
 *   u = (v - v_th) / v_th                    (as (v - v_th) * inv_v_th: no division on the core)
 *   z = u > 0
 *   psi = gamma max(0, 1 - |u|) / v_th       (piecewise linear, as gamma * (...) * inv_v_th)
 *
 * The NumPy model is ostl.hardware.spinnaker.lif_update.
 */
#include "ostl_fixed.h"

typedef struct {
    s1615 alpha;      /* exp(-dt / tau_m), encoded on the host */
    s1615 v_th;
    s1615 inv_v_th;   /* 1 / v_th, encoded on the host */
    s1615 gamma;
} ostl_lif_params_t;

void ostl_lif_update(uint32_t n, s1615 *v, int32_t *z, const s1615 *input, const ostl_lif_params_t *p,
                     s1615 *pseudo, ostl_saturations_t *sat) {
    for (uint32_t i = 0; i < n; ++i) {
        s1615 potential = ostl_mul(p->alpha, v[i], sat);
        potential = ostl_add(potential, input[i], sat);
        if (z[i]) {
            potential = ostl_add(potential, -p->v_th, sat);
        }
        v[i] = potential;
        const s1615 u = ostl_mul(ostl_add(potential, -p->v_th, sat), p->inv_v_th, sat);
        z[i] = u > 0;
        const s1615 magnitude = u == INT32_MIN ? INT32_MAX : (u < 0 ? -u : u);   /* |u|, saturated */
        const s1615 distance = magnitude >= S1615_ONE ? 0 : S1615_ONE - magnitude;
        pseudo[i] = ostl_mul(ostl_mul(p->gamma, distance, sat), p->inv_v_th, sat);
    }
}
