"""Phase-change-memory synapses (``ostl train --synapses pcm``; docs/pcm.md).

* :mod:`~ostl.hardware.pcm.counter_rng` -- counter-based random numbers (results independent of the
  order and batching of device operations);
* :mod:`~ostl.hardware.pcm.devices` -- PCM devices: SET pulses, RESET, drift, read noise;
* :mod:`~ostl.hardware.pcm.arrays` -- synapse arrays of 2 or 4 devices with mixed-precision updates;
* :mod:`~ostl.hardware.pcm.loop` -- hardware in the loop: a network's weights on arrays;
* :mod:`~ostl.hardware.pcm.plotting` and :mod:`~ostl.hardware.pcm.sim` -- the conductance figure and
  ``ostl pcm-sim``; :mod:`~ostl.hardware.pcm.plugin` -- the synapse model's entry point.
"""
