"""The BrainScaleS-2 plasticity processor's vector arithmetic (issue 13): saturates exactly like the
hardware's fractional saturating instructions -- edge values (-1, 127/128, overflowing sums and
products), the RTL's rounding toward minus infinity, and the expected values of libnux's own
hardware tests (electronicvisions/libnux, tests/hw/libnux/vx/test_vector_frac_sat_{8,16}_1.cpp)."""

import numpy as np
import pytest

from ostl.errors import ParameterError
from ostl.hardware.brainscales2 import ppu


def test_fractional_multiply_floors_and_saturates_only_minus_one_squared():
    assert ppu.multiply_fractional(-128, -128) == 127            # (-1)(-1) = 127/128
    assert ppu.multiply_fractional(127, 127) == 126              # floor(16129 / 128)
    assert ppu.multiply_fractional(-128, 127) == -127
    assert ppu.multiply_fractional(64, 64) == 32                 # 0.5 * 0.5
    assert ppu.multiply_fractional(-1, 1) == -1                  # floor, not toward zero
    assert ppu.multiply_fractional(-32768, -32768, bits=16) == 32767
    # libnux's hardware tests: -12 * 42 -> -4, -4 * 42 -> -2; -3000 * 20000 -> -1832, -> -1119
    assert ppu.multiply_fractional(-12, 42) == -4 and ppu.multiply_fractional(-4, 42) == -2
    assert ppu.multiply_fractional(-3000, 20000, bits=16) == -1832
    assert ppu.multiply_fractional(-1832, 20000, bits=16) == -1119
    rng = np.random.default_rng(0)
    a, b = rng.integers(-128, 128, 5000), rng.integers(-128, 128, 5000)
    exact = [127 if x == y == -128 else (x * y) // 128 for x, y in zip(a.tolist(), b.tolist())]
    np.testing.assert_array_equal(ppu.multiply_fractional(a, b), exact)


def test_sums_saturate_or_wrap_as_the_instruction_says():
    assert ppu.add_saturating(100, 100) == 127 and ppu.add_saturating(-100, -100) == -128
    assert ppu.subtract_saturating(0, -128) == 127                # sign-extended before negating
    assert ppu.add_modulo(100, 100) == -56 and ppu.subtract_modulo(-128, 1) == 127
    assert ppu.add_saturating(30000, 30000, bits=16) == 32767
    # libnux: 10 * 12 -> 120, 120 * 12 -> 160 (the low byte; -96 as a signed lane)
    assert ppu.multiply_modulo(10, 12) == 120 and ppu.multiply_modulo(120, 12) & 0xFF == 160


def test_the_accumulator_has_twice_the_bits_and_saturates_there():
    acc = ppu.load_accumulator(100)                               # 100 << 8
    acc = ppu.accumulate_product(acc, 127, 127)                   # + 2 * 16129
    assert acc == 32767                                           # 25600 + 32258 saturates at 16 bits
    assert ppu.read_accumulator(acc) == 127
    acc = ppu.accumulate_product(ppu.load_accumulator(0), 64, 64)
    assert ppu.read_accumulator(acc) == 32                        # 0.5 * 0.5 through the accumulator
    assert ppu.accumulated_product(ppu.load_accumulator(-128), -128, 127) == -128
    assert ppu.add_to_accumulator(ppu.load_accumulator(127), 127) == 32767


def test_shifts_are_logical_and_the_arithmetic_one_is_a_multiply():
    assert ppu.shift(-2, -1) == 127                               # 0xFE >> 1 = 0x7F: zero fill
    assert ppu.shift(64, 1) == -128 and ppu.shift(64, 2) == 0     # no saturation
    assert ppu.shift_right_arithmetic(-3, 1) == -2 and ppu.shift_right_arithmetic(100, 3) == 12
    with pytest.raises(ParameterError, match=r"signed 5-bit value in \[-16, 15\]"):
        ppu.shift(1, 16)


def test_compare_select_and_lane_limits():
    flags = ppu.compare(np.array([-3, 0, 5]))
    np.testing.assert_array_equal(ppu.select(np.array([1, 1, 1]), np.array([9, 9, 9]), "greater", flags), [1, 1, 9])
    np.testing.assert_array_equal(ppu.select(np.array([1, 1, 1]), np.array([9, 9, 9]), "less", flags), [9, 1, 1])
    np.testing.assert_array_equal(ppu.weights_from_lanes([63, 64, 127, -1]), [63, 0, 63, 63])
    assert ppu.to_fraction(-1.0) == -128 and ppu.to_fraction(0.999) == 127 and ppu.to_fraction(2.0) == 127
    with pytest.raises(ParameterError, match=r"8-bit lanes hold values in \[-128, 127\]"):
        ppu.add_saturating(128, 0)


def test_the_rounded_product_through_the_accumulator():
    rng = np.random.default_rng(1)
    a, b = rng.integers(-32768, 32768, 20000), rng.integers(-32768, 32768, 20000)
    exact = [32767 if x == y == -32768 else (2 * x * y + 32768) >> 16 for x, y in zip(a.tolist(), b.tolist())]
    np.testing.assert_array_equal(ppu.multiply_fractional_rounded(a, b), exact)
    assert ppu.multiply_fractional_rounded(np.array([-32768]), np.array([-32768]))[0] == 32767
    # the same as the accumulator sequence: load half an LSB, accumulate the product, read
    acc = ppu.accumulate_product(np.array([1 << 15]), np.array([-3000]), np.array([20000]), bits=16)
    assert ppu.read_accumulator(acc, bits=16)[0] == ppu.multiply_fractional_rounded(np.array([-3000]),
                                                                                   np.array([20000]))[0] == -1831
