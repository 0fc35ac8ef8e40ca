"""What one step of a layer computed (:class:`LayerStep`): the record the layers of
:mod:`ostl.network` and :mod:`ostl.gated` return and the learners read. A module of its own that
imports nothing of ostl, so that both kinds of layer use it."""

from __future__ import annotations

from typing import NamedTuple


class LayerStep(NamedTuple):
    """What one step of a layer computed: the output ``y`` and what the local derivatives
    are taken from (a stateful layer: the previous state and output, the synaptic input,
    the neuron parameter and the new state; a dense layer: its preactivation as ``current``)."""

    y: object
    state_prev: tuple = None
    y_prev: object = None
    current: object = None
    neuron_param: object = None
    state: tuple = None
