"""SpiNNaker numerics (issue 12, item 1): sPyNNaker's s16.15 arithmetic and synaptic words,
pinned on edge values and against exact integer arithmetic (Python ints)."""

import numpy as np
import pytest

from ostl.errors import ParameterError
from ostl.hardware import spinnaker as sp

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


# -- the host-compiled kernels equal the NumPy model bit for bit ---------------------------------
def test_the_host_compiled_lif_kernel_equals_the_numpy_model_bit_for_bit():
    from ostl.cells import LIF
    from ostl.hardware.spinnaker_host import HostKernels

    kernels = HostKernels()
    p = sp.LIFParameters.from_cell(LIF(tau_m=20.0, v_th=0.6))
    rng = np.random.default_rng(3)
    n = 64
    state = {name: (np.zeros(n, np.int32), np.zeros(n, np.int32)) for name in ("numpy", "c")}
    counters = {"numpy": sp.Counters(), "c": sp.Counters()}
    spikes = 0
    for step in range(1000):
        current = sp.to_s1615(rng.normal(0.05, 0.3, n))
        if step % 250 == 0:          # now and then an input that saturates the membrane
            current[:4] = [sp.INT32_MAX, sp.INT32_MIN, sp.INT32_MAX, 12345]
        outputs = {}
        for name, update in (("numpy", sp.lif_update), ("c", kernels.lif_update)):
            v, z = state[name]
            outputs[name] = update(v, z, current, p, counters[name])
            state[name] = outputs[name][:2]
        for a, b in zip(outputs["numpy"], outputs["c"]):
            np.testing.assert_array_equal(a, b)
        spikes += int(outputs["c"][1].sum())
    assert counters["numpy"].counts == counters["c"].counts and counters["c"]["add"] > 0
    assert 0 < spikes < 1000 * n            # it spikes, not always


def test_the_lif_kernel_follows_the_float_cell():
    """Fixed point against float: the s16.15 step stays within a few LSB of the float step
    (one step from the same state; rounding of alpha, the product and 1/v_th)."""
    from ostl.cells import LIF

    cell = LIF(tau_m=20.0, v_th=0.6)
    p = sp.LIFParameters.from_cell(cell)
    rng = np.random.default_rng(4)
    v = rng.normal(0.2, 0.4, 500)
    z = (rng.random(500) < 0.2).astype(np.int32)
    current = rng.normal(0.0, 0.3, 500)
    fixed_v, fixed_z, fixed_pseudo = sp.lif_update(sp.to_s1615(v), z, sp.to_s1615(current), p)
    float_v = cell.alpha * v + current - cell.v_th * z
    np.testing.assert_allclose(sp.from_s1615(fixed_v), float_v, atol=4 / 32768)
    decided = np.abs(float_v - cell.v_th) > 1e-3       # away from the threshold the spikes agree
    np.testing.assert_array_equal(fixed_z[decided], (float_v > cell.v_th)[decided])
    float_pseudo = 0.3 * np.maximum(0.0, 1 - np.abs((float_v - 0.6) / 0.6)) / 0.6
    np.testing.assert_allclose(sp.from_s1615(fixed_pseudo), float_pseudo, atol=1e-3)


def test_a_time_constant_whose_decay_rounds_to_one_is_refused():
    from ostl.cells import LIF

    with pytest.raises(ParameterError, match="tau_m .* is too long for s16.15: its decay per step rounds to 1.0"):
        sp.LIFParameters.from_cell(LIF(tau_m=1e6))
