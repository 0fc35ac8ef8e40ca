"""Entry point of the ``spinnaker`` training backend (``ostl.backends`` group): a description that
imports nothing heavy; :class:`ostl.hardware.spinnaker.backend.SpiNNakerBackend` loads on use."""

from ...backends import BackendPlugin, Command, Option
from ..chip_capabilities import chip_capabilities


def _headroom(value):
    from ...errors import ParameterError

    if not value >= 1.0:
        raise ParameterError(f"--spinnaker-headroom must be a number >= 1, got {value}")
    return value


PLUGIN = BackendPlugin(
    name="spinnaker",
    factory="ostl.hardware.spinnaker.backend:SpiNNakerBackend",
    summary="the SpiNNaker learning kernels (s16.15, 16-bit weights) compiled for the host",
    install_hint="a C compiler (apt-get install gcc)",
    capabilities=chip_capabilities(
        "the SpiNNaker backend", ("lif", "alif", "snu", "soft_snu"), batches="single", default_batch_size=1,
        reasons={"cells": "the SpiNNaker kernels run these cells",
                 "batches": "the SpiNNaker backend writes each trial's update back"}),
    options=(
        Option("--spinnaker-rounding", "rounding", "write-back below one weight step: residual (kept per synapse, "
               "default) or stochastic", choices=("residual", "stochastic")),
        Option("--spinnaker-headroom", "headroom", "ring-buffer room for growing weights: the shift is chosen for "
               "this many times the largest row sum of |w| (default 2)", type=float, metavar="X", validate=_headroom),
        Option("--spinnaker-engine", "engine", "c (the host-compiled kernels, default) or numpy (their model)",
               choices=("c", "numpy")),
    ),
    commands=(Command("spinnaker-build", "compile the SpiNNaker kernels for the host and for the ARM968 cores and "
                      "print the object sizes", "ostl.hardware.spinnaker.build:build_command",
                      options=(Option("--out", "out", "output directory", metavar="DIR"),)),),
)
