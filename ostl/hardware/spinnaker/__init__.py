"""The SpiNNaker learning kernels (``ostl train --backend spinnaker``; docs/spinnaker.md).

* :mod:`~ostl.hardware.spinnaker.numerics` -- sPyNNaker's s16.15 fixed point and 16-bit words;
* ``c/`` -- the integer-only C kernels, one file per concern, and :mod:`~ostl.hardware.spinnaker.model`,
  their NumPy model (equal bit for bit);
* :mod:`~ostl.hardware.spinnaker.build` and :mod:`~ostl.hardware.spinnaker.host` -- the host and
  ARM968 builds, and the host build called through ctypes;
* :mod:`~ostl.hardware.spinnaker.network` -- a network in the kernels' arithmetic;
  :mod:`~ostl.hardware.spinnaker.resources` -- its DTCM footprint per core;
* :mod:`~ostl.hardware.spinnaker.backend` and :mod:`~ostl.hardware.spinnaker.plugin` -- the training
  backend and its entry point.
"""
