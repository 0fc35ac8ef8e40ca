"""Entry point of the ``nest`` training backend (``ostl.backends`` group): a description
that imports no simulator; :class:`nestml_models.backend.NestBackend` is loaded on use."""

from ostl.backends import BackendPlugin, Capabilities, Command, Option
from ostl.rules import BPTT_IS_NOT_A_SIMULATOR_RULE, ONLINE_RULES
from ostl.validation import check_int


def _threads(value):
    return check_int("--nest-threads", value, minimum=1)


PLUGIN = BackendPlugin(
    name="nest",
    factory="nestml_models.backend:NestBackend",
    summary="NEST (NESTML neurons and the ostl synapse compiled into a NEST module)",
    install_hint="pip install 'ostl[nest]' (NEST 3.10, NESTML 9; see README for the Debian packages)",
    capabilities=Capabilities(
        rules=ONLINE_RULES, clipping=False, readout_lr=True, modes=("deferred",),
        applies_updates=True, batches="accumulate", synapses=("pcm",), weight_bounds=True,
        rate_regularisation=True,
        reasons={"rules": BPTT_IS_NOT_A_SIMULATOR_RULE,
                 "clipping": "gradient clipping needs the norm over all synapses, which no NEST synapse sees",
                 "modes": "learning signals travel over delayed connections, so a per-step update cannot be "
                          "exact; the weights change at every trial end",
                 "synapses": "NEST's synapse models hold float weights or PCM devices"}),
    options=(Option("--nest-threads", "threads", "NEST's local_num_threads", type=int, metavar="N",
                    validate=_threads),),
    commands=(Command("build-nest", "generate and compile the NESTML models into a NEST module (cached)",
                      "nestml_models.build:build_command",
                      options=(Option("--force", "force", "rebuild even if a cached module exists", flag_only=True),
                               Option("--verbose", "verbose", "show NESTML's and the compiler's messages",
                                      flag_only=True))),),
)
