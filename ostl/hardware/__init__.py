"""Hardware models: the learning rules evaluated under a platform's constraints, one subpackage
per platform, each split by concern and each constraint switchable.

* :mod:`ostl.hardware.spinnaker` -- the SpiNNaker learning kernels (s16.15, 16-bit weights);
* :mod:`ostl.hardware.brainscales2` -- the emulated BrainScaleS-2 chip;
* :mod:`ostl.hardware.pcm` -- phase-change-memory synapses (a synapse model);
* :mod:`ostl.hardware.chip_capabilities` -- what a learning chip's plasticity can train.

The backends and the synapse model reach ``ostl`` through their entry points (``ostl.backends``,
``ostl.synapses``); the core imports none of this package.
"""
