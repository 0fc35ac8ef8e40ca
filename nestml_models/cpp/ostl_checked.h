/*
 *  ostl_checked.h -- the NESTML neurons of the ostl module with checked parameters.
 *
 *  ``checked_neuron< Base >`` wraps a NESTML-generated neuron (the module template registers
 *  every neuron of the module through it, under the neuron's own name):
 *
 *  - choice parameters (``pseudo``, ``activation``: NESTML string parameters) accept only
 *    the names the reference engine knows; any other value raises ``BadProperty`` naming the
 *    parameter and the allowed names. The lists are generated from the reference engine
 *    (``ostl_choices.h``, written by nestml_models/generate.py at build time).
 *  - a rejected ``set_status`` (a violated NESTML invariant such as ``decay in [0, 1)``, an
 *    unknown choice, a value of the wrong type) leaves the node -- or, through
 *    ``SetDefaults``, the model's defaults -- as it was. NESTML's generated set_status writes
 *    every value (its own and the archiving node's) before it checks the invariants, so the
 *    values are first set on a copy of the node; only if that succeeds are they set on the
 *    node itself. (An unknown parameter name is NEST's own check, made after the model's
 *    set_status, as for every NEST model.)
 */

#ifndef OSTL_CHECKED_H
#define OSTL_CHECKED_H

#include <string>
#include <variant>
#include <vector>

#include "dictionary.h"
#include "exceptions.h"

namespace ostl
{

//! A parameter that takes one of a list of names.
struct Choice
{
  std::string parameter;
  std::vector< std::string > names;
};

//! The choice parameters of a NESTML model (specialised in the generated ostl_choices.h).
template < class Model >
struct model_choices
{
  static const std::vector< Choice >&
  get()
  {
    static const std::vector< Choice > none;
    return none;
  }
};

/**
 * The parameter of its own that a model's learning neuron learns (``learn_neuron_param``): whether
 * there is one, its eligibility trace (computed by the model), and its value. Specialised in the
 * generated ostl_choices.h for every model whose reference cell has a ``neuron_param``.
 */
template < class Model >
struct neuron_parameter
{
  static constexpr bool exists = false;
};

inline void
check_choices( const std::vector< Choice >& choices, const Dictionary& d )
{
  for ( const Choice& choice : choices )
  {
    const auto entry = d->find( choice.parameter );
    if ( entry == d->end() or not std::holds_alternative< std::string >( entry->second.item ) )
    {
      continue;   // absent, or not a string: the generated set_status reports the type
    }
    const std::string& value = std::get< std::string >( entry->second.item );
    bool known = false;
    std::string allowed;
    for ( const std::string& name : choice.names )
    {
      known = known or name == value;
      allowed += ( allowed.empty() ? "'" : ", '" ) + name + "'";
    }
    if ( not known )
    {
      throw nest::BadProperty( choice.parameter + " must be one of " + allowed + ", got '" + value + "'" );
    }
  }
}

template < class Base >
class checked_neuron : public Base
{
public:
  using model_type = Base;   //!< the NESTML model (its generated tables: model_choices, neuron_parameter)

  void
  set_status( const Dictionary& d ) override
  {
    check_choices( model_choices< Base >::get(), d );
    {
      Base trial( *this );   // a rejected value must not stay behind: check on a copy first
      trial.Base::set_status( d );
    }
    Base::set_status( d );
  }
};

}  // namespace ostl

#endif
