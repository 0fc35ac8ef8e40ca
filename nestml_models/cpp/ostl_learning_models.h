/*
 *  ostl_learning_models.h -- registration of the learning models in the ostl NEST module
 *  (included by the module file that NESTML generates from our module template,
 *  nestml_models/templates/module).
 */

/* BeginUserDocs: neuron, e-prop plasticity, online learning

Short description
+++++++++++++++++

Learning versions of the ostl neurons: ``snu_neuron_learning``,
``soft_reset_snu_neuron_learning``, ``lif_neuron_learning``, ``alif_neuron_learning``,
``readout_neuron_learning``

Description
+++++++++++

Each ``<model>_learning`` is the NESTML neuron ``<model>`` (same dynamics, parameters and
recordables, documented in its ``.nestml`` file; the hidden cells are generated from the ostl
reference engine) with what a plastic ``ostl_synapse`` needs:

- after every update it archives the step's factors (the Jacobian ``jacobian``, the input
  gain ``input_gain`` and the pseudo-derivatives ``pseudo_derivative``) in a short history
  that its incoming ``ostl_synapse`` connections replay at their next presynaptic spike; the
  history of a trial is dropped once every synapse has caught up;
- it receives learning signals as ``LearningSignalConnectionEvent`` (NEST's e-prop secondary
  event) over ``ostl_learning_signal_connection`` and adds them to the step they belong to;
- ``readout_neuron_learning`` archives ``J = 0``, ``c = q = 1`` with its own error as the
  learning signal (its incoming synapses learn their exact gradient) and sends, every step,
  its error -- or, for OSTTP, its masked target -- to the hidden neurons;
- a softmax readout (``activation`` "softmax", cross-entropy) sends its potential to every
  readout, itself included, over ``rate_connection_delayed`` (delay one step, receptor type =
  the sender's index + 1, as NEST's ``eprop_readout_bsshslm_2020`` exchanges its signal); one
  update later it computes ``softmax`` over all potentials (in readout order) and its error,
  which it sends then: its hidden neurons' ``readout_lag`` is one larger.

Trials: ``trial_steps`` active updates from ``first_step`` on, each followed by
``pause_steps`` silent updates, at least ``readout_lag + 1`` (2 for the last hidden layer of a
linear readout): the time a learning signal needs to arrive. ``first_step`` -1 (pyNN_ostl.nest's
time mapping): a hidden neuron runs the first trial's step 0, which comes before NEST's first
update, at its first update, from rest and without input (nothing reaches it), one step back in
time and unrecorded, so that its factors and its own parameter's trace of that step exist.

Recordables: those of the NESTML model (its state and per-step factors: ``pseudo_derivative``,
``jacobian``, ...) and, on hidden neurons, ``learning_signal``: the learning signal of the update
``readout_lag`` + 1 before, the newest complete one (as NEST's ``eprop_iaf`` records its learning
signal when it arrives).

Parameters
++++++++++

Those of the NESTML model, and:

====================  =======  =========  ===================================================
Parameter             Unit     Default    Description
====================  =======  =========  ===================================================
``readout_leak``               0.0        hidden neurons: kappa in [0, 1), the leak of the
                                          readout, which filters the eligibility traces
                                          (e-prop eq. 28); the readout filters with ``leak``
``learning_signal``            "error"    readout: "error" (OSTL, e-prop) or "target" (OSTTP:
                                          the masked target is projected)
``readout_lag``                1          hidden neurons: updates by which the readout's step
                                          t follows this layer's step t (k - l for layer l of
                                          k, one more for a softmax readout), in [1, 32]
``c_reg``                      0.0        hidden neurons: the firing-rate regulariser's weight
                                          (>= 0; NEST's e-prop ``c_reg``)
``f_target``          Hz       0.0        hidden neurons: its target rate, at most one spike
                                          per step
====================  =======  =========  ===================================================

Choice parameters (``pseudo``, ``activation``) take names; an unknown name, or a value that
breaks a parameter's invariant (``decay`` in [0, 1), ``tau_m`` > 0, ...), raises
``BadProperty`` and leaves the neuron unchanged.

Read-only: ``history_steps``, the steps of factors the neuron keeps now (pruned at trial
starts once every incoming synapse has caught up; bounded by a few trials).

Recordables
+++++++++++

Those of the NESTML model (``V_m`` or ``v``, ``y``, ``jacobian``, ``pseudo_derivative``, ...).

Receives
++++++++

SpikeEvent, LearningSignalConnectionEvent (hidden neurons), CurrentEvent (readout: target and
loss mask on receptors 0 and 1), DelayedRateConnectionEvent (softmax readout: the readouts'
potentials, receptor = sender index + 1)

Sends
+++++

SpikeEvent (hidden neurons), LearningSignalConnectionEvent (readout), DelayedRateConnectionEvent
(softmax readout)

References
++++++++++

.. [1] Bohnstingl T et al. (2022). Online spatio-temporal learning in deep neural networks.
       IEEE TNNLS.
.. [2] Ortner T, Pes L et al. (2023). Online spatio-temporal learning with target projection.
.. [3] Bellec G et al. (2020). A solution to the learning dilemma for recurrent networks of
       spiking neurons. Nature Communications 11:3625.

See also
++++++++

ostl_synapse, ostl_learning_signal_connection, eprop_iaf

EndUserDocs */

/* BeginUserDocs: synapse, e-prop plasticity, online learning

Short description
+++++++++++++++++

Learning-signal pathway of the ostl rules (readout to hidden neurons)

Description
+++++++++++

``ostl_learning_signal_connection`` is NEST's ``eprop_learning_signal_connection``: it carries
the readout's learning signal (error, or masked target for OSTTP) to a hidden learning neuron
as a ``LearningSignalConnectionEvent``, multiplied by its weight -- the feedback matrix entry
``B_jk`` (random feedback, target projection) or the readout weight ``W_out[k, j]`` (symmetric
feedback, copied in the trial pauses). ``ostl_learning_signal_connection_lbl`` is the
labelled variant (PyNN labels its projections).

Parameters
++++++++++

``weight`` (the feedback weight), ``delay`` (1 step); read-only ``ostl_weight`` (the weight
again: pyNN.nest scales what it reads as ``weight`` by 0.001).

Transmits
+++++++++

LearningSignalConnectionEvent

See also
++++++++

ostl_synapse, readout_neuron_learning

EndUserDocs */

#ifndef OSTL_LEARNING_MODELS_H
#define OSTL_LEARNING_MODELS_H

#include "alif_neuron.h"
#include "lif_neuron.h"
#include "readout_neuron.h"
#include "snu_neuron.h"
#include "soft_reset_snu_neuron.h"

#include "eprop_learning_signal_connection.h"

#include "ostl_checked.h"
#include "ostl_choices.h"
#include "ostl_learning_neurons.h"
#include "ostl_pcm_synapse.h"
#include "ostl_synapse.h"

namespace ostl
{

template < typename targetidentifierT >
class ostl_learning_signal_connection : public nest::eprop_learning_signal_connection< targetidentifierT >
{
public:
  static constexpr nest::ConnectionModelProperties properties =
    nest::ConnectionModelProperties::HAS_DELAY | nest::ConnectionModelProperties::SUPPORTS_LBL;

  void
  get_status( Dictionary& d ) const
  {
    nest::eprop_learning_signal_connection< targetidentifierT >::get_status( d );
    d[ "ostl_weight" ] = d[ nest::names::weight ];   // the weight under a name pyNN.nest reads unscaled
  }
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties ostl_learning_signal_connection< targetidentifierT >::properties;

inline void
register_learning_models()
{
  nest::register_node_model< learning_neuron< checked_neuron< snu_neuron >, SNUFactors > >( "snu_neuron_learning" );
  nest::register_node_model< learning_neuron< checked_neuron< soft_reset_snu_neuron >, UnitGainFactors > >(
    "soft_reset_snu_neuron_learning" );
  nest::register_node_model< learning_neuron< checked_neuron< lif_neuron >, UnitGainFactors > >(
    "lif_neuron_learning" );
  nest::register_node_model< learning_neuron< checked_neuron< alif_neuron >, ALIFFactors > >(
    "alif_neuron_learning" );
  nest::register_node_model< learning_neuron< checked_neuron< readout_neuron >, ReadoutFactors > >(
    "readout_neuron_learning" );
  nest::register_connection_model< ostl_synapse >( "ostl_synapse" );
  nest::register_connection_model< ostl_pcm_synapse >( "ostl_pcm_synapse" );
  nest::register_connection_model< ostl_learning_signal_connection >( "ostl_learning_signal_connection" );
}

}  // namespace ostl

#endif
