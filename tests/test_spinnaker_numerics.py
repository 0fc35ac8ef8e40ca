"""SpiNNaker numerics (issue 12, item 1): sPyNNaker's s16.15 arithmetic and synaptic words,
pinned on edge values and against exact integer arithmetic (Python ints)."""

import numpy as np
import pytest

from ostl.errors import ParameterError
from ostl.hardware.spinnaker import numerics as sp

INT32_MIN, INT32_MAX = sp.INT32_MIN, sp.INT32_MAX


def test_host_encoding_rounds_half_to_even_and_refuses_what_does_not_fit():
    assert sp.to_s1615(0.5) == 16384 and sp.to_s1615(-1.0) == -32768
    assert sp.to_s1615(1.5 / 32768) == 2 and sp.to_s1615(2.5 / 32768) == 2     # half to even
    assert sp.to_s1615(-65536.0) == INT32_MIN
    np.testing.assert_array_equal(sp.to_s1615([0.25, -0.75]), [8192, -24576])
    with pytest.raises(ParameterError, match=r"tau must be in \[-65536, 65535.999969\] to fit s16.15"):
        sp.to_s1615(65536.0, name="tau")
    with pytest.raises(ParameterError, match="to fit s16.15"):
        sp.to_s1615(float("nan"))


def test_round_nearest_multiply_is_round_half_up_with_saturation():
    assert sp.mul_round_nearest(16384, 16384) == 8192                 # 0.5 * 0.5
    assert sp.mul_round_nearest(1, 16384) == 1                        # +half an LSB rounds up
    assert sp.mul_round_nearest(-1, 16384) == 0                       # -half an LSB rounds up too
    assert sp.mul_round_nearest(-3, 16384) == -1                      # -1.5 LSB -> -1
    assert sp.mul_round_nearest(INT32_MIN, INT32_MIN) == INT32_MAX    # the special case
    counters = sp.Counters()
    big = sp.to_s1615(30000.0)
    assert sp.mul_round_nearest(big, big, counters) == INT32_MAX
    assert sp.mul_round_nearest(big, -big, counters) == INT32_MIN
    assert counters["multiply"] == 2
    rng = np.random.default_rng(0)
    a = rng.integers(-(1 << 22), 1 << 22, 2000)
    b = rng.integers(-(1 << 22), 1 << 22, 2000)
    exact = [(int(x) * int(y) + (1 << 14)) >> 15 for x, y in zip(a, b)]   # floor(p / 2^15 + 1/2)
    exact = np.clip(exact, INT32_MIN, INT32_MAX)
    np.testing.assert_array_equal(sp.mul_round_nearest(a, b), exact)


def test_plain_multiply_and_add_wrap_like_the_arm_registers():
    assert sp.mul_wrap(sp.to_s1615(256.0), sp.to_s1615(256.0)) == INT32_MIN     # 65536.0 wraps
    assert sp.mul_wrap(-1, 16384) == -1                                        # floor, no rounding
    assert sp.add_wrap(INT32_MAX, 1) == INT32_MIN
    counters = sp.Counters()
    assert sp.add_saturating(INT32_MAX, 1, counters) == INT32_MAX and counters["add"] == 1


def test_kdivk_is_unsigned_truncating_and_refuses_what_it_cannot_divide():
    assert sp.kdivk(sp.to_s1615(1.0), sp.to_s1615(3.0)) == (32768 << 15) // 98304   # 10922
    assert sp.kdivk(sp.to_s1615(1.0), sp.to_s1615(20.0)) == 1638
    for a, b in ((-32768, 32768), (32768, 0), (32768, -5)):
        with pytest.raises(ParameterError, match="kdivk takes a >= 0 and b > 0"):
            sp.kdivk(a, b)


def test_roundk_drops_fraction_bits_rounding_half_up():
    assert sp.roundk(sp.to_s1615(1.5), 15) == sp.to_s1615(2.0)
    assert sp.roundk(sp.to_s1615(-1.5), 15) == sp.to_s1615(-1.0)
    assert sp.roundk(sp.to_s1615(1.49), 15) == sp.to_s1615(1.0)
    with pytest.raises(ParameterError, match=r"roundk bits must be in \[1, 31\]"):
        sp.roundk(5, 0)


def test_ring_buffer_shift_and_weight_scale_follow_spynnaker():
    assert [sp.ring_buffer_shift(w) for w in (0.0, 0.5, 1.0, 1.3, 2.0, 200.0)] == [0, 0, 1, 1, 2, 8]
    # the virtual-board measurement (docs: ../shared/notes/hardware.md): shift 8 -> rint(w * 128) / 128
    assert sp.weight_scale(8) == 128.0
    with pytest.raises(ParameterError, match="needs a ring-buffer shift of 16"):
        sp.ring_buffer_shift(40000.0)


def test_weights_are_unsigned_words_with_the_sign_in_the_synapse_type():
    w = np.array([[0.5, -0.25], [2.5 / 128, -1.3]])
    words, types = sp.encode_weights(w, 8)
    np.testing.assert_array_equal(words, [[64, 32], [2, 166]])        # 2.5 -> 2 (rint: half to even)
    np.testing.assert_array_equal(types, [[0, 1], [0, 1]])
    np.testing.assert_allclose(sp.decode_weights(words, types, 8), np.rint(np.abs(w) * 128) / 128 * np.sign(w))
    with pytest.raises(ParameterError, match=r"does not fit 16 bits at ring-buffer shift 8 \(largest 511.99"):
        sp.encode_weights([[600.0]], 8)


def test_ring_buffer_saturates_at_0xffff_and_counts():
    ring = sp.RingBuffer(2, shift=3)
    ring.add([0, 0, 1], [0xFFF0, 0x20, 5])
    assert ring.saturations == 1
    np.testing.assert_array_equal(ring.input_bits(), [0xFFFF << 3, 5 << 3])
    np.testing.assert_array_equal(ring.values, [0, 0])                  # read once per step


def test_a_learning_signal_travels_as_its_bits():
    bits = sp.to_s1615([-0.125, 3.0, -65536.0])
    payload = sp.to_payload(bits)
    assert payload.dtype == np.uint32 and payload[0] == 0xFFFFF000
    np.testing.assert_array_equal(sp.from_payload(payload), bits)
