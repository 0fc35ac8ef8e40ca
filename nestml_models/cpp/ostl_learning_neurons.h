/*
 *  ostl_learning_neurons.h -- learning versions of the NESTML neurons.
 *
 *  ``learning_neuron< Base, Factors >`` extends a NESTML-generated neuron (``Base``: the
 *  dynamics, exactly as in the .nestml file) with what NESTML cannot express (see
 *  docs/design.md#nest): after every update it archives the factors (J, c, q) that its
 *  incoming ``ostl_synapse``s replay, and it receives learning signals as NEST's
 *  ``LearningSignalConnectionEvent`` over ``eprop_learning_signal_connection`` (the
 *  neuromodulatory pathway of NEST's e-prop). A readout (``Factors::is_readout``) archives
 *  J = 0, c = q = 1 and its own error as learning signal for its incoming synapses, and sends
 *  its error -- or, for OSTTP, its masked target -- to the hidden neurons every step.
 *
 *  Model names: ``<nestml name>_learning`` (snu_neuron_learning, ...). Extra parameters:
 *  hidden neurons: ``readout_leak`` (kappa, the leak of the readout, which filters the
 *  eligibility traces of their incoming synapses; e-prop eq. 28), ``c_reg`` and ``f_target`` (Hz)
 *  of the firing-rate regulariser (NEST's e-prop names; ostl.regularisation): at the end of every
 *  trial a hidden neuron turns its spike count into ``r = c_reg (n / T - f_target dt) / T``, which
 *  its incoming synapses add, times their trial's sum of traces, to their gradient; and
 *  ``readout_lag``, the updates by which the readout's step t follows this layer's step t (1 for
 *  the last hidden layer; k - l for layer l of k feed-forward layers, each connection delaying by
 *  one step): its learning signal of step t arrives that much later. The readout
 *  filters with its own ``leak`` and has ``learning_signal`` ("error" or "target", OSTTP).
 *
 *  Softmax readouts (``activation`` "softmax", cross-entropy) exchange their potentials as NEST's
 *  e-prop readouts do: every readout sends its potential a_j^t to every readout, itself included,
 *  over ``rate_connection_delayed`` (delay one step, receptor type j + 1 naming the sender); one
 *  update later each has all of them and computes its probability pi_k^t = exp(a_k - max) /
 *  sum_j exp(a_j - max) (the sum in readout order) and its error m^t (pi_k^t - y*^t), which it
 *  files under step t for its own synapses and sends as the learning signal of step t, one update
 *  later than a linear readout: the hidden neurons' ``readout_lag`` is one larger.
 *
 *  A readout with ``learn_bias`` learns its ``bias`` b like a synapse whose input is 1 at every step
 *  (dE/db = sum_t delta^t bbar^t, bbar^t = leak bbar^{t-1} + 1; ostl.traces.ReadoutTraces): it
 *  integrates each step once its error is known and applies ``bias_optimizer`` (NEST's e-prop
 *  dictionary, ostl_optimizer.h; no weight bounds) at each trial's (or batch's) end.
 *
 *  A hidden neuron with ``learn_neuron_param`` learns its own parameter (SNU: ``bias``, soft-reset
 *  SNU: ``threshold``; the cell's ``neuron_param``) the same way: the NESTML model computes the
 *  parameter's eligibility trace e^t itself (``<param>_eligibility_trace``, generated from the
 *  reference cell with ostl.symbolic.step_statements), the neuron keeps e^t until its learning
 *  signal is complete, filters it with ``readout_leak``, sums L ebar (and, with c_reg, r sum e) and
 *  applies ``neuron_param_optimizer`` at each trial's (batch's) end.
 *  User documentation: ostl_learning_models.h.
 */

#ifndef OSTL_LEARNING_NEURONS_H
#define OSTL_LEARNING_NEURONS_H

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "event_delivery_manager_impl.h"
#include "exceptions.h"
#include "kernel_manager.h"

#include "ostl_learning.h"
#include "ostl_optimizer.h"

namespace ostl
{

//! Learning signals of update t arrive stamped t + readout_lag + this many steps (the delay of
//! the learning-signal connection).
constexpr long LEARNING_SIGNAL_DELAY = 1;

/**
 * A readout's own learnable parameter: its bias, learned like a synapse whose input is 1 at every
 * step (its trace is 1; ostl.traces.ReadoutTraces). The cells' parameters: neuron_parameter
 * (ostl_checked.h, generated).
 */
template < class Model >
struct readout_bias
{
  static constexpr bool exists = true;
  static double
  trace( const Model& )
  {
    return 1.0;
  }
  static double
  get( const Model& n )
  {
    return n.get_bias();
  }
  static void
  set( Model& n, double value )
  {
    n.set_bias( value );
  }
};

template < class Base, class Factors >
class learning_neuron : public Base, public LearningNode
{
  //! the model's own learnable parameter (generated from its reference cell, ostl_choices.h)
  //! (a readout's: its bias, readout_bias)
  using NeuronParameter = std::conditional_t< Factors::is_readout, readout_bias< typename Base::model_type >,
    neuron_parameter< typename Base::model_type > >;

  //! The prefix of the learned parameter's status keys: ``learn_bias``, ``bias_optimizer``, ... on a
  //! readout, ``learn_neuron_param``, ``neuron_param_optimizer``, ... on a hidden neuron.
  static std::string
  param_key( const char* suffix )
  {
    return std::string( Factors::is_readout ? "bias" : "neuron_param" ) + suffix;
  }

  //! Its switch: ``learn_bias`` on a readout, ``learn_neuron_param`` on a hidden neuron.
  static std::string
  learn_key()
  {
    return Factors::is_readout ? "learn_bias" : "learn_neuron_param";
  }

public:
  static constexpr int D = Factors::D;

  learning_neuron()
    : Base()
  {
  }

  learning_neuron( const learning_neuron& n )
    : Base( n )
    , LearningNode()
    , readout_leak_( n.readout_leak_ )
    , readout_lag_( n.readout_lag_ )
    , c_reg_( n.c_reg_ )
    , f_target_( n.f_target_ )
    , send_target_( n.send_target_ )
    , learn_neuron_param_( n.learn_neuron_param_ )
    , neuron_param_optimizer_( n.neuron_param_optimizer_ )
  {
  }

  ~learning_neuron() override
  {
    history_.detach();
  }

  using nest::Node::handle;
  using nest::Node::handles_test_event;
  using nest::Node::sends_secondary_event;
  using Base::handle;
  using Base::handles_test_event;

  void
  handle( nest::LearningSignalConnectionEvent& e ) override
  {
    const long stamp = e.get_stamp().get_steps();
    long k = 0;
    for ( auto it = e.begin(); it != e.end(); ++k )
    {
      const double value = e.get_weight() * e.get_coeffvalue( it );  // advances it
      history_.add_learning_signal( stamp + k - readout_lag_ - LEARNING_SIGNAL_DELAY, value );
    }
  }

  //! A softmax readout: the potential of readout ``rport - 1`` at the sender's update (one step ago).
  void
  handle( nest::DelayedRateConnectionEvent& e ) override
  {
    const long stamp = e.get_stamp().get_steps();
    const long sender = static_cast< long >( e.get_rport() );
    long k = 0;
    for ( auto it = e.begin(); it != e.end(); ++k )
    {
      const double value = e.get_weight() * e.get_coeffvalue( it );  // advances it
      potentials_[ stamp + k - LEARNING_SIGNAL_DELAY ].emplace_back( sender, value );
    }
  }

  size_t
  handles_test_event( nest::DelayedRateConnectionEvent&, size_t receptor_type ) override
  {
    if constexpr ( not Factors::is_readout )
    {
      throw nest::IllegalConnection( "only readout neurons exchange potentials (softmax readouts)" );
    }
    if ( receptor_type < 1 )
    {
      throw nest::UnknownReceptorType( receptor_type, this->get_name() );
    }
    return receptor_type;   // the sender's readout index + 1
  }

  void
  sends_secondary_event( nest::DelayedRateConnectionEvent& ) override
  {
    if constexpr ( not Factors::is_readout )
    {
      throw nest::IllegalConnection( "only readout neurons send their potentials" );
    }
  }

  size_t
  handles_test_event( nest::LearningSignalConnectionEvent&, size_t receptor_type ) override
  {
    if ( receptor_type != 0 )
    {
      throw nest::UnknownReceptorType( receptor_type, this->get_name() );
    }
    return 0;
  }

  void
  sends_secondary_event( nest::LearningSignalConnectionEvent& ) override
  {
    if constexpr ( not Factors::is_readout )
    {
      throw nest::IllegalConnection( "only readout neurons send learning signals" );
    }
  }

  void
  get_status( Dictionary& d ) const override
  {
    Base::get_status( d );
    d[ "history_steps" ] = history_.stored_steps();   // read-only: the factor history kept now
    if constexpr ( Factors::is_readout )
    {
      d[ "learning_signal" ] = std::string( send_target_ ? "target" : "error" );
    }
    else
    {
      d[ "readout_leak" ] = readout_leak_;
      d[ "readout_lag" ] = readout_lag_;
      d[ "c_reg" ] = c_reg_;
      d[ "f_target" ] = f_target_;
    }
    if constexpr ( NeuronParameter::exists )
    {
      d[ learn_key() ] = learn_neuron_param_;
      d[ param_key( "_optimizer" ) ] = optimizer_status( neuron_param_optimizer_ );
      d[ param_key( "_adam_m" ) ] = param_state_.adam_m;
      d[ param_key( "_adam_v" ) ] = param_state_.adam_v;
      d[ param_key( "_optimizer_steps" ) ] = static_cast< long >( param_state_.optimizer_steps );
    }
  }

  void
  set_status( const Dictionary& d ) override
  {
    double leak = readout_leak_;
    long lag = readout_lag_;
    double c_reg = c_reg_;
    double f_target = f_target_;
    bool send_target = send_target_;
    if constexpr ( not Factors::is_readout )
    {
      d.update_value( "readout_leak", leak );
      if ( not( leak >= 0.0 and leak < 1.0 ) )
      {
        throw nest::BadProperty( "readout_leak must be in [0, 1) (kappa, the leak of the readout), got "
          + std::to_string( leak ) );
      }
      d.update_integer_value( "readout_lag", lag );
      if ( lag < 1 or lag > 32 )
      {
        throw nest::BadProperty( "readout_lag (updates by which the readout's step follows this layer's) must be in "
                                 "[1, 32], got " + std::to_string( lag ) );
      }
      d.update_value( "c_reg", c_reg );
      d.update_value( "f_target", f_target );
      if ( not( c_reg >= 0.0 ) )
      {
        throw nest::BadProperty( "c_reg (the firing-rate regulariser's weight) must be >= 0, got "
          + std::to_string( c_reg ) );
      }
      const double most = 1000.0 / nest::Time::get_resolution().get_ms();
      if ( not( f_target >= 0.0 and f_target <= most ) )
      {
        throw nest::BadProperty( "f_target (the regulariser's target rate, Hz) must be in [0, " + std::to_string( most )
          + "], got " + std::to_string( f_target ) );
      }
    }
    bool learn_param = learn_neuron_param_;
    OptimizerSettings param_optimizer = neuron_param_optimizer_;
    SynapseLearningState param_state = param_state_;
    if constexpr ( NeuronParameter::exists )
    {
      d.update_value( learn_key(), learn_param );
      update_optimizer( d, param_key( "_optimizer" ), param_optimizer );
      d.update_value( param_key( "_adam_m" ), param_state.adam_m );
      d.update_value( param_key( "_adam_v" ), param_state.adam_v );
      set_optimizer_steps( d, param_key( "_optimizer_steps" ), param_state );
    }
    if constexpr ( Factors::is_readout )
    {
      std::string kind = send_target_ ? "target" : "error";
      d.update_value( "learning_signal", kind );
      if ( kind != "error" and kind != "target" )
      {
        throw nest::BadProperty( "learning_signal must be 'error' or 'target' (OSTTP), got '" + kind + "'" );
      }
      send_target = kind == "target";
    }
    Base::set_status( d );
    learn_neuron_param_ = learn_param;
    neuron_param_optimizer_ = param_optimizer;
    param_state_ = param_state;
    readout_leak_ = leak;
    readout_lag_ = lag;
    c_reg_ = c_reg;
    f_target_ = f_target;
    send_target_ = send_target;
  }

  // ---- LearningNode -------------------------------------------------------------------
  void
  catch_up( SynapseLearningState& s,
    double& weight,
    long until,
    const OptimizerSettings& opt,
    const TrialEnd* end = nullptr ) override
  {
    history_.replay( s, weight, std::min( until, complete_step() ), opt, true, end );
  }

  void
  add_spike( SynapseLearningState& s, long arrival ) override
  {
    history_.add_spike( s, arrival );
  }

  void
  catch_up_copy( SynapseLearningState& s,
    double& weight,
    const OptimizerSettings& opt,
    const TrialEnd* end = nullptr,
    SynapseLearningState* step_end = nullptr ) const override
  {
    // the replay does not change the history when it does not track holders (it may extend the
    // running quantities of the closed form, a cache)
    auto& history = const_cast< LearningHistory< D, Factors::unit_input_gain >& >( history_ );
    bool ended = false;
    history.replay( s, weight, complete_step(), opt, false, end, step_end, &ended );
    history.to_physical( s );   // what is read: the eligibility vector, not its coordinates
    if ( step_end != nullptr and not ended )
    {
      *step_end = s;
    }
  }

  double
  eligibility_trace( const SynapseLearningState& s ) const override
  {
    return history_.eligibility_trace( s );
  }

  long
  complete_step() const override
  {
    if constexpr ( Factors::is_readout )
    {
      return history_.last_step() - ( softmax_ ? 1 : 0 );   // softmax: the error one update later
    }
    return history_.last_step() - ( readout_lag_ + LEARNING_SIGNAL_DELAY );
  }

  void
  register_plastic_synapse() override
  {
    ++plastic_synapses_;
  }

protected:
  void
  init_buffers_() override
  {
    Base::init_buffers_();
    history_.clear();
    history_.attach( this->get_thread() );
    potentials_.clear();
    previous_ = PreviousStep();
    param_traces_.clear();   // the history starts afresh (the optimiser state is kept)
    param_state_.eligibility_trace_filtered = param_state_.gradient = param_state_.trace_sum = 0.0;
  }

  void
  pre_run_hook() override
  {
    Base::pre_run_hook();
    history_.geometry.set( this->get_first_step(), this->get_trial_steps(), this->get_pause_steps() );
    if constexpr ( Factors::is_readout )
    {
      history_.readout_leak = this->get_leak();   // the readout filters with its own leak
      softmax_ = this->get_activation() == "softmax";
    }
    else
    {
      history_.readout_leak = readout_leak_;
    }
    history_.sums_traces = c_reg_ > 0.0;
    if ( learn_neuron_param_ and this->get_trial_steps() == 0 )
    {
      throw nest::BadProperty( learn_key() + " needs trials (its update is applied at their ends): set trial_steps > 0" );
    }
    if ( c_reg_ > 0.0 and this->get_trial_steps() == 0 )
    {
      throw nest::BadProperty( "c_reg > 0 (the firing-rate regulariser) needs trials: set trial_steps > 0" );
    }
    // the steps a learning signal needs to arrive (MIN_PAUSE_STEPS for the last hidden layer)
    const long min_pause = Factors::is_readout ? MIN_PAUSE_STEPS : readout_lag_ + LEARNING_SIGNAL_DELAY;
    if ( plastic_synapses_ > 0 and this->get_trial_steps() > 0 and this->get_pause_steps() < min_pause )
    {
      throw nest::BadProperty( "pause_steps must be at least " + std::to_string( min_pause )
        + " for a neuron with ostl_synapse inputs (the steps a learning signal needs to arrive), got "
        + std::to_string( this->get_pause_steps() ) );
    }
  }

  void
  update( nest::Time const& origin, const long from, const long to ) override
  {
    std::vector< double > signal( Factors::is_readout ? to - from : 0, 0.0 );
    std::vector< double > potentials( softmax_ ? to - from : 0, 0.0 );
    for ( long lag = from; lag < to; ++lag )
    {
      const long t = origin.get_steps() + lag;
      if constexpr ( not Factors::is_readout )
      {
        if ( t == 0 and history_.geometry.first_step == -1 and history_.last_step() < 0 )
        {
          // the first trial's step 0 is update -1 (pyNN_ostl.nest's time mapping), before NEST's first:
          // the neuron runs it now, from rest and without input (none can reach it), one step back in
          // time (not recorded), so that its factors and its own parameter's trace exist
          this->set_step_index( -1 );
          Base::update( origin - nest::Time::step( 1 ), lag, lag + 1 );
          archive( -1 );
        }
        // the recordable learning_signal: the signal of the latest complete update, t - readout_lag - 1
        // (NEST's eprop_iaf records its learning signal as it arrives, too)
        this->set_learning_signal( history_.learning_signal( t - readout_lag_ - LEARNING_SIGNAL_DELAY ) );
      }
      Base::update( origin, lag, lag + 1 );
      [[maybe_unused]] auto& f = archive( t );   // (a readout files its error there)
      if constexpr ( Factors::is_readout )
      {
        if ( softmax_ )
        {
          signal[ lag - from ] = softmax_signal( t - 1 );   // every readout's potential of t - 1 is here
          const bool active = history_.geometry.phase( t ) >= 0;
          potentials[ lag - from ] = active ? this->get_potential() : 0.0;
          previous_ = { t, this->get_potential(), this->get_target_value(), this->get_mask_value(), active };
          continue;
        }
        f.learning_signal = this->get_error();
        signal[ lag - from ] = send_target_ ? this->get_mask_value() * this->get_target_value() : this->get_error();
        if ( history_.geometry.phase( t ) < 0 )
        {
          signal[ lag - from ] = 0.0;
        }
      }
    }
    if constexpr ( NeuronParameter::exists )
    {
      if ( learn_neuron_param_ )
      {
        learn_neuron_param( complete_step() );
      }
    }
    if constexpr ( Factors::is_readout )
    {
      nest::LearningSignalConnectionEvent event;
      event.set_coeffarray( signal );
      nest::kernel().event_delivery_manager.send_secondary( *this, event );
      if ( softmax_ )
      {
        nest::DelayedRateConnectionEvent exchange;
        exchange.set_coeffarray( potentials );
        nest::kernel().event_delivery_manager.send_secondary( *this, exchange );
      }
    }
  }

private:
  //! Archive the factors of update ``t`` (the base model has just run it), the trace of the
  //! neuron's own learned parameter and, with the regulariser, a hidden neuron's output.
  StepFactors< D, Factors::unit_input_gain >&
  archive( long t )
  {
    auto& f = history_.append( t );
    Factors::read( *this, f );
    if constexpr ( not Factors::is_readout )
    {
      if ( history_.sums_traces )
      {
        count_output( t );
      }
    }
    if constexpr ( NeuronParameter::exists )
    {
      if ( learn_neuron_param_ and history_.geometry.phase( t ) >= 0 )
      {
        param_traces_.emplace_back( t, NeuronParameter::trace( *this ) );
      }
    }
    return f;
  }

  /**
   * A softmax readout's error of step ``s`` (the previous update), from every readout's potential of
   * it: m (pi - y*) with pi = exp(a - max) / sum_j exp(a_j - max), summed in readout order (as
   * ostl.ops.NumpyOps.softmax). Filed under ``s`` for this readout's synapses; returns the learning
   * signal of ``s`` for the hidden neurons (the error, or for OSTTP the masked target).
   */
  double
  softmax_signal( long s )
  {
    double value = 0.0;
    auto received = potentials_.find( s );
    if ( previous_.step == s and previous_.active and received != potentials_.end() )
    {
      auto& all = received->second;   // (sender index + 1, potential), this readout's own among them
      std::sort( all.begin(), all.end() );
      double top = all[ 0 ].second;
      for ( const auto& entry : all )
      {
        top = std::max( top, entry.second );
      }
      double sum = 0.0;
      for ( const auto& entry : all )
      {
        sum += std::exp( entry.second - top );
      }
      const double probability = std::exp( previous_.potential - top ) / sum;
      const double error = previous_.mask * ( probability - previous_.target );
      history_.add_learning_signal( s, error );
      value = send_target_ ? previous_.mask * previous_.target : error;
    }
    potentials_.erase( potentials_.begin(), potentials_.upper_bound( s ) );
    return value;
  }

  /**
   * A neuron that learns its own parameter (a readout: its bias, trace 1): the kept traces e^s of the
   * steps whose learning signal is complete (s <= ``until``): ebar = readout_leak ebar + e,
   * G += L ebar (and with the regulariser S += e, G += r S at the trial's end), the optimiser at each
   * trial's (batch's) end: the next update uses the new value.
   */
  void
  learn_neuron_param( long until )
  {
    const TrialGeometry& geometry = history_.geometry;
    SynapseLearningState& s = param_state_;
    while ( not param_traces_.empty() and param_traces_.front().first <= until )
    {
      const auto [step, trace] = param_traces_.front();
      param_traces_.pop_front();
      const long phase = geometry.phase( step );
      s.eligibility_trace_filtered = ( phase == 0 ? 0.0 : history_.readout_leak * s.eligibility_trace_filtered ) + trace;
      s.gradient += history_.learning_signal( step ) * s.eligibility_trace_filtered;
      if ( history_.sums_traces )
      {
        s.trace_sum += trace;
      }
      if ( phase == geometry.trial_steps - 1 )
      {
        const long trial = geometry.trial_of( step );
        if ( history_.sums_traces )
        {
          s.gradient += history_.rate_signal( trial ) * s.trace_sum;
        }
        double value = NeuronParameter::get( *this );
        finish_trial( neuron_param_optimizer_, s, value, nullptr, trial );
        NeuronParameter::set( *this, value );
        s.eligibility_trace_filtered = s.trace_sum = 0.0;
      }
    }
  }

  //! What a softmax readout keeps of its previous update's step.
  struct PreviousStep
  {
    long step = -1;
    double potential = 0.0;
    double target = 0.0;
    double mask = 0.0;
    bool active = false;   //!< inside a trial
  };

  /**
   * The firing-rate regulariser (ostl.regularisation): sum the output over the trial and, after its
   * last update, give the history the trial's ``r = c_reg (f - f_target dt) / T`` with ``f`` the
   * average output per step (NEST's ``eprop_iaf_bsshslm_2020``: ``firing_rate_reg``).
   */
  void
  count_output( long t )
  {
    const long phase = history_.geometry.phase( t );
    if ( phase < 0 )
    {
      return;
    }
    if ( phase == 0 )
    {
      output_sum_ = 0.0;
    }
    output_sum_ += this->get_y();
    const long T = history_.geometry.trial_steps;
    if ( phase == T - 1 )
    {
      const double per_step = f_target_ * nest::Time::get_resolution().get_ms() / 1000.0;
      const double steps = static_cast< double >( T );
      history_.set_rate_signal( history_.geometry.trial_of( t ), c_reg_ * ( output_sum_ / steps - per_step ) / steps );
    }
  }

  LearningHistory< D, Factors::unit_input_gain > history_;
  double readout_leak_ = 0.0;
  long readout_lag_ = 1;    //!< updates by which the readout's step t follows this layer's
  double c_reg_ = 0.0;      //!< the firing-rate regulariser's weight (0: off)
  double f_target_ = 0.0;   //!< its target rate (Hz)
  double output_sum_ = 0.0;   //!< sum of y^t over the current trial (with c_reg > 0)
  bool send_target_ = false;
  bool softmax_ = false;      //!< a softmax readout (its activation)
  bool learn_neuron_param_ = false;    //!< it learns its own parameter (a readout: its bias)
  OptimizerSettings neuron_param_optimizer_;   //!< its optimiser
  SynapseLearningState param_state_;   //!< its filtered trace, gradient, sum of traces, optimiser state
  std::deque< std::pair< long, double > > param_traces_;   //!< (step, e^step) until L^step is complete
  PreviousStep previous_;     //!< softmax: the step whose error the next update computes
  //! softmax: the sender's update -> (sender index + 1, potential) of every readout
  std::map< long, std::vector< std::pair< long, double > > > potentials_;
  long plastic_synapses_ = 0;
};

// ---- factor readers: which NESTML state variables are J, c, q ---------------------------

struct SNUFactors
{
  static constexpr int D = 1;
  static constexpr bool is_readout = false;
  static constexpr bool unit_input_gain = false;   // ReLU / leaky ReLU gate the input
  template < class N, class F >
  static void
  read( const N& n, F& f )
  {
    f.jacobian[ 0 ][ 0 ] = n.get_jacobian();
    f.input_gain[ 0 ] = n.get_input_gain();
    f.output_gain[ 0 ] = n.get_pseudo_derivative();
  }
};

//! Soft-reset SNU and LIF: input gain 1.
struct UnitGainFactors
{
  static constexpr int D = 1;
  static constexpr bool is_readout = false;
  static constexpr bool unit_input_gain = true;
  template < class N, class F >
  static void
  read( const N& n, F& f )
  {
    f.jacobian[ 0 ][ 0 ] = n.get_jacobian();
    f.output_gain[ 0 ] = n.get_pseudo_derivative();
  }
};

struct ALIFFactors
{
  static constexpr int D = 2;
  static constexpr bool is_readout = false;
  static constexpr bool unit_input_gain = true;    // c = (1, 0): the input drives v only
  template < class N, class F >
  static void
  read( const N& n, F& f )
  {
    f.jacobian[ 0 ][ 0 ] = n.get_jacobian_vv();
    f.jacobian[ 0 ][ 1 ] = n.get_jacobian_va();
    f.jacobian[ 1 ][ 0 ] = n.get_jacobian_av();
    f.jacobian[ 1 ][ 1 ] = n.get_jacobian_aa();
    f.output_gain[ 0 ] = n.get_pseudo_derivative();
    f.output_gain[ 1 ] = n.get_pseudo_derivative_a();
  }
};

//! Readout: dE/dW_out = sum_t delta^t ybar^t, i.e. J = 0, c = q = 1, L = delta.
struct ReadoutFactors
{
  static constexpr int D = 1;
  static constexpr bool is_readout = true;
  static constexpr bool unit_input_gain = true;
  template < class N, class F >
  static void
  read( const N&, F& f )
  {
    f.jacobian[ 0 ][ 0 ] = 0.0;
    f.output_gain[ 0 ] = 1.0;
  }
};

}  // namespace ostl

#endif
