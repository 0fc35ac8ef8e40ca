/*
 * neuron.c -- one step of a hidden layer's cells: the LIF/ALIF step (neuron_lif.c) or the SNU /
 * soft-reset SNU step (neuron_snu.c), by the layer's cell kind (NumPy model:
 * model.neuron_step).
 */
#include "ostl_kernels.h"

void ostl_neuron_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                      ostl_factors_t *f, ostl_saturations_t *sat) {
    if (cell->kind == OSTL_LIF || cell->kind == OSTL_ALIF) {
        ostl_lif_step(cell, n, state, z, current, f, sat);
    } else {
        ostl_snu_step(cell, n, state, z, current, f, sat);
    }
}
