"""The host-compiled SpiNNaker kernels called from Python (ctypes): a whole trial runs in C
(``ostl_trial``), the write-back too (``ostl_write_back``); Python only allocates the arrays.
Same arithmetic as the NumPy model (:mod:`ostl.hardware.spinnaker.model`), bit for bit (tested).
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import model
from .build import host_library
from .numerics import Counters

S32 = ctypes.POINTER(ctypes.c_int32)
S16 = ctypes.POINTER(ctypes.c_int16)
U8 = ctypes.POINTER(ctypes.c_uint8)


class Saturations(ctypes.Structure):
    """The kernels' saturation counters (``ostl_saturations_t``)."""

    _fields_ = [("multiply", ctypes.c_uint32), ("add", ctypes.c_uint32), ("ring_buffer", ctypes.c_uint32),
                ("weight", ctypes.c_uint32)]

    def add_to(self, counters: Counters):
        """Add these counts to ``counters``."""
        for kind, _ in self._fields_:
            counters.add(kind, getattr(self, kind))


class Table(ctypes.Structure):
    """A lookup table (``ostl_table_t``)."""

    _fields_ = [("values", S32), ("shift", ctypes.c_uint32)]


class Cell(ctypes.Structure):
    """A hidden layer's cell constants (``ostl_cell_t``)."""

    _fields_ = [("kind", ctypes.c_int32), ("keep_reset_path", ctypes.c_int32),
                ("alpha", ctypes.c_int32), ("rho", ctypes.c_int32), ("beta", ctypes.c_int32),
                ("v_th", ctypes.c_int32), ("inv_v_th", ctypes.c_int32), ("decay", ctypes.c_int32),
                ("relu", ctypes.c_int32), ("neuron_param", S32), ("pseudo_gamma", ctypes.c_int32),
                ("has_pseudo_table", ctypes.c_int32), ("pseudo_table", Table)]


class Factors(ctypes.Structure):
    """The factors of a step's eligibility traces (``ostl_factors_t``)."""

    _fields_ = [("decay", S32), ("own_path", S32), ("input_gain", S32), ("output_gain", S32)]


class Readout(ctypes.Structure):
    """The readout's constants (``ostl_readout_t``)."""

    _fields_ = [("activation", ctypes.c_int32), ("kappa", ctypes.c_int32), ("shift", ctypes.c_uint32),
                ("sigmoid", Table), ("exp", Table)]


class Network(ctypes.Structure):
    """A network's constants (``ostl_network_t``)."""

    _fields_ = [("n_in", ctypes.c_uint32), ("n", ctypes.c_uint32), ("n_out", ctypes.c_uint32),
                ("m", ctypes.c_uint32), ("d", ctypes.c_uint32), ("recurrent", ctypes.c_uint32),
                ("shift", ctypes.c_uint32), ("signal_source", ctypes.c_int32), ("uses_own_path", ctypes.c_int32),
                ("presynaptic", ctypes.c_int32), ("cell", Cell), ("readout", Readout)]


class TrialState(ctypes.Structure):
    """The arrays a trial works in (``ostl_trial_state_t``)."""

    _fields_ = [("state", S32), ("z", S32), ("pre", U8), ("current", S32), ("factors", Factors),
                ("output_gain_prev", S32), ("eps", S32), ("ebar", S32), ("grad", S32),
                ("a", S32), ("out", S32), ("delta", S32), ("payload", S32), ("scratch", S32),
                ("signal", S32), ("z_bytes", U8), ("ybar", S32), ("ones", S32), ("grad_readout", S32),
                ("grad_bias", S32)]


class Record(ctypes.Structure):
    """What a trial records (``ostl_record_t``; NULL: not recorded)."""

    _fields_ = [("state", S32), ("spikes", S32), ("readout", S32), ("output", S32), ("signal", S32)]


def ptr(array, kind=S32):
    """A C pointer to ``array`` (NULL for None)."""
    return ctypes.cast(None, kind) if array is None else array.ctypes.data_as(kind)


def _table(table, keep):
    if table is None:
        return Table(ctypes.cast(None, S32), 0)
    values = np.ascontiguousarray(table.values, dtype=np.int32)
    keep.append(values)
    return Table(ptr(values), table.shift)


class HostKernels:
    """The kernels of ``ostl/hardware/spinnaker/c`` (built on first use)."""

    def __init__(self):
        self.library = host_library()
        for name in ("ostl_trial", "ostl_write_back", "ostl_bias_write_back", "ostl_neuron_step",
                     "ostl_synaptic_input"):
            getattr(self.library, name).restype = None

    def _network(self, net):
        """The C description of a :class:`~ostl.hardware.spinnaker.network.FixedPointNetwork`
        (and the arrays it points into, which must stay alive)."""
        keep = []
        cell = self.cell(net.cell, keep)
        readout = Readout(model.ACTIVATIONS[net.readout.activation], net.kappa, net.readout_shift,
                          _table(net.readout.sigmoid, keep), _table(net.readout.exp, keep))
        network = Network(net.n_in, net.n, net.n_out, net.m, net.d, int(net.recurrent), net.shift,
                          0 if net.signal_source == "error" else 1, int(net.uses_own_path), int(net.presynaptic), cell,
                          readout)
        return network, keep

    @staticmethod
    def cell(cell, keep):
        """The C struct of an encoded cell (``keep`` holds the arrays it points to)."""
        neuron_param = None
        if cell.neuron_param is not None:
            neuron_param = np.ascontiguousarray(cell.neuron_param, dtype=np.int32)
            keep.append(neuron_param)
        return Cell(model.CELL_KINDS[cell.kind], int(cell.keep_reset_path), cell.alpha, cell.rho, cell.beta, cell.v_th,
                    cell.inv_v_th, cell.decay, int(cell.relu), ptr(neuron_param), cell.pseudo_gamma,
                    int(cell.pseudo_table is not None), _table(cell.pseudo_table, keep))

    def neuron_step(self, cell, state, z_prev, current, counters):
        """As :func:`ostl.hardware.spinnaker.model.neuron_step`, in C."""
        keep = []
        c_cell = self.cell(cell, keep)
        state = np.ascontiguousarray(state, dtype=np.int32).copy()
        z = np.ascontiguousarray(z_prev, dtype=np.int32).copy()
        current = np.ascontiguousarray(current, dtype=np.int32)
        factors = [np.zeros_like(state) for _ in range(4)]
        saturations = Saturations()
        self.library.ostl_neuron_step(ctypes.byref(c_cell), ctypes.c_uint32(state.shape[0]), ptr(state), ptr(z),
                                      ptr(current), ctypes.byref(Factors(*[ptr(f) for f in factors])),
                                      ctypes.byref(saturations))
        saturations.add_to(counters)
        return state, z, tuple(factors)

    def trial(self, net, x, target, mask, record, counters):
        """One trial of ``net`` in C: the same arrays as
        :meth:`ostl.hardware.spinnaker.network.FixedPointNetwork.run_trial` with the NumPy model."""
        network, keep = self._network(net)
        n, m, d, n_out = net.n, net.m, net.d, net.n_out
        steps = x.shape[0]

        def zeros(*shape, dtype=np.int32):
            return np.zeros(shape, dtype=dtype)

        factors = [zeros(n, d) for _ in range(4)]
        arrays = {"state": zeros(n, d), "z": zeros(n), "pre": zeros(m, dtype=np.uint8), "current": zeros(n),
                  "output_gain_prev": zeros(n, d), "eps": zeros(m, 1) if net.presynaptic else zeros(n, m, d),
                  "ebar": zeros(n, m) if net.kappa else None, "grad": zeros(n, m), "a": zeros(n_out),
                  "out": zeros(n_out), "delta": zeros(n_out), "payload": zeros(n_out), "scratch": zeros(max(n_out, 1)),
                  "signal": zeros(n), "z_bytes": zeros(n, dtype=np.uint8), "ybar": zeros(n), "ones": zeros(n_out),
                  "grad_readout": zeros(n_out, n), "grad_bias": zeros(n_out)}
        fields = {name: ptr(arrays[name], U8 if name in ("pre", "z_bytes") else S32)
                  for name, _ in TrialState._fields_ if name != "factors"}
        state = TrialState(factors=Factors(*[ptr(f) for f in factors]), **fields)
        recorded = None
        record_struct = None
        if record:
            recorded = {"state": zeros(steps, n, d), "spikes": zeros(steps, n), "readout": zeros(steps, n_out),
                        "output": zeros(steps, n_out), "signal": zeros(steps, n)}
            record_struct = Record(*[ptr(recorded[name]) for name, _ in Record._fields_])
        words = np.ascontiguousarray(net.words, dtype=np.int32)
        readout_words = np.ascontiguousarray(net.readout_words, dtype=np.int32)
        bias = np.ascontiguousarray(net.bias, dtype=np.int32)
        feedback = np.ascontiguousarray(net.feedback(), dtype=np.int32)
        x = np.ascontiguousarray(x, dtype=np.uint8)
        target = np.ascontiguousarray(target, dtype=np.int32)
        mask = np.ascontiguousarray(mask, dtype=np.int32)
        saturations = Saturations()
        self.library.ostl_trial(ctypes.byref(network), ptr(words), ptr(readout_words), ptr(bias), ptr(feedback),
                                ctypes.c_uint32(steps), ptr(x, U8), ptr(target), ptr(mask), ctypes.byref(state),
                                ctypes.byref(record_struct) if record_struct is not None else None,
                                ctypes.byref(saturations))
        del keep
        saturations.add_to(counters)
        out = {"grad": arrays["grad"], "grad_readout": arrays["grad_readout"], "grad_bias": arrays["grad_bias"],
               "eps": arrays["eps"], "ebar": arrays["ebar"], "ybar": arrays["ybar"]}
        if recorded is not None:
            out.update(recorded)
        return out

    def write_back(self, net, arrays, counters):
        """The write-back of a trial's gradients in C (hidden and readout weights, the bias)."""
        saturations = Saturations()
        rounding = model.ROUNDING[net.rounding]
        for words, residual, grad, mask, shift, offset, (lr_mantissa, lr_shift) in (
                (net.words, net.residual, arrays["grad"], net.mask, net.shift, 0, net.lr_bits),
                (net.readout_words, net.readout_residual, arrays["grad_readout"], None, net.readout_shift,
                 net.n * net.m, net.readout_lr_bits)):
            mask_bytes = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
            grad = np.ascontiguousarray(grad, dtype=np.int32)
            self.library.ostl_write_back(ctypes.c_uint32(words.size), ptr(words), ptr(residual, S16), ptr(grad),
                                         ptr(mask_bytes, U8), ctypes.c_int32(lr_mantissa), ctypes.c_int32(lr_shift),
                                         ctypes.c_uint32(shift), ctypes.c_int32(rounding), ctypes.c_uint32(net.seed),
                                         ctypes.c_uint32(net.trial), ctypes.c_uint32(offset),
                                         ctypes.byref(saturations))
        if net.learn_bias:   # the readout bias: s16.15, no word grid, the readout's rate
            lr_mantissa, lr_shift = net.readout_lr_bits
            grad_bias = np.ascontiguousarray(arrays["grad_bias"], dtype=np.int32)
            self.library.ostl_bias_write_back(ctypes.c_uint32(net.bias.size), ptr(net.bias), ptr(grad_bias),
                                              ctypes.c_int32(lr_mantissa), ctypes.c_int32(lr_shift),
                                              ctypes.byref(saturations))
        saturations.add_to(counters)
