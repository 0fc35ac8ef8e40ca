"""The emulated BrainScaleS-2 chip (``ostl train --backend brainscales2``; docs/brainscales2.md).

* :mod:`~ostl.hardware.brainscales2.mapping` -- neurons, synapse rows and labels on the chip;
* :mod:`~ostl.hardware.brainscales2.ppu` -- the plasticity processor's vector arithmetic;
* :mod:`~ostl.hardware.brainscales2.accumulators` -- its program: traces and gradients in lanes;
* :mod:`~ostl.hardware.brainscales2.chip` -- the analog core, 6-bit weights, the write-back;
* :mod:`~ostl.hardware.brainscales2.backend` and :mod:`~ostl.hardware.brainscales2.plugin` -- the
  training backend and its entry point.
"""
