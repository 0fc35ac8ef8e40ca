"""PyNN layer of ostl: simulator-independent cell and synapse types for online learning
(OSTL, OSTTP, e-prop), translated for ``pyNN.brian2`` and ``pyNN.nest``.

A portable script names its simulator once::

    import pyNN.nest as sim            # or: import pyNN.brian2 as sim
    import pyNN_ostl

    ostl = pyNN_ostl.for_simulator(sim)
    ostl.setup(timestep=1.0)           # sim.setup, and the ostl NEST models on NEST
    hidden = sim.Population(32, ostl.SNU(decay=0.9))
    ...
    ostl.run(1000.0)                   # sim.run (on NEST: trial-wise sync of symmetric feedback)

:mod:`pyNN_ostl.standardmodels` declares the types (parameters, defaults, units), without
any simulator; :mod:`pyNN_ostl.brian2` and :mod:`pyNN_ostl.nest` translate them. Importing
this package changes nothing in PyNN.
"""

import importlib

from .standardmodels import (
    ALIF,
    LIF,
    SNU,
    EPropSynapse,
    LearningSignalConnection,
    OSTLSynapse,
    Readout,
    ReadoutSynapse,
    SoftResetSNU,
)
from .structure import spike_times

__all__ = ["for_simulator", "SNU", "SoftResetSNU", "LIF", "ALIF", "Readout", "OSTLSynapse", "EPropSynapse",
           "ReadoutSynapse", "LearningSignalConnection", "record_synapses", "get_synapse_data", "get_data",
           "spike_times", "signal_array"]

#: PyNN simulator module -> our translation
TRANSLATIONS = {"pyNN.brian2": "pyNN_ostl.brian2", "pyNN.nest": "pyNN_ostl.nest",
                "pyNN.spiNNaker": "pyNN_ostl.spinnaker"}


def for_simulator(sim):
    """The ostl types and helpers translated for the PyNN simulator module ``sim``
    (``pyNN.brian2`` or ``pyNN.nest``): a module with ``SNU``, ``SoftResetSNU``, ``LIF``,
    ``ALIF``, ``Readout``, ``OSTLSynapse``, ``EPropSynapse``, ``ReadoutSynapse``,
    ``LearningSignalConnection``, ``setup``, ``run``, ``record_synapses``,
    ``get_synapse_data``, ``get_data`` and ``spike_times``."""
    from ostl.errors import ParameterError

    name = getattr(sim, "__name__", sim)
    if name not in TRANSLATIONS:
        raise ParameterError(f"pyNN_ostl translates its types for {', '.join(sorted(TRANSLATIONS))}; got {name!r}")
    return importlib.import_module(TRANSLATIONS[name])


def _backend(item):
    module = type(item).__module__
    for simulator, translation in TRANSLATIONS.items():
        if module.startswith(simulator):
            return importlib.import_module(translation)
    raise TypeError(f"{item!r} is not a projection or population of a supported PyNN simulator")


def record_synapses(projection, variables=("weight", "eligibility_vector", "eligibility_trace")):
    """Record per-connection variables of a learning projection at every step (see the
    simulator's translation, e.g. :func:`pyNN_ostl.brian2.record_synapses`)."""
    return _backend(projection).record_synapses(projection, variables)


def get_synapse_data(projection):
    """A :class:`neo.Segment` with one AnalogSignal per recorded variable, one channel
    per connection (annotated with ``source_index`` and ``target_index``)."""
    return _backend(projection).get_synapse_data(projection)


def get_data(population, variables="all", gather=True, clear=False, locations=None):
    """``population.get_data(...)`` with the signals on one time grid on every simulator (see the
    simulator's translation, e.g. :func:`pyNN_ostl.nest.get_data`; a translation without one, as
    pyNN.spiNNaker's, gives PyNN's own)."""
    translation = _backend(population)
    if not hasattr(translation, "get_data"):
        return population.get_data(variables, gather=gather, clear=clear)
    return translation.get_data(population, variables, gather=gather, clear=clear, locations=locations)


def signal_array(signal):
    """The values of a recorded :class:`neo.AnalogSignal` as a ``(time, cell)`` array with the
    columns in the population's order (its ``channel_index`` annotation). pyNN.nest under MPI
    gathers each process's cells onto the first process in the order of the processes, so the
    columns of the gathered signal are not in the population's order until sorted here."""
    import numpy as np

    values = np.asarray(signal)
    channels = getattr(signal, "array_annotations", {}).get("channel_index")
    if channels is None:
        return values
    return values[:, np.argsort(np.asarray(channels), kind="stable")]
