"""Hardware models: evaluators of the same learning rules under a platform's constraints,
one module per platform or device kind, each constraint switchable.

* :mod:`ostl.hardware.counter_rng` -- counter-based random numbers (results independent of the
  order and batching of operations).
* :mod:`ostl.hardware.pcm` -- phase-change-memory devices (issue 11, in progress).
"""
