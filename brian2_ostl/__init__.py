"""Brian2 plugin of ostl: the reference engine's cells, plastic synapses with their own
eligibility vectors, and learning-signal pathways as Brian2 equations and statements.

The main entry point is :class:`brian2_ostl.network.Brian2Network`, which builds an
:class:`ostl.Network` with a rule as Brian2 ``NeuronGroup`` / ``Synapses`` objects that
reproduce the reference engine step for step (numpy, cython and cpp_standalone targets).
"""

from .network import Brian2Network, check_supported

__all__ = ["Brian2Network", "check_supported"]
