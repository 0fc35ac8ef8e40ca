"""Entry point of the ``brian2`` training backend (``ostl.backends`` group): a description
that imports no simulator; :class:`brian2_ostl.backend.Brian2Backend` is loaded on use."""

from ostl.backends import BackendPlugin, Capabilities, Option
from ostl.rules import BPTT_IS_NOT_A_SIMULATOR_RULE, ONLINE_RULES

#: Brian2 code-generation targets the backend supports
TARGETS = ("cpp_standalone", "numpy", "cython")

PLUGIN = BackendPlugin(
    name="brian2",
    factory="brian2_ostl.backend:Brian2Backend",
    summary="Brian2 (equations compiled by Brian2's code generation)",
    install_hint="pip install 'ostl[brian2]' (Brian2 2.9, PyNN 0.13, Neo)",
    capabilities=Capabilities(
        rules=ONLINE_RULES, rate_regularisation=True, weight_bounds=True, readout_lr=True,
        reasons={"rules": BPTT_IS_NOT_A_SIMULATOR_RULE}),
    options=(Option("--brian2-target", "target", "Brian2 code generation target (default cpp_standalone)",
                    choices=TARGETS),),
)
