/*
 * ostl_kernels.h -- the learning kernels' data and entry points, one file per concern:
 *   neuron_lif.c / neuron_snu.c   the neuron step with the factors the traces need
 *   synapse_input.c               16-bit ring buffers from spikes and weight words
 *   readout.c                     the readout neuron: potential, output, error, its traces
 *   learning_signal.c             L_j = sum_k B_jk payload_k
 *   eligibility.c                 per-synapse eligibility vector, filtered trace, gradient
 *   write_back.c                  the weight update on the 16-bit word grid at trial end
 *   network.c                     one trial of a network, step by step (the timer tick)
 * The NumPy model of all of it: ostl/hardware/spinnaker/model.py.
 */
#ifndef OSTL_KERNELS_H
#define OSTL_KERNELS_H

#include "ostl_fixed.h"

enum { OSTL_LIF = 0, OSTL_ALIF = 1, OSTL_SNU = 2, OSTL_SOFT_SNU = 3 };
enum { OSTL_LINEAR = 0, OSTL_SIGMOID = 1, OSTL_SOFTMAX = 2 };
enum { OSTL_RESIDUAL = 0, OSTL_STOCHASTIC = 1 };
#define OSTL_MAX_STATE 2
#define OSTL_WORD_LIMIT 0xFFFF

typedef struct {
    int32_t kind;               /* OSTL_LIF .. OSTL_SOFT_SNU */
    int32_t keep_reset_path;         /* the traces keep the reset path (OSTL), or drop it (e-prop) */
    s1615 alpha, rho, beta, v_th, inv_v_th;   /* LIF, ALIF */
    s1615 decay;                /* SNU, soft-reset SNU */
    int32_t relu;               /* SNU with g = ReLU */
    const s1615 *neuron_param;  /* per neuron: SNU bias, soft-reset SNU threshold */
    s1615 pseudo_gamma;         /* piecewise-linear pseudo-derivative (no table) */
    int32_t has_pseudo_table;
    ostl_table_t pseudo_table;
} ostl_cell_t;

/* The factors of one step, each n x d (row-major): see ostl.cells.LocalDerivatives. */
typedef struct {
    s1615 *decay;        /* ds^t/ds^{t-1} (diagonal) */
    s1615 *own_path;     /* ds^t/dy^{t-1}: reset (if kept) and adaptation */
    s1615 *input_gain;   /* ds^t/dI^t */
    s1615 *output_gain;  /* dy^t/ds^t: the pseudo-derivative */
} ostl_factors_t;

typedef struct {
    int32_t activation;         /* OSTL_LINEAR, OSTL_SIGMOID, OSTL_SOFTMAX */
    s1615 kappa;                /* leak (0: none) */
    uint32_t shift;             /* ring-buffer shift of its synapses */
    ostl_table_t sigmoid, exp;  /* sigmoid on x >= 0; exp(-x) on x >= 0 */
} ostl_readout_t;

void ostl_neuron_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                      ostl_factors_t *f, ostl_saturations_t *sat);
void ostl_lif_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                   ostl_factors_t *f, ostl_saturations_t *sat);
void ostl_snu_step(const ostl_cell_t *cell, uint32_t n, s1615 *state, int32_t *z, const s1615 *current,
                   ostl_factors_t *f, ostl_saturations_t *sat);

void ostl_synaptic_input(uint32_t n_post, uint32_t m, const int32_t *words, const uint8_t *pre, uint32_t shift,
                         s1615 *current, ostl_saturations_t *sat);

void ostl_readout_step(const ostl_readout_t *readout, uint32_t n_out, uint32_t n, const int32_t *words,
                       const s1615 *bias, s1615 *a, const uint8_t *z, const s1615 *target, s1615 mask,
                       s1615 *out, s1615 *delta, s1615 *scratch, ostl_saturations_t *sat);
void ostl_readout_traces(uint32_t n_out, uint32_t n, s1615 kappa, s1615 *ybar, s1615 *ones, s1615 *grad_w,
                         s1615 *grad_b, const uint8_t *z, const s1615 *delta, ostl_saturations_t *sat);

void ostl_learning_signal(uint32_t n, uint32_t n_out, const s1615 *feedback, const s1615 *payload, s1615 *signal,
                          ostl_saturations_t *sat);

void ostl_eligibility_step(uint32_t n, uint32_t m, uint32_t d, s1615 *eps, s1615 *ebar, s1615 *grad,
                           const ostl_factors_t *f, const s1615 *output_gain_prev, const uint8_t *pre,
                           const s1615 *signal, s1615 kappa, int32_t uses_own_path, ostl_saturations_t *sat);
void ostl_eligibility_presynaptic(uint32_t n, uint32_t m, s1615 *eps, s1615 *ebar, s1615 *grad,
                                  const ostl_factors_t *f, const uint8_t *pre, const s1615 *signal, s1615 kappa,
                                  ostl_saturations_t *sat);

void ostl_write_back(uint32_t count, int32_t *words, int16_t *residual, const s1615 *grad, const uint8_t *mask,
                     int32_t lr_mantissa, int32_t lr_shift, uint32_t shift, int32_t rounding, uint32_t seed,
                     uint32_t trial, uint32_t index_offset, ostl_saturations_t *sat);
s1615 ostl_update_bits(s1615 grad, int32_t lr_mantissa, int32_t lr_shift);
void ostl_bias_write_back(uint32_t count, s1615 *bias, const s1615 *grad, int32_t lr_mantissa, int32_t lr_shift,
                          ostl_saturations_t *sat);

/* One hidden layer of n cells (m = n_in inputs, + n own spikes of the previous step if recurrent)
 * and n_out readouts. */
typedef struct {
    uint32_t n_in, n, n_out, m, d, recurrent;
    uint32_t shift;             /* the hidden layer's ring-buffer shift */
    int32_t signal_source;      /* 0: the readouts send their errors; 1: their masked targets */
    int32_t uses_own_path;      /* the traces carry the own-spike path (reset kept, or ALIF) */
    int32_t presynaptic;        /* e-prop LIF: the eligibility vector is the presynaptic trace (eps: m values) */
    ostl_cell_t cell;
    ostl_readout_t readout;
} ostl_network_t;

/* The working state of a trial (arrays of the caller, zero at the start of a trial). */
typedef struct {
    s1615 *state;               /* n x d */
    int32_t *z;                 /* n: the spikes of the last step */
    uint8_t *pre;               /* m */
    s1615 *current;             /* n */
    ostl_factors_t factors;     /* n x d each */
    s1615 *output_gain_prev;    /* n x d */
    s1615 *eps;                 /* n x m x d, or m (presynaptic) */
    s1615 *ebar;                /* n x m, or NULL without a readout leak */
    s1615 *grad;                /* n x m */
    s1615 *a, *out, *delta, *payload, *scratch;   /* n_out each */
    s1615 *signal;              /* n */
    uint8_t *z_bytes;           /* n */
    s1615 *ybar;                /* n */
    s1615 *ones;                /* n_out */
    s1615 *grad_readout;        /* n_out x n */
    s1615 *grad_bias;           /* n_out */
} ostl_trial_state_t;

/* Optional per-step recordings (NULL: not recorded); T rows each. */
typedef struct {
    s1615 *state;               /* T x n x d */
    int32_t *spikes;            /* T x n */
    s1615 *readout;             /* T x n_out: the potentials a */
    s1615 *output;              /* T x n_out */
    s1615 *signal;              /* T x n */
} ostl_record_t;

void ostl_trial(const ostl_network_t *net, const int32_t *words, const int32_t *readout_words, const s1615 *bias,
                const s1615 *feedback, uint32_t steps, const uint8_t *x, const s1615 *target, const s1615 *mask,
                ostl_trial_state_t *s, ostl_record_t *record, ostl_saturations_t *sat);

#endif
