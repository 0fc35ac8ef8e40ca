/*
 * neuron_snu.c -- one step of the SNU (OSTL eq. 1-2) and the soft-reset SNU (OSTTP eq. 3-4) in
 * s16.15, with the factors of their eligibility traces (NumPy model: model.neuron_step).
 *
 * SNU:            s = g(I + decay s_prev (1 - y_prev)),  y = s + b > 0,  psi = pseudo(s + b)
 *                 g = identity or ReLU (g' = 1 where its argument is > 0);
 *                 decay factor decay (1 - y_prev) g', own path -decay s_prev g' (if kept), gain g'
 * soft-reset SNU: s = I + decay s_prev - b y_prev,        y = s - b > 0,  psi = pseudo(s - b)
 *                 decay factor decay, own path -b (if kept), gain 1
 * b is per neuron (the SNU's bias, the soft-reset SNU's threshold).
 */
#include "ostl_kernels.h"
#include "pseudo_derivative.h"

void ostl_snu_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                   ostl_factors_t *f, ostl_saturations_t *sat) {
    for (uint32_t j = 0; j < n; ++j) {
        const int32_t spiked = z[j] != 0;
        const s1615 b = cell->neuron_param[j];
        s1615 x;
        if (cell->kind == OSTL_SNU) {
            const s1615 leak = ostl_mul(cell->decay, state[j], sat);
            const s1615 pre = spiked ? current[j] : ostl_add(current[j], leak, sat);
            const int32_t gain = cell->relu ? pre > 0 : 1;
            const s1615 s = gain ? pre : 0;
            state[j] = s;
            x = ostl_add(s, b, sat);
            f->decay[j] = (spiked || !gain) ? 0 : cell->decay;
            f->own_path[j] = (gain && cell->keep_reset_path) ? ostl_neg(leak) : 0;
            f->input_gain[j] = gain ? S1615_ONE : 0;
        } else {
            s1615 s = ostl_add(ostl_mul(cell->decay, state[j], sat), current[j], sat);
            if (spiked) {
                s = ostl_sub(s, b, sat);
            }
            state[j] = s;
            x = ostl_sub(s, b, sat);
            f->decay[j] = cell->decay;
            f->own_path[j] = cell->keep_reset_path ? ostl_neg(b) : 0;
            f->input_gain[j] = S1615_ONE;
        }
        z[j] = x > 0;
        f->output_gain[j] = ostl_pseudo_derivative(cell, x, sat);
    }
}
