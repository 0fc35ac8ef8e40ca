/*
 *  ostl_optimizer.h -- an optimiser's settings in NEST's e-prop convention, read and written as a
 *  status dictionary: the ``optimizer`` of ostl_synapse's common properties and the
 *  ``bias_optimizer`` of a readout that learns its bias.
 *
 *  Keys (NEST's ``eprop_synapse``): ``type`` ("gradient_descent", also "sgd", or "adam"), ``eta``
 *  (>= 0), ``beta_1`` and ``beta_2`` (in [0, 1)), ``epsilon`` (> 0), ``batch_size`` (>= 1),
 *  ``Wmin`` < ``Wmax``. ``{"optimizer": "adam"}`` sets the type alone. A rejected dictionary
 *  raises BadProperty naming the key and leaves the settings unchanged.
 */

#ifndef OSTL_OPTIMIZER_H
#define OSTL_OPTIMIZER_H

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "exceptions.h"

#include "ostl_learning.h"

namespace ostl
{

//! The settings as a status dictionary.
inline Dictionary
optimizer_status( const OptimizerSettings& optimizer )
{
  Dictionary d;
  d[ "type" ] = std::string( optimizer.adam ? "adam" : "gradient_descent" );
  d[ "eta" ] = optimizer.lr;
  d[ "beta_1" ] = optimizer.beta1;
  d[ "beta_2" ] = optimizer.beta2;
  d[ "epsilon" ] = optimizer.epsilon;
  d[ "batch_size" ] = optimizer.batch_size;
  d[ "Wmin" ] = optimizer.w_min;
  d[ "Wmax" ] = optimizer.w_max;
  return d;
}

//! Update ``optimizer`` from the entry ``key`` of ``d`` (if present): a dictionary of the keys
//! above, or a type name alone.
inline void
update_optimizer( const Dictionary& d, const std::string& key, OptimizerSettings& optimizer )
{
  if ( not d.known( key ) )
  {
    return;
  }
  const auto entry = d->find( key );
  if ( std::holds_alternative< std::string >( entry->second.item ) )
  {
    // shorthand: {"optimizer": "adam"} changes the type only
    entry->second.accessed = true;
    const std::string kind = std::get< std::string >( entry->second.item );
    if ( kind != "gradient_descent" and kind != "sgd" and kind != "adam" )
    {
      throw nest::BadProperty( key + " must be 'sgd' or 'adam' ('gradient_descent' is 'sgd'), or a dictionary in "
                               "NEST's e-prop convention with 'type', 'eta', ...; got '" + kind + "'" );
    }
    optimizer.adam = kind == "adam";
    return;
  }
  const Dictionary od = d.get< Dictionary >( key );
  for ( const auto& item : *od )
  {
    static const std::vector< std::string > known_keys{ "type", "eta", "beta_1", "beta_2", "epsilon",
      "batch_size", "Wmin", "Wmax" };
    if ( std::find( known_keys.begin(), known_keys.end(), item.first ) == known_keys.end() )
    {
      throw nest::BadProperty(
        key + " has no entry '" + item.first + "' (known: type, eta, beta_1, beta_2, epsilon, batch_size, Wmin, Wmax)" );
    }
  }
  OptimizerSettings next = optimizer;
  std::string kind = next.adam ? "adam" : "gradient_descent";
  od.update_value( "type", kind );
  od.update_value( "eta", next.lr );
  od.update_value( "beta_1", next.beta1 );
  od.update_value( "beta_2", next.beta2 );
  od.update_value( "epsilon", next.epsilon );
  long batch_size = next.batch_size;
  od.update_integer_value( "batch_size", batch_size );
  od.update_value( "Wmin", next.w_min );
  od.update_value( "Wmax", next.w_max );
  if ( kind != "gradient_descent" and kind != "sgd" and kind != "adam" )
  {
    throw nest::BadProperty( key + " type must be 'gradient_descent' (or 'sgd') or 'adam', got '" + kind + "'" );
  }
  if ( not( next.lr >= 0.0 ) )
  {
    throw nest::BadProperty( key + " eta (the learning rate) must be >= 0, got " + std::to_string( next.lr ) );
  }
  if ( not( next.beta1 >= 0.0 and next.beta1 < 1.0 and next.beta2 >= 0.0 and next.beta2 < 1.0 ) )
  {
    throw nest::BadProperty( key + " beta_1 and beta_2 must be in [0, 1)" );
  }
  if ( not( next.epsilon > 0.0 ) )
  {
    throw nest::BadProperty( key + " epsilon must be > 0" );
  }
  if ( batch_size < 1 )
  {
    throw nest::BadProperty( key + " batch_size (trials per update) must be >= 1, got " + std::to_string( batch_size ) );
  }
  next.batch_size = batch_size;
  if ( not( next.w_min < next.w_max ) )
  {
    throw nest::BadProperty( key + " Wmin must be below Wmax, got Wmin " + std::to_string( next.w_min ) + ", Wmax "
      + std::to_string( next.w_max ) );
  }
  next.adam = kind == "adam";
  optimizer = next;
}

//! The step count ``key`` (Adam's bias correction; ``optimizer_steps`` of a synapse) from a status
//! dictionary: a 32-bit counter in the state, checked.
inline void
set_optimizer_steps( const Dictionary& d, const std::string& key, SynapseLearningState& s )
{
  long steps = s.optimizer_steps;
  if ( d.update_value( key, steps ) )
  {
    if ( steps < 0 or steps > std::numeric_limits< std::int32_t >::max() )
    {
      throw nest::BadProperty( key + " must be in [0, 2147483647], got " + std::to_string( steps ) );
    }
    s.optimizer_steps = static_cast< std::int32_t >( steps );
  }
}

inline void
set_optimizer_steps( const Dictionary& d, SynapseLearningState& s )
{
  set_optimizer_steps( d, "optimizer_steps", s );
}

}  // namespace ostl

#endif
