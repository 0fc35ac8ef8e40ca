"""Plugins found through entry points: the one loader behind every plugin group of ``ostl``
(``ostl.backends``: training backends; ``ostl.synapses``: synapse models)."""

from __future__ import annotations

from importlib import metadata

from .errors import BackendUnavailableError


def load_group(group, kind, builtin=()):
    """``{name: plugin}`` of entry-point group ``group``: the ``builtin`` plugins first, then
    every installed entry point whose object is a ``kind`` called as its entry point. A plugin
    whose package fails to import is not offered; a malformed one is an error."""
    found = {plugin.name: plugin for plugin in builtin}
    for entry in metadata.entry_points(group=group):
        if entry.name in found:
            continue
        try:
            plugin = entry.load()
        except ImportError:   # a plugin whose package is broken is not offered
            continue
        if not isinstance(plugin, kind) or plugin.name != entry.name:
            raise BackendUnavailableError(f"entry point {entry.name!r} of group {group!r} must name a "
                                          f"{kind.__name__} called {entry.name!r}, got {plugin!r}")
        found[entry.name] = plugin
    return found
