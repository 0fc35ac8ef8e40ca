"""Connections of a learning network in NEST that are not plain ``nest.Connect`` calls: reading a
projection's (post, pre) indices, the softmax readouts' exchange, symmetric feedback's copy of the
readout weights, and the catch-up of every plastic synapse."""

from __future__ import annotations

import numpy as np

from .parameters import PYNN_READOUT_MODEL, READOUT_MODEL
from .pcm_synapses import PCM_MODEL, PCM_READOUT_MODEL


def connection_indices(connections, pre, post):
    """(post index, pre index) of every connection of a SynapseCollection between the node
    collections ``pre`` and ``post``. NEST sorts connections when a simulation starts, so
    the indices are read together with the values they label."""
    rows = np.asarray(connections.get("target")) - post[0].global_id
    cols = np.asarray(connections.get("source")) - pre[0].global_id
    return np.atleast_1d(rows), np.atleast_1d(cols)


def connect_softmax_readouts(nest, readout):
    """Softmax readouts exchange their potentials (ostl_learning_neurons.h): every readout to every
    readout, itself included, over ``rate_connection_delayed`` (one step), the receptor type naming
    the sender (its index + 1, so that each sums in readout order)."""
    for index in range(len(readout)):
        nest.Connect(readout[index], readout, "all_to_all",
                     {"synapse_model": "rate_connection_delayed", "delay": 1.0, "weight": 1.0,
                      "receptor_type": index + 1})


def copy_readout_weights(signals, readout_weights, readout, hidden):
    """Symmetric feedback: the learning-signal connections ``signals`` (readout -> hidden)
    get the readout weights ``readout_weights`` (n_out, n_hidden), transposed."""
    rows, cols = connection_indices(signals, readout, hidden)
    # a list of dictionaries: NEST refuses {"weight": [...]} under MPI
    signals.set([{"weight": float(w)} for w in np.asarray(readout_weights).T[rows, cols]])


#: trials between two catch-ups of every plastic synapse (see :func:`catch_up_synapses`)
CATCH_UP_EVERY = 20


def catch_up_synapses(nest, models=("ostl_synapse", "ostl_synapse_lbl", PCM_MODEL, PCM_MODEL + "_lbl", READOUT_MODEL,
                                    PYNN_READOUT_MODEL, PCM_READOUT_MODEL, PCM_READOUT_MODEL + "_lbl")):
    """Let every plastic synapse integrate its target's complete history now. A synapse catches
    up at its presynaptic spikes; one whose source stays silent would keep its target's history
    of the trial it last learned in, and the history would grow with the number of trials. The
    catch-up is exact (the same recursion, split at another step)."""
    for model in models:
        if model in nest.synapse_models:
            connections = nest.GetConnections(synapse_model=model)
            if len(connections):
                connections.set(catch_up=True)
