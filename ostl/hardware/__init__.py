"""Hardware models: evaluators of the same learning rules under a platform's constraints,
one module per platform or device kind, each constraint switchable.

* :mod:`ostl.hardware.pcm.counter_rng` -- counter-based random numbers (results independent of the
  order and batching of operations).
* :mod:`ostl.hardware.pcm.devices` -- phase-change-memory devices; :mod:`ostl.hardware.pcm.arrays`
  -- synapse arrays with mixed-precision updates; :mod:`ostl.hardware.pcm.loop` -- hardware in
  the loop (``Trainer(..., synapses=...)``, ``ostl train --synapses pcm``; docs/pcm.md).
* :mod:`ostl.hardware.spinnaker.numerics` -- sPyNNaker's s16.15 fixed point and 16-bit synaptic words
  (issue 12: the numerics so far; kernels, emulation and mapping to come).
"""
