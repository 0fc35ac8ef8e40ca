/*
 * neuron_lif.c -- one step of the e-prop LIF and ALIF neurons (ostl.cells.LIF / ALIF) in s16.15,
 * with the factors the eligibility traces need (NumPy model: model.neuron_step):
 *
 *   v = alpha v + I - v_th z_prev                (products round to nearest, sums saturate)
 *   a = rho a + z_prev                           (ALIF; threshold A = v_th + beta a)
 *   u = (v - A) inv_v_th                         (no division on the core: 1/v_th from the host)
 *   z = u > 0
 *   psi = pseudo(u) inv_v_th                     (piecewise linear gamma max(0, 1 - |u|), or a table)
 *
 * factors (state v, a):  decay = (alpha, rho); own path = (-v_th if the reset path is kept, 1);
 *                        input gain = (1, 0);   output gain = (psi, -beta psi)
 */
#include "ostl_kernels.h"
#include "pseudo_derivative.h"

void ostl_lif_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                   ostl_factors_t *f, ostl_saturations_t *sat) {
    const uint32_t d = cell->kind == OSTL_ALIF ? 2 : 1;
    for (uint32_t j = 0; j < n; ++j) {
        s1615 *s = state + j * d;
        const int32_t spiked = z[j] != 0;
        s1615 v = ostl_add(ostl_mul(cell->alpha, s[0], sat), current[j], sat);
        if (spiked) {
            v = ostl_sub(v, cell->v_th, sat);
        }
        s[0] = v;
        s1615 threshold = cell->v_th;
        if (d == 2) {
            s1615 a = ostl_mul(cell->rho, s[1], sat);
            if (spiked) {
                a = ostl_add(a, S1615_ONE, sat);
            }
            threshold = ostl_add(threshold, ostl_mul(cell->beta, a, sat), sat);
            s[1] = a;
        }
        const s1615 u = ostl_mul(ostl_sub(v, threshold, sat), cell->inv_v_th, sat);
        z[j] = u > 0;
        const s1615 psi = ostl_mul(ostl_pseudo_derivative(cell, u, sat), cell->inv_v_th, sat);
        const uint32_t k = j * d;
        f->decay[k] = cell->alpha;
        f->own_path[k] = cell->keep_reset_path ? -cell->v_th : 0;
        f->input_gain[k] = S1615_ONE;
        f->output_gain[k] = psi;
        if (d == 2) {
            f->decay[k + 1] = cell->rho;
            f->own_path[k + 1] = S1615_ONE;
            f->input_gain[k + 1] = 0;
            f->output_gain[k + 1] = ostl_neg(ostl_mul(cell->beta, psi, sat));
        }
    }
}
