"""The host-compiled SpiNNaker kernels called from Python (ctypes): the same arithmetic as
the NumPy model in :mod:`ostl.hardware.spinnaker`, bit for bit (tested)."""

from __future__ import annotations

import ctypes

import numpy as np

from .spinnaker import Counters, LIFParameters
from .spinnaker_build import host_library


class _Saturations(ctypes.Structure):
    _fields_ = [("multiply", ctypes.c_uint32), ("add", ctypes.c_uint32)]


class _LIFParams(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_int32), ("v_th", ctypes.c_int32), ("inv_v_th", ctypes.c_int32),
                ("gamma", ctypes.c_int32)]


def _pointer(array):
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


class HostKernels:
    """The kernels of ``ostl/hardware/spinnaker_c`` (built on first use)."""

    def __init__(self):
        self.library = host_library()
        self.library.ostl_lif_update.restype = None

    def lif_update(self, v, z, current, p: LIFParameters, counters: Counters = None):
        """As :func:`ostl.hardware.spinnaker.lif_update`, in C."""
        v = np.ascontiguousarray(v, dtype=np.int32).copy()
        z = np.ascontiguousarray(z, dtype=np.int32).copy()
        current = np.ascontiguousarray(current, dtype=np.int32)
        pseudo = np.zeros_like(v)
        saturations = _Saturations(0, 0)
        params = _LIFParams(p.alpha, p.v_th, p.inv_v_th, p.gamma)
        self.library.ostl_lif_update(ctypes.c_uint32(v.size), _pointer(v), _pointer(z), _pointer(current),
                                     ctypes.byref(params), _pointer(pseudo), ctypes.byref(saturations))
        if counters is not None:
            counters.add("multiply", saturations.multiply)
            counters.add("add", saturations.add)
        return v, z, pseudo
