"""NESTML models of the ostl cells for NEST, one model per file, and their build
(:mod:`nestml_models.build`): ``snu_neuron``, ``soft_reset_snu_neuron``, ``lif_neuron``,
``alif_neuron`` and ``readout_neuron``. Each neuron computes, besides its dynamics, the
per-step factors (pseudo-derivative, Jacobian, input gain) that the eligibility vectors of
its incoming plastic synapses need.
"""

from .build import build, install, model_files

__all__ = ["build", "install", "model_files"]
