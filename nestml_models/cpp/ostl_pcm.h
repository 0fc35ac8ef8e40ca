/*
 *  ostl_pcm.h -- phase-change-memory devices and mixed-precision updates for ostl_pcm_synapse.
 *
 *  The same model, operation for operation, as the ostl reference engine's
 *  ostl/hardware/pcm/devices.py (devices), ostl/hardware/pcm/arrays.py (a synapse of k = 2 or 4
 *  devices, chi, round robin, refresh with program and verify) and ostl/hardware/pcm/counter_rng.py
 *  (random numbers keyed by seed, stream, device index and event count). Every decision is
 *  taken per synapse and every random number is a pure function of its key, so a synapse
 *  updated here, lazily at trial ends, follows the reference engine's arrays to rounding.
 */

#ifndef OSTL_PCM_H
#define OSTL_PCM_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ostl
{
namespace pcm
{

// ---- counter-based random numbers (ostl.hardware.pcm.counter_rng) ---------------------------
constexpr std::uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

inline std::uint64_t
mix( std::uint64_t z )
{
  z = ( z ^ ( z >> 30 ) ) * 0xBF58476D1CE4E5B9ULL;
  z = ( z ^ ( z >> 27 ) ) * 0x94D049BB133111EBULL;
  return z ^ ( z >> 31 );
}

inline double
uniform( std::uint64_t seed, std::uint64_t stream, std::uint64_t index, std::uint64_t count, std::uint64_t sub )
{
  std::uint64_t z = mix( seed * GOLDEN + stream );
  z = mix( z ^ ( index * GOLDEN ) );
  z = mix( z ^ ( count * GOLDEN + sub ) );
  const std::uint64_t bits = z >> 11;   // 53 bits
  return ( static_cast< double >( bits ) + 0.5 ) / static_cast< double >( std::uint64_t( 1 ) << 53 );
}

inline double
normal( std::uint64_t seed, std::uint64_t stream, std::uint64_t index, std::uint64_t count )
{
  const double u1 = uniform( seed, stream, index, count, 0 );
  const double u2 = uniform( seed, stream, index, count, 1 );
  return std::sqrt( -2.0 * std::log( u1 ) ) * std::cos( 2.0 * M_PI * u2 );
}

// ---- devices (ostl.hardware.pcm.devices) ---------------------------------------------------------
constexpr double G_MIN = 0.1, RESET_MEAN = 0.1, RESET_STD = 0.01;
constexpr double DRIFT_T0 = 38.6, DRIFT_NU = 0.04, IBM_G_REF = 25.0, IBM_T0 = 20.0, READ_T = 250e-9;
constexpr std::uint64_t STREAM_RESET = 1, STREAM_SET = 2, STREAM_READ = 3, STREAM_NU = 4;
enum Drift
{
  DRIFT_OFF = 0,
  DRIFT_CONSTANT = 1,
  DRIFT_IBM = 2
};
enum ReadNoise
{
  READ_OFF = 0,
  READ_SIMPLE = 1,
  READ_FLICKER = 2
};

//! Settings shared by all synapses of a model (ostl.hardware.pcm.loop.PCMConfig).
struct Settings
{
  long devices = 4;            //!< per synapse: 2 or 4
  double eps = 0.75;           //!< uS
  double gmax = 20.0;          //!< uS
  long drift = DRIFT_CONSTANT;
  long read_noise = READ_SIMPLE;
  bool programming_noise = true;
  double ideal_step = 0.0;     //!< > 0: idealised devices (every SET adds exactly this)
  double refresh_level = 0.9;
  long verify = 20;            //!< program-and-verify rounds of a refresh
  double step_time = 0.01;     //!< s of device time per step
  long trial_steps = 0;        //!< steps per trial (the clock advances trial_steps * step_time)
  double pulse_decay = 0.0;    //!< exp(-1 / 2.6), set by the Python side (the reference's bits)

  double
  reachable() const
  {
    return ideal_step > 0.0 ? gmax : std::min( gmax, 0.880 / 0.084 );
  }
  double
  level() const
  {
    return refresh_level * reachable();
  }
  double
  range() const
  {
    return level() - 0.1 - eps;
  }
};

//! One device.
struct Device
{
  double G = RESET_MEAN;
  double P = 1.0;
  double t_programmed = 0.0;
  double nu = 0.0;
  long events = 0;
  long reads = 0;
  long pulses = 0;
  long resets = 0;
};

//! A synapse: its devices (k = 2: +, -; k = 4: A+, B+, A-, B-) and its update state.
struct Synapse
{
  Device device[ 4 ];
  double chi = 0.0;
  long turn = 0;
  long refreshes = 0;
  long clipped = 0;
  double scale = 1.0;          //!< weight per uS of effective conductance
  long seed = 0;               //!< the array's seed
  long index = 0;              //!< the synapse's index in its array (device index = index * k + role)
  double clock = 0.0;          //!< s: device time at the end of the last trial processed
  double read_weight = 0.0;    //!< the weight read for the next trial (what spikes transmit)
};

inline double
conductance( const Settings& c, const Device& d, double t )
{
  const double elapsed = t - d.t_programmed;
  if ( c.drift == DRIFT_OFF )
  {
    return d.G;
  }
  if ( c.drift == DRIFT_IBM )
  {
    return d.G * std::pow( ( elapsed + IBM_T0 ) / IBM_T0, -d.nu );
  }
  const double factor = elapsed > DRIFT_T0 ? std::pow( std::max( elapsed, DRIFT_T0 ) / DRIFT_T0, -d.nu ) : 1.0;
  return d.G * factor;
}

inline void
draw_nu( const Settings& c, Device& d, std::uint64_t seed, std::uint64_t idx )
{
  if ( c.drift != DRIFT_IBM )
  {
    return;
  }
  const double g = std::max( std::abs( d.G ) / IBM_G_REF, 1e-6 );
  const double mu = std::min( std::max( -0.0155 * std::log( g ) + 0.0244, 0.049 ), 0.1 );
  const double sigma = std::min( std::max( -0.0125 * std::log( g ) - 0.0059, 0.008 ), 0.045 );
  d.nu = std::abs( mu + sigma * normal( seed, STREAM_NU, idx, d.events ) );
}

inline void
reset( const Settings& c, Device& d, std::uint64_t seed, std::uint64_t idx, double t )
{
  const double noise =
    ( c.programming_noise and c.ideal_step <= 0.0 ) ? normal( seed, STREAM_RESET, idx, d.events ) : 0.0;
  d.G = std::max( RESET_MEAN + RESET_STD * noise, 0.0 );
  d.P = 1.0;
  d.t_programmed = t;
  draw_nu( c, d, seed, idx );
  ++d.events;
  ++d.resets;
}

inline void
set_pulse( const Settings& c, Device& d, std::uint64_t seed, std::uint64_t idx, double t )
{
  const double G = conductance( c, d, t );
  const double P = d.P * c.pulse_decay;
  double increment = c.ideal_step > 0.0 ? c.ideal_step : -0.084 * G + 0.880 + 1.40 * P;
  if ( c.programming_noise and c.ideal_step <= 0.0 )
  {
    increment = increment + ( 0.091 * G + 0.260 + 2.15 * P ) * normal( seed, STREAM_SET, idx, d.events );
  }
  d.G = std::min( std::max( G + increment, G_MIN ), c.gmax );
  d.P = P;
  d.t_programmed = t;
  draw_nu( c, d, seed, idx );
  ++d.events;
  ++d.pulses;
}

inline double
read( const Settings& c, Device& d, std::uint64_t seed, std::uint64_t idx, double t )
{
  const double G = conductance( c, d, t );
  if ( c.read_noise == READ_OFF )
  {
    return G;
  }
  double std_dev;
  if ( c.read_noise == READ_SIMPLE )
  {
    std_dev = 0.03 * std::abs( G ) + 0.13;
  }
  else
  {
    const double g = std::abs( d.G ) / IBM_G_REF;
    const double Q = std::min( 0.0088 / std::max( std::pow( g, 0.65 ), 1e-3 ), 0.2 );
    const double since = t - d.t_programmed + IBM_T0;
    std_dev = std::abs( G ) * Q * std::sqrt( std::log( ( since + READ_T ) / ( 2 * READ_T ) ) );
  }
  const double noise = normal( seed, STREAM_READ, idx, d.reads );
  ++d.reads;
  const double value = G + std_dev * noise;
  return c.read_noise == READ_SIMPLE ? value : std::max( value, 0.0 );
}

// ---- a synapse (ostl.hardware.pcm.arrays) -----------------------------------------------
inline std::uint64_t
device_index( const Settings& c, const Synapse& s, long role )
{
  return static_cast< std::uint64_t >( s.index * c.devices + role );
}

//! Effective conductance from k conductances: (sum of + minus sum of -) / (k / 2).
inline double
effective( const Settings& c, const double* G )
{
  const long half = c.devices / 2;
  double plus = G[ 0 ], minus = G[ half ];
  if ( half == 2 )
  {
    plus = G[ 0 ] + G[ 1 ];
    minus = G[ 2 ] + G[ 3 ];
  }
  return ( plus - minus ) / static_cast< double >( half );
}

inline double
read_effective( const Settings& c, Synapse& s, double t )
{
  double G[ 4 ];
  for ( long r = 0; r < c.devices; ++r )
  {
    G[ r ] = read( c, s.device[ r ], s.seed, device_index( c, s, r ), t );
  }
  return effective( c, G );
}

inline double
programmed_effective( const Settings& c, const Synapse& s )
{
  double G[ 4 ];
  for ( long r = 0; r < c.devices; ++r )
  {
    G[ r ] = s.device[ r ].G;
  }
  return effective( c, G );
}

inline void
reset_all( const Settings& c, Synapse& s, double t )
{
  for ( long r = 0; r < c.devices; ++r )
  {
    reset( c, s.device[ r ], s.seed, device_index( c, s, r ), t );
  }
}

inline void
pulse( const Settings& c, Synapse& s, bool positive, double t )
{
  const long half = c.devices / 2;
  const long role = ( positive ? 0 : half ) + s.turn % half;
  set_pulse( c, s.device[ role ], s.seed, device_index( c, s, role ), t );
  ++s.turn;
}

//! Program and verify towards the effective conductance ``target`` (PCMSynapses._verify).
inline void
verify( const Settings& c, Synapse& s, double target, double t, long rounds, double tolerance )
{
  const double top = c.reachable();
  for ( long round = 0; round < rounds; ++round )
  {
    const double error = target - read_effective( c, s, t );
    if ( not( std::abs( error ) > tolerance ) )
    {
      break;
    }
    pulse( c, s, error > 0, t );
    bool over = false;
    for ( long r = 0; r < c.devices; ++r )
    {
      over = over or s.device[ r ].G > 0.5 * top;
    }
    if ( over and std::abs( target ) < 0.25 * top )
    {
      reset_all( c, s, t );
    }
  }
}

//! PCMSynapses._refresh for a synapse that just received a pulse.
inline void
refresh( const Settings& c, Synapse& s, double t, long& refreshed )
{
  bool full = false;
  for ( long r = 0; r < c.devices; ++r )
  {
    full = full or s.device[ r ].G > c.level();
  }
  if ( not full )
  {
    return;
  }
  if ( refreshed >= 2 )
  {
    if ( refreshed == 2 )
    {
      ++s.clipped;
    }
    refreshed = 3;
    s.chi = 0.0;
    return;
  }
  if ( refreshed == 1 )
  {
    ++s.clipped;
    s.chi = 0.0;
  }
  ++refreshed;
  double stored = read_effective( c, s, t );
  const double limit = c.range();
  if ( std::abs( stored ) > limit and refreshed == 1 )
  {
    ++s.clipped;
  }
  stored = std::min( std::max( stored, -limit ), limit );
  reset_all( c, s, t );
  if ( c.verify > 0 )
  {
    verify( c, s, stored, t, c.verify, c.eps / 2 );
  }
  const double after = programmed_effective( c, s );
  s.chi += ( stored - after ) * static_cast< double >( c.devices / 2 );
  ++s.refreshes;
}

//! Request the weight change ``dW``; whole pulses of eps now (PCMSynapses.update).
inline void
update( const Settings& c, Synapse& s, double dW, double t )
{
  const double half = static_cast< double >( c.devices / 2 );
  s.chi += dW * half / s.scale;
  long refreshed = 0;
  while ( std::abs( s.chi ) >= c.eps )
  {
    const bool positive = s.chi > 0;
    pulse( c, s, positive, t );
    s.chi -= positive ? c.eps : -c.eps;
    refresh( c, s, t, refreshed );
  }
}

//! The programmed weight (no drift, no read noise).
inline double
nominal( const Settings& c, const Synapse& s )
{
  return s.scale * programmed_effective( c, s );
}

}  // namespace pcm
}  // namespace ostl

#endif
