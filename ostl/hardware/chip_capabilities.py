"""What a learning chip's plasticity can train, declared once for every chip backend: plain SGD
written back after each trial or batch, one hidden layer, the online rules."""

from ..backends import Capabilities
from ..rules import ONLINE_RULES

_REASONS = {"optimizers": "{chip} writes plain SGD updates back",
            "clipping": "{chip} writes each synapse's update from its own state; no synapse sees the global "
                        "gradient norm",
            "lr_decay": "{chip} keeps the rate it was built with",
            "modes": "{chip} writes weights back at the end of each trial",
            "rules": "{chip} runs the online rules, not 'bptt'",
            "synapses": "{chip}'s synapses are its own",
            "max_layers": "{chip} runs one hidden layer"}


def chip_capabilities(chip, cells, reasons=None, **fields):
    """:class:`~ostl.backends.Capabilities` of a chip (named ``chip`` in refusals) whose hidden layer
    has ``cells``; ``fields`` and ``reasons`` add to or override the common declaration."""
    declared = dict(rules=ONLINE_RULES, cells=tuple(cells), max_layers=1, optimizers=("sgd",), default_optimizer="sgd",
                    clipping=False, readout_lr=True, lr_decay=False, modes=("deferred",), applies_updates=True,
                    synapses=())
    declared.update(fields)
    why = {key: text.format(chip=chip) for key, text in _REASONS.items()}
    why.update(reasons or {})
    return Capabilities(reasons=why, **declared)
