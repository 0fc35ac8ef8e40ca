/*
 *  ostl_pcm_synapse.h -- ostl_synapse whose weight lives on phase-change-memory devices.
 */

/* BeginUserDocs: synapse, e-prop plasticity, online learning, phase-change memory

Short description
+++++++++++++++++

Plastic synapse of the ostl rules on PCM devices: mixed-precision updates as programming
pulses at trial ends, spikes transmitted with the devices' drifted, noisy read

Description
+++++++++++

``ostl_pcm_synapse`` learns exactly like ``ostl_synapse`` (eligibility vector, learning
signal, optimiser at trial ends), but its weight is ``k`` = 2 or 4 PCM devices
(``W = scale (G+ - G-)`` or ``scale ((GA+ + GB+) - (GA- + GB-)) / 2``; the ostl reference
engine's ``ostl/hardware``). At the end of every trial the device clock advances
``trial_steps * step_time`` seconds, the optimiser's step on the programmed weight is added to
the high-precision accumulator ``chi`` and applied as SET pulses of ``eps`` (round robin among
devices of equal significance; refresh with program and verify when a device passes the
refresh level), and the devices are read (drift, read noise) for the next trial: spikes
transmit that read. Device statistics (Nandakumar et al. 2018), drift (constant or IBM's
model) and read noise (simple or 1/f) as in ``ostl.hardware.pcm.devices``; random numbers are
counter based, keyed by (seed, stream, device index, event count), so a synapse follows the
reference engine's PCM arrays to rounding whatever order NEST updates it in.

Parameters
++++++++++

Common properties: ``optimizer`` (as ``ostl_synapse``) and ``pcm``, a dictionary:
``devices`` (2 or 4), ``eps`` (uS), ``gmax`` (uS), ``drift`` (0 off, 1 constant, 2 IBM),
``read_noise`` (0 off, 1 simple, 2 1/f), ``programming_noise``, ``ideal_step`` (uS, 0: real
devices), ``refresh_level``, ``verify`` (program-and-verify rounds of a refresh),
``step_time`` (s per step), ``trial_steps``, ``pulse_decay`` (exp(-1/2.6)).

Individual properties, write-only (lists over the devices): ``pcm_G``, ``pcm_P``,
``pcm_t_programmed``, ``pcm_nu``, ``pcm_events``, ``pcm_reads``, ``pcm_pulses``,
``pcm_resets``; and ``pcm_chi``, ``pcm_turn``, ``pcm_refreshes``, ``pcm_clipped``,
``pcm_clock`` (s), ``pcm_read_weight`` (what spikes transmit; also readable). Read them back, caught up
to the last complete step, from ``pcm_state``: one list (G, P, t_programmed, nu, events,
reads, pulses, resets -- k values each -- then chi, turn, refreshes, clipped, clock,
read_weight; one key keeps a read-back of every synapse after each trial cheap). Readable
and writable: ``pcm_scale`` (weight per uS), ``pcm_seed`` (of the array), ``pcm_index`` (in
the array). ``weight`` is the programmed weight (read-only in
effect: the devices define it). Set them all from ``ostl.hardware.pcm.loop.PCMWeights``
(``nestml_models.network`` does).

See also
++++++++

ostl_synapse

EndUserDocs */

#ifndef OSTL_PCM_SYNAPSE_H
#define OSTL_PCM_SYNAPSE_H

#include <string>
#include <vector>

#include "ostl_pcm.h"
#include "ostl_synapse.h"

namespace ostl
{

class OstlPcmSynapseCommonProperties : public OstlSynapseCommonProperties
{
public:
  pcm::Settings pcm;

  void
  get_status( Dictionary& d ) const
  {
    OstlSynapseCommonProperties::get_status( d );
    Dictionary p;
    p[ "devices" ] = pcm.devices;
    p[ "eps" ] = pcm.eps;
    p[ "gmax" ] = pcm.gmax;
    p[ "drift" ] = pcm.drift;
    p[ "read_noise" ] = pcm.read_noise;
    p[ "programming_noise" ] = pcm.programming_noise;
    p[ "ideal_step" ] = pcm.ideal_step;
    p[ "refresh_level" ] = pcm.refresh_level;
    p[ "verify" ] = pcm.verify;
    p[ "step_time" ] = pcm.step_time;
    p[ "trial_steps" ] = pcm.trial_steps;
    p[ "pulse_decay" ] = pcm.pulse_decay;
    d[ "pcm" ] = p;
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    OstlSynapseCommonProperties::set_status( d, cm );
    if ( not d.known( "pcm" ) )
    {
      return;
    }
    const Dictionary p = d.get< Dictionary >( "pcm" );
    pcm::Settings next = pcm;
    p.update_integer_value( "devices", next.devices );
    p.update_value( "eps", next.eps );
    p.update_value( "gmax", next.gmax );
    p.update_integer_value( "drift", next.drift );
    p.update_integer_value( "read_noise", next.read_noise );
    p.update_value( "programming_noise", next.programming_noise );
    p.update_value( "ideal_step", next.ideal_step );
    p.update_value( "refresh_level", next.refresh_level );
    p.update_integer_value( "verify", next.verify );
    p.update_value( "step_time", next.step_time );
    p.update_integer_value( "trial_steps", next.trial_steps );
    p.update_value( "pulse_decay", next.pulse_decay );
    if ( next.devices != 2 and next.devices != 4 )
    {
      throw nest::BadProperty( "pcm devices must be 2 or 4, got " + std::to_string( next.devices ) );
    }
    if ( not( next.eps > 0.0 and next.gmax > pcm::G_MIN and next.step_time > 0.0 and next.pulse_decay > 0.0
           and next.pulse_decay < 1.0 and next.refresh_level > 0.0 and next.refresh_level <= 1.0 ) )
    {
      throw nest::BadProperty( "pcm eps, step_time must be > 0, gmax > 0.1 uS, refresh_level in (0, 1], "
                               "pulse_decay in (0, 1)" );
    }
    if ( next.drift < 0 or next.drift > 2 or next.read_noise < 0 or next.read_noise > 2 or next.verify < 0
      or next.trial_steps < 1 )
    {
      throw nest::BadProperty( "pcm drift and read_noise must be 0, 1 or 2, verify >= 0, trial_steps >= 1" );
    }
    pcm = next;
  }
};

//! The trial end of a PCM synapse: the optimiser's step, programmed into the devices, and
//! the read for the next trial (ostl.hardware.pcm.loop.PCMWeights.apply).
class PcmTrialEnd : public TrialEnd
{
public:
  PcmTrialEnd( const pcm::Settings& settings, pcm::Synapse& synapse )
    : settings_( settings )
    , synapse_( synapse )
  {
  }

  void
  apply( const OptimizerSettings& opt, SynapseLearningState& s, double& weight ) const override
  {
    const double before = weight;
    apply_optimizer( opt, s, weight );
    const double change = weight - before;
    synapse_.clock = synapse_.clock + static_cast< double >( settings_.trial_steps ) * settings_.step_time;
    pcm::update( settings_, synapse_, change, synapse_.clock );
    weight = pcm::nominal( settings_, synapse_ );
    synapse_.read_weight = synapse_.scale * pcm::read_effective( settings_, synapse_, synapse_.clock );
  }

private:
  const pcm::Settings& settings_;
  pcm::Synapse& synapse_;
};

template < typename targetidentifierT >
class ostl_pcm_synapse : public ostl_synapse< targetidentifierT >
{
public:
  typedef OstlPcmSynapseCommonProperties CommonPropertiesType;
  typedef ostl_synapse< targetidentifierT > Base;
  typedef nest::Connection< targetidentifierT > ConnectionBase;

  static constexpr nest::ConnectionModelProperties properties = Base::properties;

  bool
  send( nest::Event& e, size_t thread, const CommonPropertiesType& cp )
  {
    const PcmTrialEnd end( cp.pcm, synapse_ );
    this->transmit( e, thread, cp.optimizer, &end, synapse_.read_weight );   // the read of this trial
    return true;
  }

  void
  get_status( Dictionary& d ) const
  {
    ConnectionBase::get_status( d );
    SynapseLearningState s = this->state_;
    SynapseLearningState step_end = this->state_;
    double w = this->weight_;
    pcm::Synapse copy = synapse_;
    const CommonPropertiesType* common = nullptr;
    if ( this->learner_ != nullptr )
    {
      common = &this->template common_properties< CommonPropertiesType >();
      const PcmTrialEnd end( common->pcm, copy );
      this->learner_->catch_up_copy( s, w, common->optimizer, &end, &step_end );
    }
    this->learning_status( d, s, w, step_end );
    d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
    const long k = common != nullptr ? common->pcm.devices : 4;
    d[ "pcm_scale" ] = copy.scale;
    d[ "pcm_seed" ] = copy.seed;
    d[ "pcm_index" ] = copy.index;
    d[ "pcm_read_weight" ] = copy.read_weight;
    // everything that changes, packed in one vector (one key to read back per trial):
    // G, P, t_programmed, nu, events, reads, pulses, resets (k each), chi, turn, refreshes,
    // clipped, clock, read_weight
    std::vector< double > packed;
    packed.reserve( 8 * k + 6 );
    for ( double pcm::Device::*field : { &pcm::Device::G, &pcm::Device::P, &pcm::Device::t_programmed, &pcm::Device::nu } )
    {
      for ( long r = 0; r < k; ++r )
      {
        packed.push_back( copy.device[ r ].*field );
      }
    }
    for ( long pcm::Device::*field : { &pcm::Device::events, &pcm::Device::reads, &pcm::Device::pulses, &pcm::Device::resets } )
    {
      for ( long r = 0; r < k; ++r )
      {
        packed.push_back( static_cast< double >( copy.device[ r ].*field ) );
      }
    }
    for ( const double value : { copy.chi, static_cast< double >( copy.turn ), static_cast< double >( copy.refreshes ),
            static_cast< double >( copy.clipped ), copy.clock, copy.read_weight } )
    {
      packed.push_back( value );
    }
    d[ "pcm_state" ] = packed;
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    ConnectionBase::set_status( d, cm );
    bool catch_up = false;
    d.update_value( "catch_up", catch_up );
    if ( catch_up and this->learner_ != nullptr )
    {
      const auto& common = this->template common_properties< CommonPropertiesType >();
      const PcmTrialEnd end( common.pcm, synapse_ );
      this->learner_->catch_up( this->state_, this->weight_, this->learner_->complete_step(), common.optimizer, &end );
    }
    d.update_value( nest::names::weight, this->weight_ );
    d.update_value( "adam_m", this->state_.adam_m );
    d.update_value( "adam_v", this->state_.adam_v );
    set_optimizer_steps( d, this->state_ );
    set_devices( d, "pcm_G", &pcm::Device::G );
    set_devices( d, "pcm_P", &pcm::Device::P );
    set_devices( d, "pcm_t_programmed", &pcm::Device::t_programmed );
    set_devices( d, "pcm_nu", &pcm::Device::nu );
    set_devices( d, "pcm_events", &pcm::Device::events );
    set_devices( d, "pcm_reads", &pcm::Device::reads );
    set_devices( d, "pcm_pulses", &pcm::Device::pulses );
    set_devices( d, "pcm_resets", &pcm::Device::resets );
    d.update_value( "pcm_chi", synapse_.chi );
    d.update_integer_value( "pcm_turn", synapse_.turn );
    d.update_integer_value( "pcm_refreshes", synapse_.refreshes );
    d.update_integer_value( "pcm_clipped", synapse_.clipped );
    d.update_value( "pcm_scale", synapse_.scale );
    d.update_integer_value( "pcm_seed", synapse_.seed );
    d.update_integer_value( "pcm_index", synapse_.index );
    d.update_value( "pcm_clock", synapse_.clock );
    d.update_value( "pcm_read_weight", synapse_.read_weight );
  }

private:
  //! One value per device of ``key`` (a list of doubles or of integers) into ``field``.
  template < typename T >
  void
  set_devices( const Dictionary& d, const std::string& key, T pcm::Device::*field )
  {
    std::vector< T > values;
    if ( d.update_value( key, values ) )
    {
      if ( values.size() > 4 )
      {
        throw nest::BadProperty( key + " takes one value per device (at most 4)" );
      }
      for ( std::size_t r = 0; r < values.size(); ++r )
      {
        synapse_.device[ r ].*field = values[ r ];
      }
    }
  }

  pcm::Synapse synapse_;
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties ostl_pcm_synapse< targetidentifierT >::properties;

}  // namespace ostl

#endif
