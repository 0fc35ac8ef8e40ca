"""Entry point of the ``brainscales2`` training backend (``ostl.backends`` group): a description
that imports nothing heavy; :class:`ostl.hardware.brainscales2.backend.BrainScaleS2Backend` loads on
use."""

from ...backends import BackendPlugin, Option
from ..chip_capabilities import chip_capabilities


def _on_off(flag):
    def parse(value):
        from ...errors import ParameterError

        if value not in ("on", "off"):
            raise ParameterError(f"{flag} must be on or off, got {value!r}")
        return value == "on"
    return parse


PLUGIN = BackendPlugin(
    name="brainscales2",
    factory="ostl.hardware.brainscales2.backend:BrainScaleS2Backend",
    summary="an emulated BrainScaleS-2 chip (6-bit weights, row signs, analog variation, the PPU's arithmetic)",
    capabilities=chip_capabilities(
        "the BrainScaleS-2 plasticity processor", ("lif", "alif"), batches="accumulate",
        reasons={"cells": "the BrainScaleS-2 backend runs one hidden layer of LIF or ALIF neurons",
                 "max_layers": "the BrainScaleS-2 backend runs one hidden layer of LIF or ALIF neurons"}),
    options=(
        Option("--bss2-variation", "variation", "fixed-pattern variation of the analog circuits: on (default) or off",
               choices=("on", "off"), validate=_on_off("--bss2-variation")),
        Option("--bss2-noise", "noise", "trial-to-trial membrane noise: on (default) or off", choices=("on", "off"),
               validate=_on_off("--bss2-noise")),
        Option("--bss2-weights", "weights", "6bit (the synapses, default) or float", choices=("6bit", "float")),
        Option("--bss2-arithmetic", "arithmetic", "ppu (the vector unit's s0.15, default) or float",
               choices=("ppu", "float")),
        Option("--bss2-seed", "chip_seed", "seed of the chip's fixed pattern", type=int, metavar="S"),
    ),
)
