/*
 *  ostl_learning.h -- event-based learning of the ostl rules in NEST.
 *
 *  The NESTML neurons of this directory compute, every step, the factors that the eligibility
 *  vector of an incoming synapse needs (OSTL eq. 12-16, e-prop eq. 22-28; docs/equations.md):
 *
 *      eps^t = J^t eps^{t-1} + c^t x^t      eligibility vector (D = 1, or 2 for ALIF)
 *      e^t   = q^t . eps^t                  eligibility trace
 *      ebar^t = kappa ebar^{t-1} + e^t      trace filtered with the readout leak kappa
 *      G    += L^t ebar^t                   gradient of the trial (deferred update)
 *
 *  A learning neuron keeps a short history of (J, c, q, L) per step (LearningHistory); a
 *  plastic synapse keeps only its own state (SynapseLearningState) and catches up on the
 *  history when a presynaptic spike arrives -- the organisation of NEST's e-prop models
 *  (eprop_archiving_node, eprop_synapse). At the last step of every trial the synapse applies
 *  the optimiser (SGD or Adam, ostl.optim's arithmetic) to its summed gradient.
 *
 *  Catching up is event-driven for a one-dimensional neuron state (D = 1: LIF, SNU, soft-reset
 *  SNU): the neuron keeps, per step, running quantities of segments of its history (running
 *  product of the Jacobians, filtered pseudo-derivative, summed learning signal), from which a
 *  synapse crosses a stretch without presynaptic input in O(1) per segment instead of O(1) per
 *  step -- the closed form of ostl/closed_form.py (derivation: docs/equations.md section 8). What
 *  an input at a step does to a synapse is computed once per step by the neuron (InputStep) and
 *  kept, for all neurons of a thread, in one step-major table (InputTable): the synapses of one
 *  source read their records from one row. The ALIF neuron (D = 2) replays step by step.
 *
 *  Time. Every step is one NEST update (resolution 1 ms, delays 1 step). Trials of
 *  ``trial_steps`` active updates start at ``first_step`` and are separated by
 *  ``pause_steps`` silent updates. Learning signals reach a neuron two updates after the
 *  step they belong to, so a spike arriving at update A can integrate the history up to
 *  A - 3 only; later steps stay pending (bit mask). A pause of at least two steps lets the
 *  last trial's update complete before the next trial's first spike is transmitted.
 */

#ifndef OSTL_LEARNING_H
#define OSTL_LEARNING_H

#include <cmath>
#include <limits>
#include <cstdint>
#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ostl
{

//! Steps between a neuron's update and the arrival of its complete learning signal, for the last
//! hidden layer (a synapse catches up to at most this far behind a spike's arrival; in a deeper
//! layer, whose readout_lag is larger, to its target's complete step, LearningNode::complete_step).
constexpr long LEARNING_SIGNAL_LAG = 3;

//! "No step": none yet, or the last step of a segment still open (steps may be negative:
//! pyNN_ostl.nest's first trial starts at update -1).
constexpr long NO_STEP = std::numeric_limits< long >::min() / 4;

//! Smallest pause between trials that lets every deferred update complete in time.
constexpr long MIN_PAUSE_STEPS = 2;

//! Per-step factors of a neuron with a D-dimensional state.
template < int D, bool UnitInputGain = false >
struct StepFactors
{
  double jacobian[ D ][ D ] = {};     //!< J = ds^t / ds^{t-1}
  double input_gain[ D ] = {};        //!< c = ds^t / dI^t
  double output_gain[ D ] = {};       //!< q = dy^t / ds^t
  double learning_signal = 0.0;       //!< L^t, summed from the learning-signal events

  double
  gain( int a ) const
  {
    return input_gain[ a ];
  }
};

//! Factors of a neuron whose input enters its first state component with gain 1 (LIF, ALIF,
//! soft-reset SNU, readout): c = (1, 0, ...) is not stored, a quarter less history to replay.
template < int D >
struct StepFactors< D, true >
{
  double jacobian[ D ][ D ] = {};
  double output_gain[ D ] = {};
  double learning_signal = 0.0;

  static constexpr double
  gain( int a )
  {
    return a == 0 ? 1.0 : 0.0;
  }
};

//! Optimiser settings shared by all synapses of a model (ostl.optim).
struct OptimizerSettings
{
  bool adam = false;
  double lr = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  //! weight bounds after each update (NEST's e-prop ``Wmin``/``Wmax``; ostl.optim's w_min/w_max)
  double w_min = -std::numeric_limits< double >::infinity();
  double w_max = std::numeric_limits< double >::infinity();
  //! trials per update (NEST's e-prop ``batch_size``): the gradients of a batch's trials are summed
  //! and their average applied at the end of its last trial (ostl.training.Trainer's batches)
  long batch_size = 1;
};

//! Everything a plastic synapse keeps besides its weight.
struct SynapseLearningState
{
  long processed_step = -1;              //!< last update index integrated
  std::uint64_t pending_spikes = 0;      //!< bit k: a spike arrives at update processed_step + 1 + k
  double eligibility_vector[ 2 ] = { 0.0, 0.0 };
  double eligibility_trace_filtered = 0.0;
  double gradient = 0.0;                 //!< sum of L ebar over the current trial
  //! sum of the unfiltered eligibility traces e^t over the current trial, the firing-rate
  //! regulariser's gradient per unit of its signal (ostl.regularisation); zero without it
  double trace_sum = 0.0;
  double adam_m = 0.0;
  double adam_v = 0.0;
  // two 32-bit counters in one 64-bit slot: 128 bytes per ostl_synapse, NEST's eprop_synapse's size
  // (the synapse keeps no pointer to its model's common properties: ostl_synapse::common_properties)
  std::int32_t optimizer_steps = 0;      //!< trials completed (Adam's bias correction)
  std::int32_t held_trial = -1;          //!< trial whose history this synapse still needs (-1: none)
  //! D = 1 (closed form): the eligibility fields hold the state in the coordinates of this segment
  //! of the target's history (its number; LearningHistory::to_physical); -1 with eligibility zero
  long segment = -1;

  bool
  is_idle() const
  {
    return pending_spikes == 0 and eligibility_vector[ 0 ] == 0.0 and eligibility_vector[ 1 ] == 0.0
      and eligibility_trace_filtered == 0.0 and gradient == 0.0 and trace_sum == 0.0;
  }
};

//! One optimiser step on ``weight`` with the summed gradient (ostl.optim.SGD / Adam).
inline void
apply_optimizer( const OptimizerSettings& opt, SynapseLearningState& s, double& weight )
{
  const double g = s.gradient;
  ++s.optimizer_steps;
  if ( opt.adam )
  {
    const double corr1 = 1.0 - std::pow( opt.beta1, static_cast< double >( s.optimizer_steps ) );
    const double corr2 = 1.0 - std::pow( opt.beta2, static_cast< double >( s.optimizer_steps ) );
    s.adam_m = opt.beta1 * s.adam_m + ( 1.0 - opt.beta1 ) * g;
    s.adam_v = opt.beta2 * s.adam_v + ( 1.0 - opt.beta2 ) * g * g;
    weight -= opt.lr * ( s.adam_m / corr1 ) / ( std::sqrt( s.adam_v / corr2 ) + opt.epsilon );
  }
  else
  {
    weight -= opt.lr * g;
  }
  // clipped into [w_min, w_max] as numpy.clip: min(max(w, w_min), w_max)
  weight = std::min( std::max( weight, opt.w_min ), opt.w_max );
  s.gradient = 0.0;
}

/**
 * What a synapse does at the end of every trial besides nothing: ``ostl_synapse`` applies
 * the optimiser to its weight (no object needed); ``ostl_pcm_synapse`` also programs the
 * step into its PCM devices (ostl_pcm_synapse.h).
 */
class TrialEnd
{
public:
  virtual ~TrialEnd() = default;
  virtual void apply( const OptimizerSettings& opt, SynapseLearningState& s, double& weight ) const = 0;
};

/**
 * The end of trial ``trial`` (counted from the neuron's first): inside a batch nothing (the gradient
 * keeps summing); at the end of a batch's last trial the optimiser step with the batch's average.
 */
inline void
finish_trial( const OptimizerSettings& opt, SynapseLearningState& s, double& weight, const TrialEnd* end, long trial )
{
  if ( opt.batch_size > 1 )
  {
    if ( ( trial + 1 ) % opt.batch_size != 0 )
    {
      return;
    }
    s.gradient /= static_cast< double >( opt.batch_size );
  }
  if ( end != nullptr )
  {
    end->apply( opt, s, weight );
  }
  else
  {
    apply_optimizer( opt, s, weight );
  }
}

//! Trial geometry of a neuron (its NESTML parameters).
struct TrialGeometry
{
  long first_step = 0;
  long trial_steps = 0;   //!< 0: one trial that never ends (no deferred update)
  long pause_steps = 0;

  void
  set( long first, long trial, long pause )
  {
    first_step = first;
    trial_steps = trial;
    pause_steps = pause;
    cached_start_ = first;
  }

  long
  period() const
  {
    return trial_steps + pause_steps;
  }
  //! Position of update ``t`` in its trial, or -1 outside a trial (before the start, in a pause).
  long
  phase( long t ) const
  {
    if ( t < first_step )
    {
      return -1;
    }
    if ( trial_steps == 0 )
    {
      return t - first_step;
    }
    const long p = t - period_start( t );
    return p < trial_steps ? p : -1;
  }
  long
  trial_of( long t ) const
  {
    return ( trial_steps == 0 or t < first_step ) ? 0 : ( period_start( t ) - first_step ) / period();
  }
  //! Last active update of the trial containing ``t`` (t must be in a trial).
  long
  trial_end( long t ) const
  {
    return period_start( t ) + trial_steps - 1;
  }
  //! First active update after ``t`` (t inside a pause or before the start).
  long
  next_trial_start( long t ) const
  {
    if ( t < first_step )
    {
      return first_step;
    }
    return period_start( t ) + period();
  }

private:
  //! First update of the trial period that contains ``t`` (t >= first_step, trial_steps > 0).
  //! Replays ask about the same recent period again and again: the last answer is kept, so
  //! that most calls need a comparison instead of an integer division.
  long
  period_start( long t ) const
  {
    const long offset = t - cached_start_;
    if ( offset < 0 or offset >= period() )
    {
      cached_start_ = first_step + ( ( t - first_step ) / period() ) * period();
    }
    return cached_start_;
  }

  mutable long cached_start_ = 0;   //!< per neuron; a neuron's synapses run on its thread
};

/**
 * Interface of a neuron that archives its factors for its incoming plastic synapses.
 * ``ostl_synapse`` reaches it with one dynamic_cast at connection time.
 */
class LearningNode
{
public:
  virtual ~LearningNode() = default;

  //! Integrate the history into ``state`` up to ``until`` (inclusive, clipped to what is complete).
  //! ``end``: the synapse's trial-end action (nullptr: the optimiser step).
  virtual void catch_up( SynapseLearningState& state,
    double& weight,
    long until,
    const OptimizerSettings& opt,
    const TrialEnd* end = nullptr ) = 0;

  //! Record a spike arriving at update ``arrival`` as pending input (after catch_up).
  virtual void add_spike( SynapseLearningState& state, long arrival ) = 0;

  //! Integrate what is complete without changing the neuron (for get_status), the eligibility
  //! vector in physical units. ``step_end`` (if given) receives the state at the end of the last
  //! complete step: ``state`` itself, except where that step is a trial's last, whose update and
  //! reset ``state`` includes and ``step_end`` does not.
  virtual void catch_up_copy( SynapseLearningState& state,
    double& weight,
    const OptimizerSettings& opt,
    const TrialEnd* end = nullptr,
    SynapseLearningState* step_end = nullptr ) const = 0;

  //! The eligibility trace e = q . eps of a (physical) state at its processed step.
  virtual double eligibility_trace( const SynapseLearningState& state ) const = 0;

  //! Last update index whose learning signal is complete.
  virtual long complete_step() const = 0;

  virtual void register_plastic_synapse() = 0;
};

/**
 * Contiguous FIFO of per-step factors: appended at the back, dropped at the front (amortised
 * compaction), indexed by update. Replaces std::deque so that a synapse's replay walks a
 * plain array.
 */
template < class T >
class StepBuffer
{
public:
  bool
  empty() const
  {
    return head_ == items_.size();
  }
  std::size_t
  size() const
  {
    return items_.size() - head_;
  }
  void
  clear()
  {
    items_.clear();
    head_ = 0;
  }
  T&
  push_back()
  {
    items_.emplace_back();
    return items_.back();
  }
  //! Item ``i`` counted from the front.
  T&
  operator[]( std::size_t i )
  {
    return items_[ head_ + i ];
  }
  const T&
  operator[]( std::size_t i ) const
  {
    return items_[ head_ + i ];
  }
  void
  pop_front()
  {
    ++head_;
    if ( head_ >= 1024 and 2 * head_ >= items_.size() )
    {
      items_.erase( items_.begin(), items_.begin() + head_ );
      head_ = 0;
    }
  }

private:
  std::vector< T > items_;
  std::size_t head_ = 0;
};

//! Longest segment of the closed form, in steps (ostl.closed_form.SEGMENT).
constexpr long CLOSED_FORM_SEGMENT = 64;
//! A segment ends before its running product or the leak's power leaves [RANGE, 1 / RANGE].
constexpr double CLOSED_FORM_RANGE = 1e-1;

/**
 * Running quantities of the closed form at one step (D = 1; ostl/closed_form.py): relative to the
 * segment's first step ``start``, ``P`` = product of the Jacobians, ``u`` = filtered ``q P``,
 * ``K`` = sum of ``L kappa^(t - start)``, ``V`` = sum of ``L u``, ``leak`` = ``kappa^(t - start)``,
 * ``W`` = sum of ``q P`` (the unfiltered ``u``: the firing-rate regulariser's sum of traces).
 */
struct RunningSums
{
  double P = 1.0;
  double u = 0.0;
  double K = 0.0;
  double V = 0.0;
  double W = 0.0;
  double leak = 1.0;
  double inverse_P = 1.0;      //!< 1 / P (a synapse multiplies, the neuron divides once per step)
  double inverse_leak = 1.0;   //!< kappa^(start - t), 0 without leak
  long start = 0;
  long segment = 0;            //!< the segment's number, counted from the history's clear()
};

/**
 * A closed segment: its last step and the running quantities there (what a
 * synapse needs to carry its coordinates across the segment's end). Kept per segment, not per
 * step, so that crossing a segment reads a short, dense list.
 */
struct SegmentEnd
{
  long last = NO_STEP;   //!< NO_STEP while the segment is open
  double P = 1.0;
  double u = 0.0;
  double leak = 1.0;
  double K = 0.0;
  double V = 0.0;
  double W = 0.0;
};

/**
 * What an input at one step does to the coordinates of any synapse onto the neuron: the same for
 * all of them, so the neuron computes it once per step and a synapse reads one record of 32 bytes
 * (half a cache line) per input instead of the step's running quantities and factors.
 * ``kind``: INSIDE (add ``dr``, ``dc``, ``dg``), or an input that starts its segment or after which
 * its segment ends (an explicit step on the physical state: rare).
 */
struct alignas( 32 ) InputStep
{
  enum Kind : std::int64_t
  {
    INSIDE = 0,
    STARTS_SEGMENT = 1,
    ENDS_SEGMENT = 2
  };
  double dr = 0.0;
  double dc = 0.0;
  double dg = 0.0;
  std::int64_t code = 0;   //!< segment number * 4 + kind

  long
  segment() const
  {
    return static_cast< long >( code >> 2 );
  }
  long
  kind() const
  {
    return static_cast< long >( code & 3 );
  }
};

/**
 * The InputStep records of all D = 1 learning neurons of one thread, step-major: the records of one
 * step lie side by side, one column per neuron. All synapses of one source neuron have their
 * pending input at the same step (the source's previous spike) and NEST sends a spike to them one
 * after the other, in the order of their targets: their records are read from one row, in order,
 * instead of from as many arrays as there are targets (the read the catch-up waits for). A neuron
 * takes a column when it is initialised and gives it back when it is destroyed; a row is dropped
 * once no column needs it.
 */
class InputTable
{
public:
  //! The table of NEST thread ``thread`` (created on first use; never destroyed, so that neurons
  //! destroyed at the end of the program still find it).
  static InputTable&
  of_thread( std::size_t thread )
  {
    static std::mutex lock;
    static auto* tables = new std::vector< std::unique_ptr< InputTable > >();
    std::lock_guard< std::mutex > guard( lock );
    if ( tables->size() <= thread )
    {
      tables->resize( thread + 1 );
    }
    if ( not( *tables )[ thread ] )
    {
      ( *tables )[ thread ] = std::make_unique< InputTable >();
    }
    return *( *tables )[ thread ];
  }

  //! A new column (existing rows are widened).
  int
  attach()
  {
    const int column = stride_;
    if ( rows_ > 0 )
    {
      std::vector< InputStep > wider( static_cast< std::size_t >( rows_ * ( stride_ + 1 ) ) );
      for ( long row = 0; row < rows_; ++row )
      {
        std::copy( data_.begin() + ( head_ + row ) * stride_, data_.begin() + ( head_ + row + 1 ) * stride_,
          wider.begin() + row * ( stride_ + 1 ) );
      }
      data_.swap( wider );
    }
    else
    {
      data_.clear();   // rows dropped but not yet erased have the old width
    }
    head_ = 0;
    ++stride_;
    ++live_;
    keep_.push_back( LONG_MIN );
    return column;
  }

  //! Give a column back; the table starts afresh when no column is left (a new network).
  void
  detach( int column )
  {
    keep_[ column ] = LONG_MAX;
    if ( --live_ == 0 )
    {
      *this = InputTable();
    }
  }

  //! Rows for steps ``from`` .. ``until`` exist.
  void
  reach( long from, long until )
  {
    if ( not started_ )
    {
      started_ = true;
      origin_ = from;
    }
    if ( from < origin_ )   // a neuron that starts before every other one (rows are added in front)
    {
      const long extra = origin_ - from;
      std::vector< InputStep > longer( static_cast< std::size_t >( ( extra + rows_ ) * stride_ ) );
      std::copy( data_.begin() + head_ * stride_, data_.begin() + ( head_ + rows_ ) * stride_,
        longer.begin() + extra * stride_ );
      data_.swap( longer );
      head_ = 0;
      rows_ += extra;
      origin_ = from;
    }
    const long missing = until - ( origin_ + rows_ - 1 );
    if ( missing > 0 )
    {
      data_.resize( data_.size() + static_cast< std::size_t >( missing * stride_ ) );
      rows_ += missing;
    }
  }

  //! Whether step ``t`` has a row.
  bool
  holds( long t ) const
  {
    return t >= origin_ and t < origin_ + rows_;
  }

  InputStep&
  at( long t, int column )
  {
    return data_[ ( head_ + ( t - origin_ ) ) * stride_ + column ];
  }
  const InputStep&
  at( long t, int column ) const
  {
    return data_[ ( head_ + ( t - origin_ ) ) * stride_ + column ];
  }

  //! Column ``column`` needs no row before step ``step`` any more: drop the rows no column needs.
  void
  keep_from( int column, long step )
  {
    keep_[ column ] = step;
    const long first = *std::min_element( keep_.begin(), keep_.end() );
    if ( first <= origin_ )   // (LONG_MIN: a column that has not pruned yet)
    {
      return;
    }
    const long drop = std::min( first - origin_, rows_ );
    head_ += drop;
    rows_ -= drop;
    origin_ += drop;
    if ( head_ >= 64 and 2 * head_ * stride_ >= static_cast< long >( data_.size() ) )
    {
      data_.erase( data_.begin(), data_.begin() + head_ * stride_ );
      head_ = 0;
    }
  }

private:
  std::vector< InputStep > data_;
  long head_ = 0;     //!< rows dropped from the front of data_, not yet erased
  long rows_ = 0;
  long origin_ = 0;   //!< the step of the first row
  long stride_ = 0;   //!< columns
  int live_ = 0;
  bool started_ = false;
  std::vector< long > keep_;   //!< per column: first step it needs (LONG_MAX: given back)
};

/**
 * The history of per-step factors of one neuron and the replay of a synapse's state on it.
 */
template < int D, bool UnitInputGain = false >
class LearningHistory
{
public:
  TrialGeometry geometry;
  double readout_leak = 0.0;   //!< kappa, the readout leak that filters the traces (0: unfiltered)
  //! whether synapses sum their unfiltered traces over each trial (the firing-rate regulariser)
  bool sums_traces = false;

  void
  clear()
  {
    entries_.clear();
    running_.clear();
    segments_.clear();
    first_segment_ = 0;
    next_segment_ = 0;
    running_last_ = NO_STEP;
    origin_ = 0;
    holders_.clear();
    rate_signals_.clear();
    last_step_ = -1;
  }

  //! D = 1: take a column of the input table of NEST thread ``thread`` (once, at initialisation).
  void
  attach( std::size_t thread )
  {
    if constexpr ( D == 1 )
    {
      if ( inputs_ == nullptr )
      {
        inputs_ = &InputTable::of_thread( thread );
        input_column_ = inputs_->attach();
      }
    }
  }

  //! Give the column back (the neuron is destroyed).
  void
  detach()
  {
    if ( inputs_ != nullptr )
    {
      inputs_->detach( input_column_ );
      inputs_ = nullptr;
      input_column_ = -1;
    }
  }

  //! Append the factors of update ``t`` (called once per update, in order).
  StepFactors< D, UnitInputGain >&
  append( long t )
  {
    if ( geometry.trial_steps > 0 and geometry.phase( t ) == 0 )
    {
      prune( t );
    }
    if ( entries_.empty() )
    {
      origin_ = t;
    }
    last_step_ = t;
    return entries_.push_back();
  }

  //! The learning signal of update ``t`` (0 outside the archived range).
  double
  learning_signal( long t ) const
  {
    if ( t >= origin_ and t - origin_ < static_cast< long >( entries_.size() ) )
    {
      return entries_[ t - origin_ ].learning_signal;
    }
    return 0.0;
  }

  //! The eligibility trace e^t = q^t . eps^t of a (caught-up, physical) synapse state at its
  //! processed step (0 outside the archived range or a trial).
  double
  eligibility_trace( const SynapseLearningState& s ) const
  {
    const long t = s.processed_step;
    if ( t < origin_ or t - origin_ >= static_cast< long >( entries_.size() ) or geometry.phase( t ) < 0 )
    {
      return 0.0;
    }
    const auto& f = entries_[ t - origin_ ];
    double e = 0.0;
    for ( int a = 0; a < D; ++a )
    {
      e += f.output_gain[ a ] * s.eligibility_vector[ a ];
    }
    return e;
  }

  //! Add to the learning signal of update ``t`` (ignored outside the archived range).
  void
  add_learning_signal( long t, double value )
  {
    if ( t >= origin_ and t - origin_ < static_cast< long >( entries_.size() ) )
    {
      entries_[ t - origin_ ].learning_signal += value;
    }
  }

  long
  last_step() const
  {
    return last_step_;
  }

  //! The firing-rate regulariser's signal ``r_j`` of trial ``trial`` (known after its last update):
  //! what multiplies a synapse's ``sum_t e^t`` at the trial's end.
  void
  set_rate_signal( long trial, double value )
  {
    rate_signals_[ trial ] = value;
  }

  double
  rate_signal( long trial ) const
  {
    const auto it = rate_signals_.find( trial );
    return it == rate_signals_.end() ? 0.0 : it->second;
  }

  //! Steps of factors kept (bounded: pruned at trial starts once no synapse needs them).
  long
  stored_steps() const
  {
    return static_cast< long >( entries_.size() );
  }

  //! Mark a spike arriving at update ``arrival`` as pending; from now on the synapse needs
  //! the history from its next unprocessed step, so it registers with that trial.
  void
  add_spike( SynapseLearningState& s, long arrival )
  {
    const long offset = arrival - s.processed_step - 1;
    if ( offset >= 0 and offset < 64 )
    {
      s.pending_spikes |= std::uint64_t( 1 ) << offset;
      hold( s, s.processed_step + 1, true );
    }
  }

  /**
   * Advance ``s`` through updates processed_step + 1 .. until. Pending spikes are inputs
   * x = 1 at their update; idle stretches are skipped without reading the history, except
   * that every trial end still applies the optimiser (Adam moves with a zero gradient).
   * ``step_end``: where ``until`` is a trial's last update, receives the state at the end of that
   * update, before the trial's update and reset (physical; what a status read reports as the
   * step's eligibility), and ``ended`` is set.
   */
  void
  replay( SynapseLearningState& s,
    double& weight,
    long until,
    const OptimizerSettings& opt,
    bool update_holders,
    const TrialEnd* at_trial_end = nullptr,
    SynapseLearningState* step_end = nullptr,
    bool* ended = nullptr )
  {
    long t = s.processed_step + 1;
    while ( t <= until )
    {
      if ( s.is_idle() )
      {
        release( s, update_holders );
        // nothing to integrate before the next trial end: apply the optimiser at trial ends only
        if ( geometry.trial_steps > 0 )
        {
          long phase = geometry.phase( t );
          long end = phase >= 0 ? geometry.trial_end( t ) : geometry.trial_end( geometry.next_trial_start( t ) );
          while ( end <= until )
          {
            finish_trial( opt, s, weight, at_trial_end, geometry.trial_of( end ) );
            end += geometry.period();
          }
        }
        t = until + 1;
        break;
      }
      const long phase = geometry.phase( t );
      if ( phase < 0 )
      {
        // outside a trial (pause, before the start): inputs are ignored, nothing is integrated
        const long next = std::min( until + 1, geometry.next_trial_start( t ) );
        drop_pending( s, next - t );
        t = next;
        continue;
      }
      hold( s, t, update_holders );
      if ( phase == 0 )
      {
        s.eligibility_vector[ 0 ] = s.eligibility_vector[ 1 ] = 0.0;
        s.eligibility_trace_filtered = 0.0;
      }
      // one stretch inside this trial: t .. stop
      const long trial_last = geometry.trial_steps > 0 ? t + ( geometry.trial_steps - 1 - phase ) : LONG_MAX;
      const long stop = std::min( until, trial_last );
      while ( t <= stop and t < origin_ )
      {
        drop_pending( s, 1 );   // before the archived history (the neuron's first update): at rest
        ++t;
      }
      if ( t <= stop )
      {
        if constexpr ( D == 1 )
        {
          integrate_stretch_closed( s, t, stop );
        }
        else
        {
          integrate_stretch( s, &entries_[ t - origin_ ], stop - t + 1 );
        }
        t = stop + 1;
      }
      if ( t - 1 == trial_last )
      {
        s.processed_step = t - 1;
        to_physical( s );   // D = 1: the gradient the optimiser takes
        if ( step_end != nullptr and t - 1 == until )
        {
          *step_end = s;
          *ended = true;
        }
        if ( sums_traces )   // the firing-rate regulariser: r_j sum_t e^t (ostl.regularisation)
        {
          s.gradient += rate_signal( geometry.trial_of( t - 1 ) ) * s.trace_sum;
        }
        finish_trial( opt, s, weight, at_trial_end, geometry.trial_of( t - 1 ) );
        s.eligibility_vector[ 0 ] = s.eligibility_vector[ 1 ] = 0.0;
        s.eligibility_trace_filtered = 0.0;
        s.trace_sum = 0.0;
        s.segment = -1;
        release( s, update_holders );
      }
    }
    s.processed_step = std::max( s.processed_step, t - 1 );
  }

private:
  StepBuffer< StepFactors< D, UnitInputGain > > entries_;
  StepBuffer< RunningSums > running_;   //!< D = 1: per step of entries_ (same origin), up to running_last_
  InputTable* inputs_ = nullptr;        //!< D = 1: the thread's table of input records
  int input_column_ = -1;               //!< this neuron's column in it
  StepBuffer< SegmentEnd > segments_;   //!< D = 1: per segment, from number first_segment_
  long first_segment_ = 0;
  long next_segment_ = 0;
  long running_last_ = NO_STEP;
  long origin_ = 0;
  long last_step_ = -1;
  std::map< long, long > holders_;   //!< trial -> synapses that still need its history
  std::map< long, double > rate_signals_;   //!< trial -> the regulariser's r_j (kept as long as its history)

  //! Whether the segment holding step ``t`` ends after it (ostl.closed_form.Segments._ends_after).
  bool
  segment_ends_after( const RunningSums& r, long t ) const
  {
    const double P = std::abs( r.P );
    const long length = t + 1 - r.start;
    const bool leak = readout_leak > 0.0 and readout_leak < 1.0 and r.leak * readout_leak < CLOSED_FORM_RANGE;
    return length >= CLOSED_FORM_SEGMENT or P < CLOSED_FORM_RANGE or P > 1.0 / CLOSED_FORM_RANGE or leak;
  }

  //! Compute the running quantities up to step ``until`` (complete steps only: they read L), and
  //! with them what an input at each step does (InputStep) and the ends of the segments.
  void
  extend_running( long until )
  {
    const double kappa = readout_leak;
    if ( until > running_last_ )
    {
      inputs_->reach( std::max( running_last_ + 1, origin_ ), until );
    }
    for ( long t = std::max( running_last_ + 1, origin_ ); t <= until; ++t )
    {
      const auto& f = entries_[ t - origin_ ];
      RunningSums r;
      const RunningSums* p = t > origin_ ? &running_[ t - 1 - origin_ ] : nullptr;
      const bool fresh = p == nullptr or geometry.phase( t ) == 0 or segment_ends_after( *p, t - 1 );
      if ( fresh )
      {
        if ( p != nullptr )
        {
          close_segment( *p, t - 1 );
        }
        else if ( not segments_.empty() and segments_[ segments_.size() - 1 ].last == NO_STEP )
        {
          segments_[ segments_.size() - 1 ].last = t - 1;   // cut off by pruning: no synapse is in it
        }
        r.start = t;
        r.segment = next_segment_++;
        segments_.push_back();   // open until the next segment starts
        r.P = f.jacobian[ 0 ][ 0 ];
        r.u = f.output_gain[ 0 ] * r.P;
        r.leak = 1.0;
        r.K = f.learning_signal;
        r.V = f.learning_signal * r.u;
        r.W = sums_traces ? f.output_gain[ 0 ] * r.P : 0.0;
      }
      else
      {
        r.start = p->start;
        r.segment = p->segment;
        r.P = p->P * f.jacobian[ 0 ][ 0 ];
        r.u = kappa * p->u + f.output_gain[ 0 ] * r.P;
        r.leak = p->leak * kappa;
        r.K = p->K + f.learning_signal * r.leak;
        r.V = p->V + f.learning_signal * r.u;
        r.W = sums_traces ? p->W + f.output_gain[ 0 ] * r.P : 0.0;
      }
      if ( r.P != 0.0 )
      {
        r.inverse_P = 1.0 / r.P;
      }
      r.inverse_leak = r.leak > 0.0 ? 1.0 / r.leak : 0.0;
      running_.push_back() = r;
      inputs_->at( t, input_column_ ) = input_step( r, f, t );
    }
    running_last_ = std::max( running_last_, until );
  }

  //! Record the end of the segment whose last step is ``t`` (running quantities ``r``).
  void
  close_segment( const RunningSums& r, long t )
  {
    SegmentEnd& e = segments_[ r.segment - first_segment_ ];
    e.last = t;
    e.P = r.P;
    e.u = r.u;
    e.leak = r.leak;
    e.K = r.K;
    e.V = r.V;
    e.W = r.W;
  }

  /**
   * What an input at step ``t`` does to a synapse's coordinates in the segment holding ``t``
   * (docs/equations.md section 8, "An input in coordinates"): eps gains c (r by c / P), ebar gains
   * q c (c by c (q - u / P) / kappa^(t - a)), G gains L q c; or, where the input starts its segment
   * or its segment ends after it (a full reset, a product or leak out of range), nothing here: the
   * synapse takes one explicit step on its physical state.
   */
  InputStep
  input_step( const RunningSums& q, const StepFactors< D, UnitInputGain >& f, long t ) const
  {
    InputStep in;
    std::int64_t kind = InputStep::INSIDE;
    if ( q.start == t )
    {
      kind = InputStep::STARTS_SEGMENT;
    }
    else if ( segment_ends_after( q, t ) )
    {
      kind = InputStep::ENDS_SEGMENT;
    }
    else
    {
      const double kappa = readout_leak;
      const double gain = f.gain( 0 );
      in.dr = gain * q.inverse_P;
      in.dc = kappa > 0.0 ? gain * ( f.output_gain[ 0 ] - q.u * q.inverse_P ) * q.inverse_leak : 0.0;
      in.dg = f.learning_signal * f.output_gain[ 0 ] * gain - in.dc * q.K - in.dr * q.V;
    }
    in.code = static_cast< std::int64_t >( q.segment ) * 4 + kind;
    return in;
  }

  /**
   * D = 1, segment coordinates. Inside a segment that starts at ``a`` and without input, the state
   * after update ``t`` is, with four constants ``(r, c, g, h)`` and the running quantities at ``t``,
   *
   *     eps = r P,   ebar = kappa^(t - a) c + r u,   G = g + c K + r V,   S = h + r W
   *
   * (``S``: the trial's sum of the unfiltered traces ``e = q eps``, the firing-rate regulariser's;
   * ``h`` = S^p - r W^p, docs/equations.md section 8)
   * (the closed form of ostl/closed_form.py with r = eps^p / P^p, c = kappa^(a - p) (ebar^p - r u^p),
   * g = G^p - c K^p - r V^p). A synapse keeps ``(r, c, g, h)`` in its eligibility, gradient and
   * trace-sum fields and the segment's number in ``segment``: moving inside a segment costs nothing, and it reads the
   * neuron's history only at its inputs (one InputStep each) and at the ends of the segments it
   * crosses (one SegmentEnd each).
   */
  struct Coordinates
  {
    double r, c, g, h;
    long segment;
  };

  //! The physical state of a synapse: eligibility vector, filtered trace, gradient, sum of traces.
  struct Physical
  {
    double eps = 0.0, ebar = 0.0, gradient = 0.0, trace_sum = 0.0;
  };

  //! The physical state from coordinates and the running quantities ``q`` of their segment at some
  //! step (a RunningSums or a SegmentEnd).
  template < class Running >
  static Physical
  physical( const Coordinates& z, const Running& q )
  {
    if ( z.r == 0.0 and z.c == 0.0 )   // no eligibility: the same in every segment
    {
      return { 0.0, 0.0, z.g, z.h };
    }
    return { z.r * q.P, q.leak * z.c + z.r * q.u, z.g + z.c * q.K + z.r * q.V, z.h + z.r * q.W };
  }

  //! The physical state after update ``t`` of the coordinates' segment.
  Physical
  physical_at( const Coordinates& z, long t ) const
  {
    return physical( z, running_[ t - origin_ ] );
  }

  //! Coordinates of the physical state ``x`` after update ``t``: in the segment holding ``t``, or,
  //! where that segment ends after ``t`` (a full reset, a product out of range), as the entry of the
  //! segment that starts at ``t + 1`` (no division by a product that is zero or tiny).
  Coordinates
  coordinates_at( long t, const Physical& x ) const
  {
    const RunningSums& q = running_[ t - origin_ ];
    if ( segment_ends_after( q, t ) )
    {
      return entry( q.segment + 1, x );
    }
    const double r = x.eps * q.inverse_P;
    const double c = readout_leak > 0.0 ? q.inverse_leak * ( x.ebar - r * q.u ) : 0.0;
    return { r, c, x.gradient - c * q.K - r * q.V, x.trace_sum - r * q.W, q.segment };
  }

  //! Coordinates of the state ``x`` after the last update before segment ``segment`` in that
  //! segment: its ``(eps, kappa ebar, G, S)`` (the segment's running quantities start from nothing).
  Coordinates
  entry( long segment, const Physical& x ) const
  {
    return { x.eps, readout_leak * x.ebar, x.gradient, x.trace_sum, segment };
  }

  //! Move the coordinates into segment ``target`` (not before theirs), converting once at the end
  //! of every segment crossed.
  void
  cross_to( Coordinates& z, long target ) const
  {
    if ( z.r == 0.0 and z.c == 0.0 )
    {
      z.segment = target;
      return;
    }
    while ( z.segment != target )
    {
      // closed: a later one started
      z = entry( z.segment + 1, physical( z, segments_[ z.segment - first_segment_ ] ) );
    }
  }

  /**
   * D = 1: integrate updates t .. stop (one trial stretch) event by event: nothing between inputs
   * inside a segment, one conversion per crossed segment, one record per input.
   */
  void
  integrate_stretch_closed( SynapseLearningState& s, long t, long stop )
  {
    extend_running( stop );
    Coordinates z{ s.eligibility_vector[ 0 ], s.eligibility_trace_filtered, s.gradient, s.trace_sum, s.segment };
    std::uint64_t pending = s.pending_spikes;
    const double kappa = readout_leak;
    long p = t - 1;   // the state is the one after update p
    while ( pending != 0 )
    {
      const long next = p + 1 + static_cast< long >( __builtin_ctzll( pending ) );   // the next input
      if ( next > stop )
      {
        break;
      }
      const InputStep& in = inputs_->at( next, input_column_ );
      cross_to( z, in.segment() );
      if ( in.kind() == InputStep::INSIDE )
      {
        z.g += in.dg;
        if ( sums_traces )   // S gains q c at the input: h by q c - dr W (rare: not in the record)
        {
          const auto& f = entries_[ next - origin_ ];
          z.h += f.output_gain[ 0 ] * f.gain( 0 ) - in.dr * running_[ next - origin_ ].W;
        }
        z.r += in.dr;
        z.c += in.dc;
      }
      else
      {
        // the input starts a segment, or its segment ends after it (a full reset, a product or
        // leak out of range): one explicit step on the physical state
        const auto& f = entries_[ next - origin_ ];
        Physical x{ 0.0, 0.0, z.g, z.h };   // after next - 1
        double kappa_ebar = 0.0;
        if ( in.kind() == InputStep::STARTS_SEGMENT )   // z: the entry of that segment, (eps, kappa ebar, G, S)
        {
          x.eps = z.r;
          kappa_ebar = z.c;
        }
        else if ( not( z.r == 0.0 and z.c == 0.0 ) )
        {
          x = physical_at( z, next - 1 );
          kappa_ebar = kappa * x.ebar;
        }
        x.eps = f.jacobian[ 0 ][ 0 ] * x.eps + f.gain( 0 );
        x.ebar = kappa_ebar + f.output_gain[ 0 ] * x.eps;
        x.gradient += f.learning_signal * x.ebar;
        if ( sums_traces )
        {
          x.trace_sum += f.output_gain[ 0 ] * x.eps;
        }
        z = coordinates_at( next, x );
      }
      const long steps = next - p;
      pending = steps >= 64 ? 0 : ( pending >> steps );
      p = next;
    }
    if ( p < stop )
    {
      cross_to( z, inputs_->at( stop, input_column_ ).segment() );   // the row every synapse of the source reads
      const long steps = stop - p;
      pending = steps >= 64 ? 0 : ( pending >> steps );
    }
    s.eligibility_vector[ 0 ] = z.r;
    s.eligibility_trace_filtered = z.c;
    s.gradient = z.g;
    s.trace_sum = z.h;
    s.segment = z.segment;
    s.pending_spikes = pending;
  }

public:
  //! D = 1: turn a synapse state's coordinates into the physical eligibility vector, filtered trace
  //! and gradient after its processed update (for reading; the other dimensions: unchanged).
  void
  to_physical( SynapseLearningState& s ) const
  {
    if constexpr ( D == 1 )
    {
      const long p = s.processed_step;
      const Coordinates z{ s.eligibility_vector[ 0 ], s.eligibility_trace_filtered, s.gradient, s.trace_sum,
        s.segment };
      Physical x{ 0.0, 0.0, z.g, z.h };
      if ( z.r == 0.0 and z.c == 0.0 )
      {
      }
      else if ( z.segment != running_[ p - origin_ ].segment )   // the entry of the next segment:
      {                                                          // (eps, kappa ebar, G, S) after p
        x.eps = z.r;
        x.ebar = readout_leak > 0.0 ? z.c / readout_leak : entries_[ p - origin_ ].output_gain[ 0 ] * x.eps;
      }
      else
      {
        x = physical_at( z, p );
      }
      s.eligibility_vector[ 0 ] = x.eps;
      s.eligibility_trace_filtered = x.ebar;
      s.gradient = x.gradient;
      s.trace_sum = x.trace_sum;
    }
  }

private:

  static void
  drop_pending( SynapseLearningState& s, long steps )
  {
    s.pending_spikes = steps >= 64 ? 0 : ( s.pending_spikes >> steps );
  }

  /**
   * Integrate ``n`` consecutive updates starting at ``f`` (one trial stretch): per update
   * eps = J eps + c x, ebar = kappa ebar + q . eps, gradient += L ebar, with x the pending
   * spike of that update. The state is kept in locals (no aliasing with the history).
   */
  void
  integrate_stretch( SynapseLearningState& s, const StepFactors< D, UnitInputGain >* f, long n ) const
  {
    double eligibility[ D ];
    for ( int a = 0; a < D; ++a )
    {
      eligibility[ a ] = s.eligibility_vector[ a ];
    }
    double filtered = s.eligibility_trace_filtered;
    double gradient = s.gradient;
    double trace_sum = s.trace_sum;
    const bool sums = sums_traces;
    std::uint64_t pending = s.pending_spikes;
    const double leak = readout_leak;
    for ( long k = 0; k < n; ++k, ++f )
    {
      const double x = ( pending & 1u ) ? 1.0 : 0.0;
      pending >>= 1;
      double eps[ D ];
      for ( int a = 0; a < D; ++a )
      {
        double value = 0.0;
        for ( int b = 0; b < D; ++b )
        {
          value += f->jacobian[ a ][ b ] * eligibility[ b ];
        }
        eps[ a ] = value + f->gain( a ) * x;
      }
      double trace = 0.0;
      for ( int a = 0; a < D; ++a )
      {
        eligibility[ a ] = eps[ a ];
        trace += f->output_gain[ a ] * eps[ a ];
      }
      filtered = leak * filtered + trace;
      gradient += f->learning_signal * filtered;
      if ( sums )
      {
        trace_sum += trace;
      }
    }
    for ( int a = 0; a < D; ++a )
    {
      s.eligibility_vector[ a ] = eligibility[ a ];
    }
    s.eligibility_trace_filtered = filtered;
    s.gradient = gradient;
    s.trace_sum = trace_sum;
    s.pending_spikes = pending;
  }

  void
  hold( SynapseLearningState& s, long t, bool update_holders )
  {
    if ( update_holders and s.held_trial < 0 )
    {
      s.held_trial = static_cast< std::int32_t >( geometry.trial_of( t ) );
      ++holders_[ s.held_trial ];
    }
  }

  void
  release( SynapseLearningState& s, bool update_holders )
  {
    if ( update_holders and s.held_trial >= 0 )
    {
      auto it = holders_.find( s.held_trial );
      if ( it != holders_.end() and --( it->second ) <= 0 )
      {
        holders_.erase( it );
      }
      s.held_trial = -1;
    }
  }

  //! Drop the history of trials that no synapse needs any more (``t``: a trial's first update).
  void
  prune( long t )
  {
    long keep_from = t;
    if ( not holders_.empty() )
    {
      keep_from = std::min( keep_from, geometry.first_step + holders_.begin()->first * geometry.period() );
    }
    bool dropped = false;
    while ( origin_ < keep_from and not entries_.empty() )
    {
      entries_.pop_front();
      if ( not running_.empty() )
      {
        running_.pop_front();
      }
      ++origin_;
      dropped = true;
    }
    if ( dropped )   // (an empty history keeps its origin of before: nothing to say about the sums)
    {
      running_last_ = std::max( running_last_, origin_ - 1 );
    }
    const long first_trial = geometry.trial_of( origin_ );
    while ( not rate_signals_.empty() and rate_signals_.begin()->first < first_trial )
    {
      rate_signals_.erase( rate_signals_.begin() );
    }
    while ( not segments_.empty() and segments_[ 0 ].last != NO_STEP and segments_[ 0 ].last < origin_ )
    {
      segments_.pop_front();
      ++first_segment_;
    }
    if ( inputs_ != nullptr )
    {
      inputs_->keep_from( input_column_, origin_ );
    }
  }
};

}  // namespace ostl

#endif
