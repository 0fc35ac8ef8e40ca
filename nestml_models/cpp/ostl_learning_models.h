/*
 *  ostl_learning_models.h -- registration of the learning models in the ostl NEST module
 *  (included by the NESTML-generated module file; see nestml_models/build.py).
 */

#ifndef OSTL_LEARNING_MODELS_H
#define OSTL_LEARNING_MODELS_H

#include "alif_neuron.h"
#include "lif_neuron.h"
#include "readout_neuron.h"
#include "snu_neuron.h"
#include "soft_reset_snu_neuron.h"

#include "eprop_learning_signal_connection.h"

#include "ostl_learning_neurons.h"
#include "ostl_synapse.h"

namespace ostl
{

/**
 * NEST's ``eprop_learning_signal_connection`` (readout -> hidden, carries the learning signal
 * as a secondary event), registered once more with labels: ``ostl_learning_signal_connection``
 * and ``ostl_learning_signal_connection_lbl`` (PyNN's pyNN.nest labels every projection).
 */
template < typename targetidentifierT >
class ostl_learning_signal_connection : public nest::eprop_learning_signal_connection< targetidentifierT >
{
public:
  static constexpr nest::ConnectionModelProperties properties =
    nest::ConnectionModelProperties::HAS_DELAY | nest::ConnectionModelProperties::SUPPORTS_LBL;
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties ostl_learning_signal_connection< targetidentifierT >::properties;

inline void
register_learning_models()
{
  nest::register_node_model< learning_neuron< snu_neuron, SNUFactors > >( "snu_neuron_learning" );
  nest::register_node_model< learning_neuron< soft_reset_snu_neuron, UnitGainFactors > >(
    "soft_reset_snu_neuron_learning" );
  nest::register_node_model< learning_neuron< lif_neuron, UnitGainFactors > >( "lif_neuron_learning" );
  nest::register_node_model< learning_neuron< alif_neuron, ALIFFactors > >( "alif_neuron_learning" );
  nest::register_node_model< learning_neuron< readout_neuron, ReadoutFactors > >( "readout_neuron_learning" );
  nest::register_connection_model< ostl_synapse >( "ostl_synapse" );
  nest::register_connection_model< ostl_learning_signal_connection >( "ostl_learning_signal_connection" );
}

}  // namespace ostl

#endif
