"""NEST models of the ostl rules.

* NESTML neurons, one model per file (``models/``): ``snu_neuron``, ``soft_reset_snu_neuron``,
  ``lif_neuron``, ``alif_neuron`` and ``readout_neuron``. Each computes, besides its
  dynamics, the per-step factors (pseudo-derivative, Jacobian, input gain) that the
  eligibility vectors of its incoming plastic synapses need; the cells' arithmetic is
  generated from the reference engine (:mod:`nestml_models.generate`).
* The C++ learning layer (``cpp/``): ``<neuron>_learning`` models derived from the generated
  neurons archive those factors and receive learning signals; ``ostl_synapse`` keeps its
  eligibility vector and catches up at every presynaptic spike (docs/design.md#nest).
* :mod:`nestml_models.build`: generation and compilation into one cached extension module.
* :mod:`nestml_models.network`: an ostl network, rule and optimiser as a NEST network.
"""

from .build import build, install, model_files

__all__ = ["build", "install", "model_files"]
