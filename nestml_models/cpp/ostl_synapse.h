/*
 *  ostl_synapse.h -- plastic synapse of the ostl rules (OSTL, OSTL w/o H, OSTL rnd, OSTTP,
 *  e-prop) for NEST.
 *
 *  The synapse keeps its weight and its own eligibility vector (SynapseLearningState). At
 *  every presynaptic spike it first catches up on the postsynaptic neuron's archived
 *  factors (ostl::LearningHistory::replay: the eligibility recursion, the gradient, and the
 *  optimiser at every trial end), then transmits the spike with the up-to-date weight. Which
 *  rule it learns is decided by the neurons (factors, ``keep_reset_path``) and the
 *  learning-signal pathway; the synapse is the same for all.
 *
 *  Parameters (common to all synapses of the model, set with nest.SetDefaults or
 *  nest.CopyModel): ``learning_rate`` (>= 0), ``optimizer`` ("sgd" or "adam"),
 *  ``adam_beta1``, ``adam_beta2`` (in [0, 1)), ``adam_epsilon`` (> 0). Per synapse:
 *  ``weight``; read-only: ``eligibility_vector``, ``eligibility_trace_filtered``,
 *  ``gradient``, ``processed_step``; the optimiser state ``adam_m``, ``adam_v``,
 *  ``optimizer_steps`` (settable, for exact resumption); all caught up to the last complete step when read (so is
 *  ``weight``). Delays must be one step.
 *
 *  References: Bohnstingl et al., IEEE TNNLS 2022 (OSTL); Ortner, Pes et al. 2023 (OSTTP);
 *  Bellec et al., Nat Commun 2020 (e-prop).
 */

#ifndef OSTL_SYNAPSE_H
#define OSTL_SYNAPSE_H

#include <string>

#include "common_synapse_properties.h"
#include "connection.h"
#include "connector_model.h"
#include "exceptions.h"

#include "ostl_learning.h"

namespace ostl
{

class OstlSynapseCommonProperties : public nest::CommonSynapseProperties
{
public:
  OptimizerSettings optimizer;

  void
  get_status( Dictionary& d ) const
  {
    nest::CommonSynapseProperties::get_status( d );
    d[ "learning_rate" ] = optimizer.learning_rate;
    d[ "optimizer" ] = std::string( optimizer.adam ? "adam" : "sgd" );
    d[ "adam_beta1" ] = optimizer.beta1;
    d[ "adam_beta2" ] = optimizer.beta2;
    d[ "adam_epsilon" ] = optimizer.epsilon;
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    nest::CommonSynapseProperties::set_status( d, cm );
    OptimizerSettings next = optimizer;
    std::string kind = next.adam ? "adam" : "sgd";
    d.update_value( "optimizer", kind );
    d.update_value( "learning_rate", next.learning_rate );
    d.update_value( "adam_beta1", next.beta1 );
    d.update_value( "adam_beta2", next.beta2 );
    d.update_value( "adam_epsilon", next.epsilon );
    if ( kind != "sgd" and kind != "adam" )
    {
      throw nest::BadProperty( "optimizer must be 'sgd' or 'adam', got '" + kind + "'" );
    }
    if ( not( next.learning_rate >= 0.0 ) )
    {
      throw nest::BadProperty( "learning_rate must be >= 0" );
    }
    if ( not( next.beta1 >= 0.0 and next.beta1 < 1.0 and next.beta2 >= 0.0 and next.beta2 < 1.0 ) )
    {
      throw nest::BadProperty( "adam_beta1 and adam_beta2 must be in [0, 1)" );
    }
    if ( not( next.epsilon > 0.0 ) )
    {
      throw nest::BadProperty( "adam_epsilon must be > 0" );
    }
    next.adam = kind == "adam";
    optimizer = next;
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
    common_ = &cp;
  }

  bool
  send( nest::Event& e, size_t thread, const CommonPropertiesType& cp )
  {
    nest::Node* target = get_target( thread );
    const long arrival = e.get_stamp().get_steps() + get_delay_steps() - 1;
    learner_->catch_up( state_, weight_, arrival - LEARNING_SIGNAL_LAG, cp.optimizer );
    learner_->add_spike( state_, arrival );
    e.set_receiver( *target );
    e.set_weight( weight_ );
    e.set_delay_steps( get_delay_steps() );
    e.set_rport( get_rport() );
    e();
    return true;
  }

  void
  get_status( Dictionary& d ) const
  {
    ConnectionBase::get_status( d );
    SynapseLearningState s = state_;
    double w = weight_;
    if ( learner_ != nullptr and common_ != nullptr )
    {
      learner_->catch_up_copy( s, w, common_->optimizer );
    }
    d[ nest::names::weight ] = w;
    d[ "eligibility_vector" ] = std::vector< double >{ s.eligibility_vector[ 0 ], s.eligibility_vector[ 1 ] };
    d[ "eligibility_trace_filtered" ] = s.eligibility_trace_filtered;
    d[ "gradient" ] = s.gradient;
    d[ "processed_step" ] = s.processed_step;
    d[ "adam_m" ] = s.adam_m;
    d[ "adam_v" ] = s.adam_v;
    d[ "optimizer_steps" ] = s.optimizer_steps;
    d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    ConnectionBase::set_status( d, cm );
    d.update_value( nest::names::weight, weight_ );
    // the optimiser state, so that training can be saved and resumed exactly
    d.update_value( "adam_m", state_.adam_m );
    d.update_value( "adam_v", state_.adam_v );
    d.update_value( "optimizer_steps", state_.optimizer_steps );
  }

  void
  set_weight( double w )
  {
    weight_ = w;
  }

private:
  double weight_ = 1.0;
  SynapseLearningState state_;
  LearningNode* learner_ = nullptr;     //!< the target, as the learning interface (set when connecting)
  const CommonPropertiesType* common_ = nullptr;
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties ostl_synapse< targetidentifierT >::properties;

}  // namespace ostl

#endif
