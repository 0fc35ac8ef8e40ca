"""SpiNNaker numerics (issue 12, item 1): sPyNNaker's s16.15 fixed point and synaptic
words, in NumPy, operation for operation.

Sources (read; quoted in the docstrings): spinn_common ``include/stdfix-full-iso.h`` and
``include/round.h``, sPyNNaker ``neural_modelling/src/common/maths-util.h``,
``neuron/synapses.c``, ``neuron/synapse_row.h`` and ``spynnaker/pyNN/models/neuron/
population_vertex.py``, SpiNNFrontEndCommon ``interface/ds/data_type.py``, and what GCC's
ARM back end makes of the plain operators (``arm-none-eabi-gcc`` 12.2, ARM mode, as
spinnaker_tools builds).

* ``accum`` (s16.15) is an ``int32`` holding ``value * 2^15``. The host encodes parameters
  by rounding half to even (:func:`to_s1615`); a value outside ``[-65536, 65536 - 2^-15]``
  is refused, not wrapped.
* :func:`mul_round_nearest` is ``MULT_ROUND_NEAREST_ACCUM``: the 64-bit product, shifted
  right by 15 with the bit below added (round half up), saturated to int32 (and
  ``INT32_MIN * INT32_MIN = INT32_MAX``). :func:`mul_wrap` is the plain ``*`` of an ARM-mode
  build: ``(int32)(product >> 15)`` (floor, wrapping).
* :func:`add_saturating` is ``__stdfix_sadd_k``; plain ``+`` wraps (:func:`add_wrap`).
* :func:`kdivk` is sPyNNaker's unsigned ``(a << 15) / b`` (truncating): defined for
  ``a >= 0``, ``b > 0`` only (sPyNNaker's own e-prop code says so); other operands are refused.
* :func:`roundk` is ``roundk(x, n)``: drop ``n`` fraction bits, rounding half up.
* Synaptic weights are 16-bit unsigned words with the sign carried by the synapse type
  (excitatory, inhibitory): :func:`ring_buffer_shift` and :func:`weight_scale` follow
  ``population_vertex.get_ring_buffer_shifts`` / ``__get_weight_scale`` (scale
  ``2^(15 - shift)``), :func:`encode_weights` ``synapse_dynamics_static`` (``rint`` of the
  magnitude; a weight whose word would pass 0xFFFF is refused), :class:`RingBuffer` the
  16-bit accumulation of ``synapses.c`` (saturating at 0xFFFF, counted) and
  ``synapse_row_convert_weight_to_input`` (the word shifted left by ``shift`` as s16.15).
* A learning signal travels as the 32-bit payload of a multicast packet: the s16.15 bits
  (``bitsk(error)``, sPyNNaker pull request 1368): :func:`to_payload`, :func:`from_payload`.

Saturations are counted in a :class:`Counters` object where an operation saturates, so a
model run reports them instead of hiding them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ParameterError

FRACTION_BITS = 15
ONE = 1 << FRACTION_BITS
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
#: the largest and smallest values an accum holds
MAX_VALUE, MIN_VALUE = INT32_MAX / ONE, INT32_MIN / ONE
WEIGHT_BITS = 16
MAX_WEIGHT_WORD = (1 << WEIGHT_BITS) - 1


@dataclass
class Counters:
    """Saturation events of the fixed-point operations, by kind."""

    counts: dict = field(default_factory=dict)

    def add(self, kind, n):
        """Count ``n`` saturations of ``kind``."""
        n = int(n)
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def __getitem__(self, kind):
        """The count of ``kind`` (0 if none)."""
        return self.counts.get(kind, 0)


def to_s1615(value, name="value"):
    """Host encoding of ``value`` (array or scalar) as s16.15 bits (int32): ``value * 2^15``
    rounded half to even (SpiNNFrontEndCommon's ``np.round``). Out of range: ParameterError
    naming ``name`` and the range."""
    scaled = np.round(np.asarray(value, dtype=np.float64) * ONE)
    if not np.all(np.isfinite(scaled)) or np.any(scaled > INT32_MAX) or np.any(scaled < INT32_MIN):
        raise ParameterError(f"{name} must be in [{MIN_VALUE:g}, {MAX_VALUE:.6f}] to fit s16.15")
    return scaled.astype(np.int32)


def from_s1615(bits):
    """The value of s16.15 bits."""
    return np.asarray(bits, dtype=np.int64) / ONE


def saturate(values, counters, kind):
    """``values`` clipped to int32, counting the clipped ones as ``kind``."""
    values = np.asarray(values, dtype=np.int64)
    high, low = values > INT32_MAX, values < INT32_MIN
    if counters is not None:
        counters.add(kind, np.count_nonzero(high) + np.count_nonzero(low))
    return np.clip(values, INT32_MIN, INT32_MAX).astype(np.int32)


def _wrap(values):
    """Two's-complement wrap of int64 values to int32 (what a 32-bit register keeps)."""
    return np.asarray(values, dtype=np.int64).astype(np.uint64).astype(np.uint32).view(np.int32)


def mul_round_nearest(a, b, counters=None):
    """``MULT_ROUND_NEAREST_ACCUM(a, b)`` on s16.15 bits (spinn_common ``round.h``).

    ::

        if (x == INT32_MIN && y == INT32_MIN) return INT32_MAX;
        return __stdfix_sat_k(__stdfix_round_s64(x * y, 15) >> 15);

    i.e. ``(p >> 15) + ((p >> 14) & 1)`` of the 64-bit product ``p``, saturated."""
    x, y = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    p = x * y                        # |p| <= 2^62: exact in int64
    r = (p >> FRACTION_BITS) + ((p >> (FRACTION_BITS - 1)) & 1)
    r = np.where((x == INT32_MIN) & (y == INT32_MIN), INT32_MAX, r)
    return saturate(r, counters, "multiply")


def mul_wrap(a, b):
    """The plain ``accum * accum`` of an ARM-mode GCC build: ``smull`` then
    ``(int32)(p >> 15)`` -- the floor of the product, wrapping on overflow."""
    p = np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    return _wrap(p >> FRACTION_BITS)


def add_saturating(a, b, counters=None):
    """``__stdfix_sadd_k``: the 64-bit sum clamped to int32."""
    return saturate(np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64), counters, "add")


def add_wrap(a, b):
    """The plain ``+`` (32-bit wrapping)."""
    return _wrap(np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64))


def kdivk(a, b):
    """SPyNNaker's ``kdivk``: ``kbits((uint32_t) udiv64((uint64_t) bitsk(a) << 15, bitsk(b)))``
    -- an unsigned division, truncating. Defined for ``a >= 0`` and ``b > 0`` (negative
    operands sign-extend into huge unsigned numbers; ``b = 0`` traps on the chip): refused."""
    x, y = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if np.any(x < 0) or np.any(y <= 0):
        raise ParameterError("kdivk takes a >= 0 and b > 0 (sPyNNaker's unsigned fixed-point division)")
    return _wrap((x << FRACTION_BITS) // y)


def roundk(a, n):
    """spinn_common's ``roundk(x, n)`` on s16.15 bits: drop ``n`` low bits rounding half up
    (``c = (x >> (n-1)) & 1; r = ((x >> n) + c) << n``); the e-prop write-back uses ``n = 15``
    (to whole units). No saturation (as the C)."""
    if not 1 <= int(n) <= 31:
        raise ParameterError(f"roundk bits must be in [1, 31], got {n}")
    x = np.asarray(a, dtype=np.int64)
    return _wrap(((x >> n) + ((x >> (n - 1)) & 1)) << n)


# -- synaptic words ----------------------------------------------------------------------------
def ring_buffer_shift(max_summed_input):
    """SPyNNaker's left shift of a synapse type's ring buffer for the largest input it
    expects in one step (``population_vertex.get_ring_buffer_shifts``).

    ::

        shift = 0 if w <= 0 else ceil(max(0, log2(w)));  shift += 1 if 2 ** shift <= w

    (the second line makes room when ``w`` is a power of two)."""
    w = float(max_summed_input)
    if not np.isfinite(w):
        raise ParameterError(f"the largest expected summed input must be finite, got {max_summed_input}")
    if w <= 0:
        return 0
    shift = int(np.ceil(max(0.0, np.log2(w))))
    if 2 ** shift <= w:
        shift += 1
    if shift > 15:
        raise ParameterError(f"the largest expected summed input ({w:g}) needs a ring-buffer shift of {shift}; "
                             "s16.15 inputs allow at most 15 (the input would overflow 65535)")
    return shift


def weight_scale(shift):
    """Weight units per 16-bit word step: ``2^(16 - (shift + 1)) = 2^(15 - shift)``."""
    return float(2.0 ** (15 - int(shift)))


def encode_weights(weights, shift, name="weights"):
    """16-bit words and synapse types (0 excitatory, 1 inhibitory) of a signed weight matrix
    for a ring-buffer ``shift``: ``rint(|w| * 2^(15 - shift))`` (numpy's rint: half to even),
    the sign in the type. A word beyond 0xFFFF is refused (sPyNNaker would mask it)."""
    w = np.asarray(weights, dtype=np.float64)
    words = np.rint(np.abs(w) * weight_scale(shift))
    if not np.all(np.isfinite(words)) or np.any(words > MAX_WEIGHT_WORD):
        largest = float(np.nanmax(np.abs(w))) if w.size else 0.0
        raise ParameterError(f"{name}: weight {largest:g} does not fit 16 bits at ring-buffer shift {shift} "
                             f"(largest {MAX_WEIGHT_WORD / weight_scale(shift):g}); raise the expected summed input")
    return words.astype(np.uint16), (w < 0).astype(np.uint8)


def decode_weights(words, types, shift):
    """The signed weights that ``encode_weights`` stores (what ``Projection.get`` returns)."""
    sign = np.where(np.asarray(types) == 1, -1.0, 1.0)
    return sign * np.asarray(words, dtype=np.float64) / weight_scale(shift)


class RingBuffer:
    """The 16-bit input accumulation of one synapse type (``synapses.c``).

    ::

        uint32_t accumulation = ring_buffers[index] + weight;
        uint32_t sat_test = accumulation & 0x10000;
        if (sat_test) { accumulation = sat_test - 1; synapses_saturation_count++; }

    ``input_bits`` is ``synapse_row_convert_weight_to_input``: the word shifted left by
    ``shift``, read as s16.15."""

    def __init__(self, size, shift):
        self.shift = int(shift)
        self.values = np.zeros(int(size), dtype=np.uint32)
        self.saturations = 0

    def add(self, index, word):
        """Add ``word`` (one synaptic event) at ``index`` (arrays: events applied in order)."""
        for i, w in zip(np.atleast_1d(index), np.atleast_1d(word)):
            accumulation = int(self.values[i]) + int(w)
            if accumulation & 0x10000:
                accumulation = 0xFFFF
                self.saturations += 1
            self.values[i] = accumulation

    def input_bits(self):
        """The s16.15 input of this step, and the buffer cleared (read once per step)."""
        bits = (self.values.astype(np.int64) << self.shift).astype(np.int32)
        self.values[:] = 0
        return bits


# -- learning signals as multicast payloads ------------------------------------------------------
def to_payload(bits):
    """The 32-bit multicast payload of an s16.15 value: its bits (``bitsk(error)``)."""
    return np.asarray(bits, dtype=np.int32).view(np.uint32)


def from_payload(payload):
    """The s16.15 bits a payload carries (``kbits(payload)``)."""
    return np.asarray(payload, dtype=np.uint32).view(np.int32)
