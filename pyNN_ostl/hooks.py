"""The one place where pyNN_ostl relies on PyNN beyond its documented extension points.

A learning network is assembled from many projections at once (the rule, the layer order
and the feedback pathway decide every synapse's equations), so it can be checked and
built only when the network is complete: right before the first simulation step. PyNN
0.13 has no hook for that. Each backend uses the pre-run call PyNN makes on its own
recording objects, and registers one object of ours there:

* pyNN.brian2: ``simulator.state.recorders`` -- ``State.run`` calls ``_finalize()`` on
  every member before each run (and ``reset`` calls ``store_to_cache``);
* pyNN.nest: ``simulator.state.recording_devices`` -- ``State.run`` calls
  ``connect_to_cells()`` on every member whose ``_connected`` is false before each run.

Both lists are emptied by ``sim.setup``; the object is registered again by the first ostl
population or projection of a new setup. To find the network, the object reads what PyNN
keeps anyway: the recorders' populations (``state.populations`` on NEST), the Brian2
``Synapses`` in ``state.network`` and, on NEST, the label pyNN.nest gives the projection being
made (``pyNN.common.projections.Projection._nProj``, read when pyNN.nest asks the synapse type
for its model); it sets ``state.stale_connection_cache`` (NEST sorts connections when a
simulation starts) and deactivates the Brian2 ``Synapses`` whose work the learning circuit
does. :func:`require_pynn` checks, once, that the
running PyNN is a version whose ``State.run`` makes these calls. The hook PyNN should
offer instead is described in ``docs/design.md`` ("A pre-run hook for PyNN").

Nothing else of PyNN is replaced or changed: the cell and synapse types are subclasses
with PyNN's own translation attributes, and importing pyNN_ostl changes nothing.
"""

from __future__ import annotations

import inspect

from ostl.errors import BackendUnavailableError

#: the PyNN versions whose pre-run calls are known (see module docstring)
SUPPORTED_PYNN = ("0.13",)

_CHECKED = set()


def require_pynn(state, method):
    """Check that ``type(state).run`` calls ``method`` on the recording objects of this
    PyNN version; raise :class:`BackendUnavailableError` otherwise."""
    import pyNN

    key = (type(state), method)
    if key in _CHECKED:
        return
    version = ".".join(str(pyNN.__version__).split(".")[:2])
    if version not in SUPPORTED_PYNN:
        raise BackendUnavailableError(f"pyNN_ostl supports PyNN {', '.join(SUPPORTED_PYNN)}; found "
                                      f"{pyNN.__version__} (pip install 'PyNN==0.13.0')")
    if method not in inspect.getsource(type(state).run):
        raise BackendUnavailableError(f"this PyNN's {type(state).__module__}.State.run does not call {method}(): "
                                      "pyNN_ostl cannot assemble the learning network before the first step")
    _CHECKED.add(key)
