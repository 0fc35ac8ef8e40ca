"""Exceptions raised by ostl.

Every check on user input raises :class:`ParameterError` *before* any simulation
starts, with a message that names the parameter and the allowed range, e.g.::

    ParameterError: decay must be in [0, 1), got 1.5
"""


class OSTLError(Exception):
    """Base class of all errors raised by ostl."""


class ParameterError(OSTLError, ValueError):
    """A parameter (value, name, shape) is outside what the model allows."""


class ProblemFileError(OSTLError, ValueError):
    """A gradient-problem or state file is malformed (missing key, wrong shape, NaN)."""


class BackendUnavailableError(OSTLError, RuntimeError):
    """A simulator backend cannot be used on this machine (missing package or tool)."""


class DivergenceError(OSTLError, ArithmeticError):
    """Training produced a non-finite loss, gradient, weight or state. The trainer's state
    is the last finite one (the diverging iteration's update was discarded)."""

    def __init__(self, message, iteration, step, quantity):
        super().__init__(message)
        self.iteration, self.step, self.quantity = iteration, step, quantity


class DataUnavailableError(OSTLError, RuntimeError):
    """A data set cannot be built on this machine (a package or Debian data set is missing);
    the message says what to install."""
