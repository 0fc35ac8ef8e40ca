"""Training backends: the contract (:class:`Backend`, :class:`Capabilities`), their discovery
through the ``ostl.backends`` entry points (:class:`BackendPlugin`, :func:`plugins`,
:func:`get_plugin`) and the options and sub-commands they add to ``ostl``
(:class:`~ostl.options.Option`, :class:`~ostl.options.Command`). The reference engine's backend
is :class:`ostl.backends.reference.ReferenceBackend` (imported on use)."""

from ..options import Command, Option
from .base import Backend
from .capabilities import Capabilities, refuse
from .plugin import ENTRY_POINT_GROUP, REFERENCE, BackendPlugin, check_request, get_plugin, plugins

__all__ = ["Backend", "BackendPlugin", "Capabilities", "Command", "ENTRY_POINT_GROUP", "Option", "REFERENCE",
           "check_request", "get_plugin", "plugins", "refuse"]
