/*
 * pseudo_derivative.h -- the pseudo-derivative of a spiking cell's output, shared by the LIF/ALIF
 * step (neuron_lif.c) and the SNU step (neuron_snu.c) (NumPy model: model.pseudo_derivative):
 * piecewise linear gamma max(0, 1 - |x|), or a table of the tanh / fast-sigmoid pseudo-derivative.
 */
#ifndef OSTL_PSEUDO_DERIVATIVE_H
#define OSTL_PSEUDO_DERIVATIVE_H

#include "ostl_kernels.h"

static inline s1615 ostl_pseudo_derivative(const ostl_cell_t *cell, s1615 x, ostl_saturations_t *sat) {
    const s1615 magnitude = ostl_abs(x);
    if (cell->has_pseudo_table) {
        return ostl_table(&cell->pseudo_table, magnitude);
    }
    const s1615 distance = magnitude >= S1615_ONE ? 0 : S1615_ONE - magnitude;
    return ostl_mul(cell->pseudo_gamma, distance, sat);
}

#endif
