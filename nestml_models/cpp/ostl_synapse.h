/*
 *  ostl_synapse.h -- plastic synapse of the ostl rules (OSTL, OSTL w/o H, OSTL rnd, OSTTP,
 *  e-prop) for NEST.
 */

/* BeginUserDocs: synapse, e-prop plasticity, online learning

Short description
+++++++++++++++++

Plastic synapse of the ostl learning rules: eligibility vector per synapse, learning signal
from the target neuron, optimiser at trial ends

Description
+++++++++++

``ostl_synapse`` keeps its weight and its own eligibility vector. At every presynaptic spike
it first catches up on the postsynaptic learning neuron's archived per-step factors (the
Jacobian :math:`J`, input gain :math:`c` and pseudo-derivative :math:`q`; see
``snu_neuron_learning``), integrating

.. math::

   \epsilon^t = J^t \epsilon^{t-1} + c^t x^t, \quad
   e^t = q^t \cdot \epsilon^t, \quad
   \bar e^t = \kappa \bar e^{t-1} + e^t, \quad
   G \mathrel{+}= L^t \bar e^t

(OSTL eq. 12-16; e-prop eq. 22-28), then transmits the spike with the up-to-date weight. For
targets with a one-dimensional state (SNU, soft-reset SNU, LIF, readout) the catch-up is the
closed form of docs/equations.md section 8: the neuron keeps running products and sums of its
factors, and the synapse does O(1) work per presynaptic spike and per crossed segment (at most
64 steps), not per step; ALIF targets (a two-dimensional state) are integrated step by step. At
the last step of every trial it applies the optimiser to the trial's gradient :math:`G`
(gradient descent or Adam, the arithmetic of the ostl reference engine; with ``batch_size`` B,
at the end of every B-th trial to the average of the B trials' gradients) and resets. Which
rule it learns is decided by the neurons (their factors and ``keep_reset_path``) and by the
learning-signal pathway (``ostl_learning_signal_connection``): one synapse model serves
every rule. The target must be one of the ``*_learning`` neurons; the delay must be one
step. ``ostl_synapse_lbl`` is the labelled variant (used by PyNN).

Parameters
++++++++++

Common properties (``nest.SetDefaults`` / ``nest.CopyModel``), NEST's e-prop convention:

============================  =======  ====================  ========================================
Parameter                     Unit     Default               Description
============================  =======  ====================  ========================================
``optimizer["type"]``                  ``"gradient_descent"`` ``"gradient_descent"`` (also ``"sgd"``) or
                                                             ``"adam"``; ``{"optimizer": "adam"}``
                                                             sets the type alone
``optimizer["eta"]``                   0.0                   learning rate, >= 0
``optimizer["beta_1"]``                0.9                   Adam's first-moment decay, in [0, 1)
``optimizer["beta_2"]``                0.999                 Adam's second-moment decay, in [0, 1)
``optimizer["epsilon"]``               1e-8                  Adam's stabiliser, > 0
``optimizer["batch_size"]``            1                     trials per update (>= 1): the gradients of
                                                             a batch's trials are summed and their
                                                             average applied after its last trial
                                                             (trials counted from the target's first)
``optimizer["Wmin"]``, ``Wmax``        -inf, inf             weight bounds: the weight is clipped
                                                             into [Wmin, Wmax] after each update
============================  =======  ====================  ========================================

Individual properties:

============================  =======  =======  ===============================================
Parameter                     Unit     Default  Description
============================  =======  =======  ===============================================
``weight``                             1.0      synaptic weight (dimensionless, units of the model)
``delay``                     ms       1.0      one step
``adam_m``, ``adam_v``                 0.0      Adam's moments (settable: exact resumption)
``optimizer_steps``                    0        updates applied (Adam's bias correction)
============================  =======  =======  ===============================================

Write-only: ``catch_up`` (``True``: integrate the target's history up to the last complete
step now; a synapse catches up at its presynaptic spikes, so one whose source stays silent
keeps the target's history of the trial it last learned in until then -- set it for all
synapses every few hundred trials in long runs; ``NestNetwork`` and pyNN_ostl do it).

Read-only, caught up to the last complete step when read (so is ``weight``; the last complete
step is the target's newest update less its ``readout_lag`` + 1, the steps its learning signal
needs; where it is a trial's last step, the trial's update and reset are included):
``eligibility_vector`` (two components; the second for ALIF targets) and ``eligibility_trace``
(:math:`e = q \cdot \epsilon`), both at the end of that step (before a trial's reset),
``eligibility_trace_filtered``, ``gradient``, ``trace_sum`` (the trial's sum of unfiltered
traces, which the target's firing-rate regulariser ``c_reg`` multiplies; 0 without it),
``processed_step``, ``size_of`` (bytes);
``ostl_weight`` (the weight again: pyNN.nest scales what it reads as ``weight`` by 0.001).

Transmits
+++++++++

SpikeEvent

References
++++++++++

.. [1] Bohnstingl T, Wozniak S, Pantazi A, Eleftheriou E (2022). Online spatio-temporal
       learning in deep neural networks. IEEE TNNLS.
.. [2] Ortner T, Pes L, Gentinetta J, Frenkel C, Pantazi A (2023). Online spatio-temporal
       learning with target projection. AICAS.
.. [3] Bellec G et al. (2020). A solution to the learning dilemma for recurrent networks of
       spiking neurons. Nature Communications 11:3625.

See also
++++++++

snu_neuron_learning, ostl_learning_signal_connection, eprop_synapse

EndUserDocs */

#ifndef OSTL_SYNAPSE_H
#define OSTL_SYNAPSE_H

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "common_synapse_properties.h"
#include "connection.h"
#include "connector_model.h"
#include "exceptions.h"
#include "kernel_manager.h"

#include "ostl_learning.h"
#include "ostl_optimizer.h"

namespace ostl
{

class OstlSynapseCommonProperties : public nest::CommonSynapseProperties
{
public:
  OptimizerSettings optimizer;

  //! ``optimizer``: NEST's e-prop dictionary (type, eta, beta_1, beta_2, epsilon, batch_size,
  //! Wmin, Wmax), see the user documentation above (ostl_optimizer.h).
  void
  get_status( Dictionary& d ) const
  {
    nest::CommonSynapseProperties::get_status( d );
    d[ "optimizer" ] = optimizer_status( optimizer );
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    nest::CommonSynapseProperties::set_status( d, cm );
    update_optimizer( d, "optimizer", optimizer );
  }
};

template < typename targetidentifierT >
class ostl_synapse : public nest::Connection< targetidentifierT >
{
public:
  typedef OstlSynapseCommonProperties CommonPropertiesType;
  typedef nest::Connection< targetidentifierT > ConnectionBase;

  static constexpr nest::ConnectionModelProperties properties =
    nest::ConnectionModelProperties::HAS_DELAY | nest::ConnectionModelProperties::IS_PRIMARY
    | nest::ConnectionModelProperties::SUPPORTS_LBL;   // ostl_synapse_lbl (PyNN labels its projections)

  ostl_synapse() = default;
  ostl_synapse( const ostl_synapse& ) = default;
  ostl_synapse& operator=( const ostl_synapse& ) = default;

  using ConnectionBase::get_delay_steps;
  using ConnectionBase::get_rport;
  using ConnectionBase::get_target;

  class ConnTestDummyNode : public nest::ConnTestDummyNodeBase
  {
  public:
    using nest::ConnTestDummyNodeBase::handles_test_event;
    size_t
    handles_test_event( nest::SpikeEvent&, size_t ) override
    {
      return nest::invalid_port;
    }
  };

  void
  check_connection( nest::Node& s, nest::Node& t, size_t receptor_type, const CommonPropertiesType& cp )
  {
    ConnTestDummyNode dummy_target;
    ConnectionBase::check_connection_( dummy_target, s, t, receptor_type );
    LearningNode* learner = dynamic_cast< LearningNode* >( &t );
    if ( learner == nullptr )
    {
      throw nest::IllegalConnection( "ostl_synapse: the target must be a learning neuron "
                                     "(snu_neuron_learning, soft_reset_snu_neuron_learning, lif_neuron_learning, "
                                     "alif_neuron_learning or readout_neuron_learning)" );
    }
    if ( get_delay_steps() != 1 )
    {
      throw nest::BadProperty( "ostl_synapse: delay must be one simulation step (the reference engine's y^{t-1}), got "
        + std::to_string( get_delay_steps() ) + " steps" );
    }
    learner->register_plastic_synapse();
    learner_ = learner;   // the cross-cast once, not at every spike
  }

  bool
  send( nest::Event& e, size_t thread, const CommonPropertiesType& cp )
  {
    transmit( e, thread, cp.optimizer, nullptr, weight_ );
    return true;
  }

  void
  get_status( Dictionary& d ) const
  {
    ConnectionBase::get_status( d );
    SynapseLearningState s = state_;
    SynapseLearningState step_end = state_;
    double w = weight_;
    if ( learner_ != nullptr )
    {
      learner_->catch_up_copy( s, w, common_properties().optimizer, nullptr, &step_end );
    }
    learning_status( d, s, w, step_end );
  }

protected:
  /**
   * The common properties of this synapse's model (``Common``: its type), looked up through NEST's
   * model manager where a status call needs them: a synapse keeps no pointer to them (8 bytes of
   * every synapse).
   */
  template < class Common = CommonPropertiesType >
  const Common&
  common_properties() const
  {
    const nest::ConnectorModel& model = nest::kernel().model_manager.get_connection_model(
      this->get_syn_id(), nest::kernel().vp_manager.get_thread_id() );
    return static_cast< const Common& >( model.get_common_properties() );
  }

  //! Catch up on the target's history to the spike's arrival (``end``: the trial-end action,
  //! nullptr for the optimiser step), register the spike, and send it with weight ``w``
  //! (a reference: read after the catch-up).
  void
  transmit( nest::Event& e, size_t thread, const OptimizerSettings& opt, const TrialEnd* end, const double& w )
  {
    nest::Node* target = get_target( thread );
    const long arrival = e.get_stamp().get_steps() + get_delay_steps() - 1;
    learner_->catch_up( state_, weight_, arrival - LEARNING_SIGNAL_LAG, opt, end );
    learner_->add_spike( state_, arrival );
    e.set_receiver( *target );
    e.set_weight( w );
    e.set_delay_steps( get_delay_steps() );
    e.set_rport( get_rport() );
    e();
  }

  //! The learning quantities of a (caught-up copy of the) synapse state, and its weight; the
  //! eligibility vector and trace of the last complete step from ``step_end`` (the state before a
  //! trial's update and reset, where that step is a trial's last; LearningNode::catch_up_copy).
  void
  learning_status( Dictionary& d, const SynapseLearningState& s, double w, const SynapseLearningState& step_end ) const
  {
    d[ nest::names::weight ] = w;
    d[ "ostl_weight" ] = w;   // the same, under a name pyNN.nest reads unscaled
    d[ "eligibility_vector" ] =
      std::vector< double >{ step_end.eligibility_vector[ 0 ], step_end.eligibility_vector[ 1 ] };
    d[ "eligibility_trace" ] = learner_ != nullptr ? learner_->eligibility_trace( step_end ) : 0.0;
    d[ "eligibility_trace_filtered" ] = s.eligibility_trace_filtered;
    d[ "gradient" ] = s.gradient;
    d[ "trace_sum" ] = s.trace_sum;
    d[ "processed_step" ] = s.processed_step;
    d[ "adam_m" ] = s.adam_m;
    d[ "adam_v" ] = s.adam_v;
    d[ "optimizer_steps" ] = static_cast< long >( s.optimizer_steps );
    d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
  }

public:
  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    ConnectionBase::set_status( d, cm );
    bool catch_up = false;
    d.update_value( "catch_up", catch_up );
    if ( catch_up and learner_ != nullptr )
    {
      // integrate what is complete now, so that the target can drop the history this synapse
      // held (a synapse whose source is silent catches up at no spike); exact: the replay is
      // the same step-by-step recursion however it is split
      learner_->catch_up( state_, weight_, learner_->complete_step(), common_properties().optimizer );
    }
    d.update_value( nest::names::weight, weight_ );
    // the optimiser state, so that training can be saved and resumed exactly
    d.update_value( "adam_m", state_.adam_m );
    d.update_value( "adam_v", state_.adam_v );
    set_optimizer_steps( d, state_ );
  }

  void
  set_weight( double w )
  {
    weight_ = w;
  }

protected:   // ostl_pcm_synapse (ostl_pcm_synapse.h) extends it
  double weight_ = 1.0;
  SynapseLearningState state_;
  LearningNode* learner_ = nullptr;     //!< the target, as the learning interface (set when connecting)
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties ostl_synapse< targetidentifierT >::properties;

}  // namespace ostl

#endif
