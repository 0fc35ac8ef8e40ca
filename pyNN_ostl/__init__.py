"""PyNN layer of ostl: simulator-independent cell and synapse types for online learning
(OSTL, OSTTP, e-prop), translated for ``pyNN.brian2`` (and ``pyNN.nest``).

    import pyNN.brian2 as sim
    from pyNN_ostl import SNU, Readout, OSTLSynapse, ReadoutSynapse, LearningSignalConnection

See :mod:`pyNN_ostl.standardmodels` for the declarations and README for a full script.
"""

import importlib
import importlib.abc
import importlib.util
import sys

import numpy as np

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

__all__ = ["SNU", "SoftResetSNU", "LIF", "ALIF", "Readout", "OSTLSynapse", "EPropSynapse", "ReadoutSynapse",
           "LearningSignalConnection", "record_synapses", "get_synapse_data", "spike_times"]


def _backend(obj):
    module = type(obj).__module__
    if module.startswith("pyNN_ostl.brian2") or module.startswith("pyNN.brian2"):
        from . import brian2 as backend
    elif module.startswith("pyNN.nest") or module.startswith("pyNN_ostl.nest"):
        from . import nest as backend
    else:
        raise TypeError(f"{obj!r} is not a projection of a supported PyNN simulator")
    return backend


def record_synapses(projection, variables=("weight", "eligibility_vector", "eligibility_trace")):
    """Record per-connection variables of a learning projection at every step:
    ``weight``, ``eligibility_vector`` (``eps``; with ALIF also its adaptation
    component) and ``eligibility_trace`` (``e``). Call before the first ``run``; read
    them with :func:`get_synapse_data`."""
    allowed = {"weight", "eligibility_vector", "eligibility_trace"}
    bad = sorted(set(variables) - allowed)
    if bad:
        from ostl.errors import ParameterError

        raise ParameterError(f"record_synapses variables must be a subset of {sorted(allowed)}, got {bad}")
    _backend(projection).record_synapses(projection, set(variables))


def get_synapse_data(projection):
    """A :class:`neo.Segment` with one AnalogSignal per recorded variable, one channel
    per connection (annotated with ``source_index`` and ``target_index``)."""
    import neo
    import quantities as pq

    backend = _backend(projection)
    records = backend.synapse_records(projection)
    segment = neo.Segment(name=f"synapses of {projection.label}")
    for name, (values, sources, targets) in records.items():
        signal = neo.AnalogSignal(values, units=pq.dimensionless, sampling_period=1.0 * pq.ms, name=name,
                                  t_start=1.0 * pq.ms)
        signal.array_annotate(source_index=np.asarray(sources), target_index=np.asarray(targets))
        segment.analogsignals.append(signal)
    return segment


def spike_times(x, latency=1.0):
    """Spike times (ms) for a ``SpikeSourceArray`` that delivers the binary input
    ``x`` (T, n) to a layer step for step: a spike source's spike reaches the layer one
    step (``latency`` ms) later, so input step ``t`` is emitted at ``t - latency``.
    Input at step 0 cannot be delivered and must be zero."""
    from pyNN.parameters import Sequence

    x = np.asarray(x)
    if np.any(x[0] != 0):
        from ostl.errors import ParameterError

        raise ParameterError("input at step 0 cannot be delivered by a spike source (zero it)")
    return [Sequence(np.nonzero(x[:, i])[0].astype(float) - latency) for i in range(x.shape[1])]


# -- the translations register themselves with their simulator, whichever is imported first --
_TRANSLATIONS = {"pyNN.brian2": "pyNN_ostl.brian2", "pyNN.nest": "pyNN_ostl.nest"}


class _TranslationFinder(importlib.abc.MetaPathFinder):
    """When a script imports pyNN.nest or pyNN.brian2 after pyNN_ostl, load our translation
    right after it (before the script can call ``sim.setup``)."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _TRANSLATIONS or fullname in sys.modules:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            importlib.import_module(_TRANSLATIONS[fullname])

        spec.loader.exec_module = exec_module   # this spec's own loader instance
        return spec


if not any(isinstance(finder, _TranslationFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _TranslationFinder())
for _simulator, _translation in _TRANSLATIONS.items():
    if _simulator in sys.modules:   # already imported: register now
        importlib.import_module(_translation)
