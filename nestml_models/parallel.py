"""NEST over several MPI processes: what a process reads of its own part, gathered.

NEST distributes neurons and their incoming connections over its virtual processes; under MPI a
process sees only its own part: ``GetConnections`` returns its connections, a recorder the
events of its neurons. :func:`gather` joins every process's part (in rank order) so that each
process holds the whole, as one process would; with one process nothing is communicated and
mpi4py is not needed. Writing stays local (a process sets its own connections).
"""

from __future__ import annotations

import numpy as np


def processes(nest):
    """The number of MPI processes NEST runs on."""
    return int(nest.NumProcesses())


def is_primary(nest):
    """Whether this process writes files (checkpoints, summaries, plots): rank 0."""
    return processes(nest) == 1 or int(nest.Rank()) == 0


def gather(nest, columns):
    """``{key: array}`` of this process's rows, joined with every other process's (concatenated
    in rank order); the same dict with one process."""
    columns = {key: np.asarray(value) for key, value in columns.items()}
    if processes(nest) == 1:
        return columns
    from mpi4py import MPI

    parts = MPI.COMM_WORLD.allgather(columns)
    return {key: np.concatenate([np.asarray(part[key]).reshape((-1,) + np.shape(columns[key])[1:])
                                 for part in parts]) for key in columns}


def connection_columns(nest, connections, keys):
    """``{key: array}`` of ``keys`` (e.g. ``source``, ``target``, ``weight``) of every connection
    of ``connections`` on every process."""
    values = connections.get(list(keys)) if len(connections) else {key: [] for key in keys}
    if len(connections) == 1:
        values = {key: [value] for key, value in values.items()}
    return gather(nest, {key: values[key] for key in keys})


def node_columns(nest, nodes, keys):
    """``{"global_id": ..., key: ...}`` of ``keys`` of every node of ``nodes`` on every process (each
    process reads the nodes it holds)."""
    if processes(nest) == 1:   # one process holds every node: one status call
        values = nodes.get(["global_id", *keys])
        return {key: np.atleast_1d(np.asarray(values[key])) for key in ("global_id", *keys)}
    columns = {key: [] for key in ("global_id", *keys)}
    for node in nodes:
        if node.local:
            values = node.get(list(keys))
            columns["global_id"].append(node.global_id)
            for key in keys:
                columns[key].append(values[key])
    return gather(nest, columns)


def recorded_events(nest, recorder, keys):
    """The events ``keys`` (e.g. ``times``, ``senders``, a recordable) a recording device holds on
    every process."""
    events = recorder.get("events")
    return gather(nest, {key: np.asarray(events[key]) for key in keys})
