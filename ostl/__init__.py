"""ostl: online spatio-temporal learning rules for spiking networks.

The reference engine (NumPy, float64, dt = 1 ms) defines every rule; the Brian2 and
NEST plugins reproduce it step for step.
"""

from .cells import ALIF, LIF, SNU, SoftResetSNU, make_cell
from .errors import BackendUnavailableError, OSTLError, ParameterError, ProblemFileError
from .network import Dense, Layer, Network, Readout
from .online import OnlineLearner, SequenceResult
from .optim import SGD, Adam, make_optimizer
from .pseudo import make_pseudo
from .rules import RULE_NAMES, Rule, make_rule

__version__ = "0.1.0"

__all__ = [
    "ALIF", "LIF", "SNU", "SoftResetSNU", "make_cell", "Dense", "Layer", "Network", "Readout",
    "OnlineLearner", "SequenceResult", "SGD", "Adam", "make_optimizer", "make_pseudo",
    "RULE_NAMES", "Rule", "make_rule", "OSTLError", "ParameterError", "ProblemFileError",
    "BackendUnavailableError", "__version__",
]
