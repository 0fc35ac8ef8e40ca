"""The BrainScaleS-2 plasticity processor's vector arithmetic (issue 13, item 1), in NumPy, bit for
bit as the hardware computes it.

Sources (read; the public ``electronicvisions`` repositories): the PPU's vector unit RTL and manual
(``nux``: ``src/rtl/processor/valu_ctrl.sv``, ``valu_mult_add.sv``, ``valu.sv``,
``vector_permute.sv``, ``vector_compare.sv``, ``doc/guide/src/fxv.tex``), its testbench reference
model (``src/testbenches/classes/vector_predictor.sv``, ``arithmetic_pkg.sv``), the opcode table
(``binutils-gdb``: ``opcodes/ppc-opc.c``) and libnux's hardware tests (``tests/hw/libnux/vx/
test_vector_frac_sat_8_1.cpp``, ``..._16_1.cpp``), whose expected values the tests here reproduce.

A vector is 128 bytes (s0.7: ``value = int8 / 128``, range ``[-1, 127/128]``) or 64 halfwords
(s0.15). Per lane, with ``n`` = 8 or 16 bits:

* ``fxvaddbm`` / ``fxvsubbm`` (:func:`add_modulo`, :func:`subtract_modulo`): ``(a +- b) mod 2^n``;
* ``fxvaddbfs`` / ``fxvsubbfs`` (:func:`add_saturating`, :func:`subtract_saturating`):
  ``clip(a +- b, -2^(n-1), 2^(n-1) - 1)`` (operands sign-extended first: ``a - (-128)`` saturates);
* ``fxvmulbm`` (:func:`multiply_modulo`): the low ``n`` bits of the signed product;
* ``fxvmulbfs`` (:func:`multiply_fractional`): the ``2n``-bit product shifted left by one with
  saturation (only ``(-2^(n-1))^2`` overflows, to ``2^(2n-1) - 1``), then its upper half: i.e.
  ``floor(a b / 2^(n-1))`` -- rounding toward minus infinity -- and ``-1 x -1 = 127/128``;
* the accumulator (one per lane, ``2n`` bits): ``fxvmatacbfs`` (:func:`accumulate_product`:
  ``ACC = sat(ACC + P)`` with ``P`` the saturated shifted product), ``fxvmabfs``
  (:func:`accumulated_product`: ``sat(ACC + P) >> n``), ``fxvmtacbf`` (``ACC = a << n``),
  ``fxvaddactacbf`` (``ACC = sat(ACC + (a << n))``);
* ``fxvshb`` (:func:`shift`): a *logical* shift per lane by a signed immediate in ``[-16, 15]``
  (positive: left, negative: right), zero fill, no saturation. There is no arithmetic right
  shift; libnux divides by ``2^k`` as ``fxvmulbfs`` by ``1 << (7 - k)`` (:func:`shift_right_arithmetic`);
* ``fxvcmpb`` / ``fxvsel`` (:func:`compare`, :func:`select`): signed comparison with zero, and a
  per-lane choice by the condition (0 always, 1 greater, 2 less, 3 equal).

Lanes are int arrays holding the signed values (int8 / int16 range); results come back the same
way. Weights on the chip are 6-bit (mask 0x3f) in the synapse memory.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError

WIDTHS = (8, 16)
WEIGHT_MASK = 0x3F


def _check_width(bits):
    if bits not in WIDTHS:
        raise ParameterError(f"the vector unit has 8- and 16-bit lanes, got {bits}")


def _limits(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _lanes(values, bits):
    _check_width(bits)
    x = np.asarray(values, dtype=np.int64)
    low, high = _limits(bits)
    if np.any(x < low) or np.any(x > high):
        raise ParameterError(f"{bits}-bit lanes hold values in [{low}, {high}]")
    return x


def wrap(values, bits):
    """Two's-complement wrap of integers to ``bits`` (what a lane keeps)."""
    x = np.asarray(values, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(x >= 1 << (bits - 1), x - (1 << bits), x)


def saturate(values, bits):
    """``values`` clipped to a signed ``bits``-bit lane."""
    low, high = _limits(bits)
    # np.minimum/np.maximum, not np.clip: the same integers without clip's per-call dtype checks
    return np.minimum(np.maximum(np.asarray(values, dtype=np.int64), low), high)


def to_fraction(values, bits=8):
    """Host encoding of values in ``[-1, 1)`` as s0.7 / s0.15 lanes: ``floor(value 2^(n-1))``
    saturated (as the PPU's own divisions round)."""
    _check_width(bits)
    return saturate(np.floor(np.asarray(values, dtype=np.float64) * (1 << (bits - 1))), bits)


def from_fraction(lanes, bits=8):
    """Fractional lanes (``bits`` bits, s0.(bits-1)) as floats."""
    return np.asarray(lanes, dtype=np.float64) / (1 << (bits - 1))


def add_modulo(a, b, bits=8):
    """``a + b`` wrapped to ``bits`` bits (the modulo add)."""
    return wrap(_lanes(a, bits) + _lanes(b, bits), bits)


def subtract_modulo(a, b, bits=8):
    """``a - b`` wrapped to ``bits`` bits (the modulo subtract)."""
    return wrap(_lanes(a, bits) - _lanes(b, bits), bits)


def add_saturating(a, b, bits=8):
    """``a + b`` saturated to ``bits`` bits."""
    return saturate(_lanes(a, bits) + _lanes(b, bits), bits)


def subtract_saturating(a, b, bits=8):
    """``a - b`` saturated to ``bits`` bits."""
    return saturate(_lanes(a, bits) - _lanes(b, bits), bits)


def multiply_modulo(a, b, bits=8):
    """``a * b`` (integer product) wrapped to ``bits`` bits."""
    return wrap(_lanes(a, bits) * _lanes(b, bits), bits)


def _shifted_product(a, b, bits):
    """``mult_sat_fract``: the product shifted left by one, saturated to ``2n`` bits."""
    p = _lanes(a, bits) * _lanes(b, bits)
    low, _ = _limits(bits)
    return np.where((np.asarray(a) == low) & (np.asarray(b) == low), (1 << (2 * bits - 1)) - 1, 2 * p)


def multiply_fractional(a, b, bits=8):
    """``fxvmulbfs`` / ``fxvmulhfs``: ``floor(a b / 2^(n-1))``, ``(-1)(-1) = 1 - 2^-(n-1)``."""
    return _shifted_product(a, b, bits) >> bits


def multiply_fractional_lanes(a, b, bits=16):
    """:func:`multiply_fractional` for int64 arrays already known to hold ``bits``-bit lanes (no
    range check: the emulator's inner loop)."""
    low = -(1 << (bits - 1))
    product = (a * b) << 1
    return np.where((a == low) & (b == low), (1 << (bits - 1)) - 1, product >> bits)


def multiply_fractional_rounded(a, b, bits=16):
    """The product rounded to nearest (half up) through the accumulator, as a PPU program does it to
    avoid the floor's bias: ``fxvmtac`` loads half an output LSB (``2^(n-1)`` in the 2n-bit
    accumulator), ``fxvmatacfs`` adds the shifted product with 2n-bit saturation, and the upper
    half is read: ``(2ab + 2^(n-1)) >> n``, ``(-1)(-1) = 1 - 2^-(n-1)``. For int64 arrays of
    ``bits``-bit lanes (no range check)."""
    # |2ab| <= 2^(2n-1): the sum with half an LSB overflows the 2n-bit accumulator only for
    # (-1)(-1), which saturates to 1 - 2^-(n-1) anyway
    total = ((a * b) << 1) + (1 << (bits - 1))
    return np.minimum(total >> bits, (1 << (bits - 1)) - 1)


def add_saturating_lanes(a, b, bits=16):
    """:func:`add_saturating` without the range check."""
    return np.minimum(np.maximum(a + b, -(1 << (bits - 1))), (1 << (bits - 1)) - 1)


def accumulate_product(accumulator, a, b, bits=8):
    """``fxvmatacbfs``: ``ACC = sat_2n(ACC + P)`` (the accumulator has ``2n`` bits)."""
    return saturate(np.asarray(accumulator, dtype=np.int64) + _shifted_product(a, b, bits), 2 * bits)


def accumulated_product(accumulator, a, b, bits=8):
    """``fxvmabfs``: ``sat_2n(ACC + P) >> n`` (the accumulator unchanged)."""
    return accumulate_product(accumulator, a, b, bits) >> bits


def load_accumulator(a, bits=8):
    """``fxvmtacbf``: ``ACC = a << n``."""
    return _lanes(a, bits) << bits


def add_to_accumulator(accumulator, a, bits=8):
    """``fxvaddactacbf``: ``ACC = sat_2n(ACC + (a << n))``."""
    return saturate(np.asarray(accumulator, dtype=np.int64) + (_lanes(a, bits) << bits), 2 * bits)


def read_accumulator(accumulator, bits=8):
    """The lane value of an accumulator (its upper half)."""
    return np.asarray(accumulator, dtype=np.int64) >> bits


def shift(a, amount, bits=8):
    """``fxvshb`` / ``fxvshh``: logical shift by ``amount`` in [-16, 15] (positive left, negative
    right), zero fill, no saturation; the lane's bits reinterpreted as signed afterwards."""
    if not -16 <= int(amount) <= 15:
        raise ParameterError(f"the shift immediate is a signed 5-bit value in [-16, 15], got {amount}")
    unsigned = _lanes(a, bits) & ((1 << bits) - 1)
    shifted = (unsigned << amount) if amount >= 0 else (unsigned >> -amount)
    return wrap(shifted, bits)


def shift_right_arithmetic(a, amount, bits=8):
    """``floor(a / 2^amount)`` the way libnux does it without an arithmetic shift: a fractional
    multiply by ``1 << (n - 1 - amount)``."""
    if not 1 <= int(amount) <= bits - 1:
        raise ParameterError(f"an arithmetic shift of {bits}-bit lanes takes 1..{bits - 1}, got {amount}")
    return multiply_fractional(a, np.full(np.shape(a), 1 << (bits - 1 - amount)), bits)


CONDITIONS = {"always": 0, "greater": 1, "less": 2, "equal": 3}


def compare(a, bits=8):
    """``fxvcmpb``: per lane, (greater than 0, less than 0, equal to 0)."""
    x = _lanes(a, bits)
    return x > 0, x < 0, x == 0


def select(a, b, condition, flags):
    """``fxvsel VRT, VRA, VRB, c``: ``b`` where the condition ``c`` held at the last compare, ``a``
    elsewhere (``always``: ``b``)."""
    if condition not in CONDITIONS:
        raise ParameterError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    if condition == "always":
        return np.asarray(b).copy()
    greater, less, equal = flags
    chosen = {"greater": greater, "less": less, "equal": equal}[condition]
    return np.where(chosen, b, a)


def weights_from_lanes(lanes):
    """The 6-bit weights a vector store writes (``fxvoutx`` to the synapse memory, mask 0x3f)."""
    return np.asarray(lanes, dtype=np.int64) & WEIGHT_MASK
