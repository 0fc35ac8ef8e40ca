"""Entry points of the hardware backends (``ostl.backends`` group): descriptions that import
nothing heavy; the backend classes load on use."""

from ..backends import BackendPlugin, Capabilities, Command, Option
from ..rules import ONLINE_RULES
from ..validation import check_choice

#: what both chips cannot do: the plasticity writes plain SGD back, after each trial or batch
_PLAIN_SGD = {"optimizers": "{chip} writes plain SGD updates back", "clipping": "{chip} writes each synapse's update "
              "from its own state; no synapse sees the global gradient norm",
              "lr_decay": "{chip} keeps the rate it was built with", "modes": "{chip} writes weights back at the end "
              "of each trial", "rules": "{chip} runs the online rules, not 'bptt'",
              "synapses": "{chip}'s synapses are its own"}


def _reasons(chip, **more):
    return {key: text.format(chip=chip) for key, text in {**_PLAIN_SGD, **more}.items()}


def _headroom(value):
    from ..errors import ParameterError

    if not value >= 1.0:
        raise ParameterError(f"--spinnaker-headroom must be a number >= 1, got {value}")
    return value


SPINNAKER = BackendPlugin(
    name="spinnaker",
    factory="ostl.hardware.spinnaker_backend:SpiNNakerBackend",
    summary="the SpiNNaker learning kernels (s16.15, 16-bit weights) compiled for the host",
    install_hint="a C compiler (apt-get install gcc)",
    capabilities=Capabilities(
        rules=ONLINE_RULES, cells=("lif", "alif", "snu", "soft_snu"), max_layers=1, optimizers=("sgd",),
        default_optimizer="sgd", clipping=False, readout_lr=True, lr_decay=False, modes=("deferred",),
        applies_updates=True, batches="single", default_batch_size=1, synapses=(),
        reasons=_reasons("the SpiNNaker backend", cells="the SpiNNaker kernels run these cells",
                         max_layers="the SpiNNaker backend runs one hidden layer",
                         batches="the SpiNNaker backend writes each trial's update back")),
    options=(
        Option("--spinnaker-rounding", "rounding", "write-back below one weight step: residual (kept per synapse, "
               "default) or stochastic", choices=("residual", "stochastic"),
               validate=lambda v: check_choice("--spinnaker-rounding", v, {"residual", "stochastic"})),
        Option("--spinnaker-headroom", "headroom", "ring-buffer room for growing weights: the shift is chosen for "
               "this many times the largest row sum of |w| (default 2)", type=float, metavar="X", validate=_headroom),
        Option("--spinnaker-engine", "engine", "c (the host-compiled kernels, default) or numpy (their model)",
               choices=("c", "numpy")),
    ),
    commands=(Command("spinnaker-build", "compile the SpiNNaker kernels for the host and for the ARM968 cores and "
                      "print the object sizes", "ostl.hardware.spinnaker_build:build_command",
                      options=(Option("--out", "out", "output directory", metavar="DIR"),)),),
)


def _on_off(flag):
    def parse(value):
        from ..errors import ParameterError

        if value not in ("on", "off"):
            raise ParameterError(f"{flag} must be on or off, got {value!r}")
        return value == "on"
    return parse


BRAINSCALES2 = BackendPlugin(
    name="brainscales2",
    factory="ostl.hardware.brainscales2_backend:BrainScaleS2Backend",
    summary="an emulated BrainScaleS-2 chip (6-bit weights, row signs, analog variation, the PPU's arithmetic)",
    capabilities=Capabilities(
        rules=ONLINE_RULES, cells=("lif", "alif"), max_layers=1, optimizers=("sgd",), default_optimizer="sgd",
        clipping=False, readout_lr=True, lr_decay=False, modes=("deferred",), applies_updates=True,
        batches="accumulate", synapses=(),
        reasons=_reasons("the BrainScaleS-2 plasticity processor",
                         cells="the BrainScaleS-2 backend runs one hidden layer of LIF or ALIF neurons",
                         max_layers="the BrainScaleS-2 backend runs one hidden layer of LIF or ALIF neurons")),
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
