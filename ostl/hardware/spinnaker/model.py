"""The NumPy model of the SpiNNaker learning kernels (``ostl/hardware/spinnaker/c``), operation
for operation: the host-compiled C equals it bit for bit (``tests/test_spinnaker_kernels.py``).

Everything is s16.15 bits in int32 (:mod:`ostl.hardware.spinnaker.numerics`): products round to nearest
(``MULT_ROUND_NEAREST_ACCUM``), sums saturate, and every saturation is counted. One step of a
network with one hidden layer of ``n`` cells (state size ``d``), ``m`` presynaptic inputs
(the input spikes, then the layer's own spikes of the previous step if it is recurrent) and
``n_out`` readouts runs, in this order (the reference engine's order, ``ostl.online``):

1. **synaptic input** (:func:`synaptic_input`): 16-bit ring buffers per synapse type
   (excitatory: positive words, inhibitory: negative), saturating at 0xFFFF (counted per
   event, events in presynaptic order), read as ``word << shift``;
2. **neuron step** (:func:`neuron_step`): the cell's update, its spike and the factors the
   traces need -- ``decay`` (``ds^t/ds^{t-1}``, diagonal), ``own_path`` (``ds^t/dy^{t-1}``:
   the reset path for OSTL's traces, threshold adaptation always), ``input_gain``
   (``ds^t/dI^t``) and ``output_gain`` (the pseudo-derivative ``dy^t/ds^t``);
3. **readout** (:func:`readout_step`): ``a = kappa a + W_out z + b``, the output (linear,
   sigmoid or softmax through tables), the error ``delta = m (out - target)`` and the payload
   it sends (the error, or the masked target for target projection);
4. **learning signal** (:func:`learning_signal`): ``L_j = sum_k B_jk payload_k``;
5. **eligibility** (:func:`eligibility_step`): per synapse, the eligibility vector
   ``eps <- decay eps + own_path e_prev + input_gain pre`` (``e_prev`` recomputed from the
   previous step's output gain, which the neuron keeps: no per-synapse copy), the trace
   ``e = output_gain . eps``, the filtered trace ``ebar = kappa ebar + e`` with a leaky
   readout, and the gradient ``g += L_j ebar``; the readout's own traces (``ybar``) and
   gradients.

At the end of a trial, :func:`write_back` turns ``-lr g`` into weight words: the learning rate
is a 15-bit mantissa and a shift (``lr = m 2^-k``: small rates keep their precision), the
update in s16.15 goes onto the 16-bit weight grid of the synapse type (``2^shift`` s16.15 LSB
per word step) with *residual accumulation* (the default: the part below one word step is
kept per synapse and added to the next update, so no update vanishes) or *stochastic
rounding* (up with the probability of the remainder, from a counter-based hash of (seed,
trial, synapse): no per-synapse residual). Words are signed here (the sign selects the
synapse type on the chip, the magnitude is the 16-bit word) and saturate at +-0xFFFF
(counted).

Functions on tables (:class:`Table`): the pseudo-derivatives ``1 - tanh^2`` and
``1 / (1 + slope |x|)^2``, the sigmoid and ``exp(-x)`` are tables of ``2^k + 1`` values on
``[0, R)`` (``R`` a power of two) with linear interpolation in integer arithmetic, as
SpiNNaker's own ``expk`` uses tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ParameterError
from .numerics import INT32_MAX, INT32_MIN, ONE, add_saturating, kdivk, mul_round_nearest, saturate, to_s1615

CELL_KINDS = {"lif": 0, "alif": 1, "snu": 2, "soft_snu": 3}
STATE_SIZE = {"lif": 1, "alif": 2, "snu": 1, "soft_snu": 1}
ACTIVATIONS = {"linear": 0, "sigmoid": 1, "softmax": 2}
ROUNDING = {"residual": 0, "stochastic": 1}
TABLE_BITS = 10                     # 1024 intervals per table
RING_LIMIT = 0xFFFF
WORD_LIMIT = 0xFFFF                 # a weight word's magnitude


def _mul(a, b, counters):
    return mul_round_nearest(a, b, counters)


def _add(a, b, counters):
    return add_saturating(a, b, counters)


def _sub(a, b, counters):
    """``a - b`` saturated (counted as an 'add')."""
    return saturate(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64), counters, "add")


def _neg(x):
    """``-x`` with ``-INT32_MIN = INT32_MAX``."""
    x = np.asarray(x, dtype=np.int64)
    return np.where(x == INT32_MIN, INT32_MAX, -x).astype(np.int32)


def _where(operation, condition, a, b, counters):
    """``operation(a, b)`` (saturating, counted) where ``condition``, ``a`` elsewhere: the C
    computes it only there, so only those saturations count."""
    out = np.array(a, dtype=np.int32)
    condition = np.broadcast_to(condition, out.shape)
    b = np.broadcast_to(np.asarray(b, dtype=np.int32), out.shape)
    out[condition] = operation(out[condition], b[condition], counters)
    return out


def _add_where(condition, a, b, counters):
    return _where(_add, condition, a, b, counters)


def _sub_where(condition, a, b, counters):
    return _where(_sub, condition, a, b, counters)


def _abs(x):
    """``|x|`` with ``|INT32_MIN| = INT32_MAX`` (as the C)."""
    x = np.asarray(x, dtype=np.int64)
    return np.where(x == INT32_MIN, INT32_MAX, np.abs(x)).astype(np.int32)


# -- tables ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """``f`` on ``[0, 2^range_bits)`` as ``2^TABLE_BITS + 1`` s16.15 values (host-encoded);
    ``shift`` = fraction bits of ``x`` below one interval."""

    values: np.ndarray
    shift: int

    @classmethod
    def of(cls, function, range_bits):
        """The table of ``function`` on [0, 2^range_bits)."""
        shift = 15 + range_bits - TABLE_BITS
        if shift < 1:
            raise ParameterError(f"a table range of 2^{range_bits} is too short for {2 ** TABLE_BITS} intervals")
        x = np.arange(2 ** TABLE_BITS + 1) * (2.0 ** range_bits / 2 ** TABLE_BITS)
        return cls(to_s1615(function(x), name="table value"), shift)

    def __call__(self, x):
        """``f(x)`` for ``x >= 0`` (bits): the interpolated table, the last value beyond it."""
        x = np.asarray(x, dtype=np.int64)
        index = x >> self.shift
        inside = index < 2 ** TABLE_BITS
        i = np.where(inside, index, 0)
        t0 = self.values[i].astype(np.int64)
        t1 = self.values[i + 1].astype(np.int64)
        frac = x & ((1 << self.shift) - 1)
        value = t0 + (((t1 - t0) * frac + (1 << (self.shift - 1))) >> self.shift)
        return np.where(inside, value, int(self.values[-1])).astype(np.int32)


def sigmoid_table():
    """The logistic sigmoid on x >= 0."""
    return Table.of(lambda x: 1.0 / (1.0 + np.exp(-x)), 4)


def exp_table():
    """``exp(-x)`` on x >= 0 (the softmax)."""
    return Table.of(lambda x: np.exp(-x), 4)


def pseudo_table(pseudo):
    """The table of an even pseudo-derivative (``tanh``: ``1 - tanh^2``, ``fast_sigmoid``)."""
    if pseudo.name == "tanh":
        return Table.of(lambda x: 1.0 - np.tanh(x) ** 2, 3)
    if pseudo.name == "fast_sigmoid":
        # 1 / (1 + s x)^2 falls below half an LSB at x = (sqrt(2^16) - 1) / s
        reach = (256.0 - 1.0) / pseudo.slope
        bits = max(int(np.ceil(np.log2(reach))), TABLE_BITS - 14)
        return Table.of(lambda x: 1.0 / (1.0 + pseudo.slope * x) ** 2, bits)
    raise ParameterError(f"the SpiNNaker kernels have the pseudo-derivatives 'piecewise_linear', 'tanh' and "
                         f"'fast_sigmoid', got {pseudo.name!r}")


# -- the cell ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellParameters:
    """The s16.15 constants of one hidden layer's cells (see ``neuron_lif.c`` / ``neuron_snu.c``).

    ``neuron_param``: per neuron, the SNU's bias or the soft-reset SNU's threshold.
    ``pseudo_gamma`` (piecewise linear) or ``pseudo_table``."""

    kind: str
    keep_reset_path: bool
    alpha: int = 0
    rho: int = 0
    beta: int = 0
    v_th: int = 0
    inv_v_th: int = 0
    decay: int = 0
    relu: bool = False
    neuron_param: np.ndarray = None
    pseudo_gamma: int = 0
    pseudo_table: Table = None

    @property
    def d(self):
        """The cell's state size."""
        return STATE_SIZE[self.kind]


def pseudo_derivative(cell, x, counters):
    """``psi(x)`` of the cell's pseudo-derivative (even: evaluated at ``|x|``)."""
    magnitude = _abs(x)
    if cell.pseudo_table is not None:
        return cell.pseudo_table(magnitude)
    distance = np.where(magnitude >= ONE, 0, ONE - magnitude.astype(np.int64)).astype(np.int32)
    return _mul(cell.pseudo_gamma, distance, counters)


def neuron_step(cell, state, z_prev, current, counters):
    """One step of ``n`` cells. ``state`` (n, d) and ``z_prev`` (n,) int32 (0/1), ``current``
    (n,) bits. Returns ``state, z, (decay, own_path, input_gain, output_gain)`` (each (n, d))."""
    n, d = state.shape
    spiked = np.asarray(z_prev) != 0
    zeros = np.zeros(n, dtype=np.int32)
    ones = np.full(n, ONE, dtype=np.int32)
    if cell.kind in ("lif", "alif"):
        v = _add(_mul(cell.alpha, state[:, 0], counters), current, counters)
        v = _sub_where(spiked, v, cell.v_th, counters)
        threshold = np.full(n, cell.v_th, dtype=np.int32)
        new = [v]
        if cell.kind == "alif":
            a = _add_where(spiked, _mul(cell.rho, state[:, 1], counters), ONE, counters)
            threshold = _add(threshold, _mul(cell.beta, a, counters), counters)
            new.append(a)
        u = _mul(_sub(v, threshold, counters), cell.inv_v_th, counters)
        z = (u > 0).astype(np.int32)
        psi = _mul(pseudo_derivative(cell, u, counters), cell.inv_v_th, counters)
        reset = np.full(n, -cell.v_th if cell.keep_reset_path else 0, dtype=np.int32)
        if cell.kind == "lif":
            factors = ([np.full(n, cell.alpha, dtype=np.int32)], [reset], [ones], [psi])
        else:
            factors = ([np.full(n, cell.alpha, dtype=np.int32), np.full(n, cell.rho, dtype=np.int32)],
                       [reset, ones], [ones, zeros], [psi, _neg(_mul(cell.beta, psi, counters))])
    elif cell.kind == "snu":
        s_prev = state[:, 0]
        leak = _mul(cell.decay, s_prev, counters)
        pre = _add_where(~spiked, current, leak, counters)
        gain = (pre > 0) if cell.relu else np.ones(n, dtype=bool)
        s = np.where(gain, pre, 0).astype(np.int32)
        x = _add(s, cell.neuron_param, counters)
        z = (x > 0).astype(np.int32)
        psi = pseudo_derivative(cell, x, counters)
        gain_bits = np.where(gain, ONE, 0).astype(np.int32)
        decay = np.where(spiked | ~gain, 0, cell.decay).astype(np.int32)
        reset = np.where(gain & cell.keep_reset_path, _neg(leak), 0).astype(np.int32)
        new = [s]
        factors = ([decay], [reset], [gain_bits], [psi])
    else:   # soft_snu
        s = _add(_mul(cell.decay, state[:, 0], counters), current, counters)
        s = _sub_where(spiked, s, cell.neuron_param, counters)
        x = _sub(s, cell.neuron_param, counters)
        z = (x > 0).astype(np.int32)
        psi = pseudo_derivative(cell, x, counters)
        reset = _neg(cell.neuron_param) if cell.keep_reset_path else zeros
        new = [s]
        factors = ([np.full(n, cell.decay, dtype=np.int32)], [reset], [ones], [psi])
    stack = [np.stack([np.asarray(c, dtype=np.int64) for c in f], axis=1).astype(np.int32) for f in factors]
    return np.stack(new, axis=1).astype(np.int32), z, tuple(stack)


# -- synaptic input -----------------------------------------------------------------------------
def synaptic_input(words, pre, shift, counters):
    """The input of ``n_post`` neurons from the spikes ``pre`` (m,) through signed weight words
    (n_post, m): per synapse type a 16-bit ring buffer (``synapses.c``: saturating at 0xFFFF,
    one count per saturating event, events in presynaptic order), read as ``word << shift``."""
    spikes = np.asarray(pre, dtype=bool)
    w = np.asarray(words, dtype=np.int64)[:, spikes]
    total = np.zeros(w.shape[0], dtype=np.int64)
    for sign in (1, -1):
        contribution = np.maximum(sign * w, 0)
        running = np.cumsum(contribution, axis=1)
        counters.add("ring_buffer", np.count_nonzero((running > RING_LIMIT) & (contribution > 0)))
        buffer = np.minimum(running[:, -1] if w.shape[1] else np.zeros(w.shape[0], dtype=np.int64), RING_LIMIT)
        total += sign * (buffer << shift)
    return total.astype(np.int32)


# -- readout ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadoutParameters:
    """The readout's constants in s16.15: activation, leak, ring-buffer shift, tables."""

    activation: str
    kappa: int                      # 0: no leak
    shift: int                      # ring-buffer shift of the readout's synapses
    sigmoid: Table = None
    exp: Table = None


def readout_output(readout, a, counters):
    """The readout's output of its potentials ``a``: linear, sigmoid (table) or softmax (exp table, division)."""
    if readout.activation == "linear":
        return a.copy()
    if readout.activation == "sigmoid":
        value = readout.sigmoid(_abs(a))
        return np.where(a >= 0, value, ONE - value.astype(np.int64)).astype(np.int32)
    top = np.max(a)
    gap = _sub(top, a, counters)   # >= 0
    e = readout.exp(gap)
    total = int(np.sum(e.astype(np.int64)))      # >= exp(0) = 1.0: at most n_out 1.0s
    return kdivk(e, total)


def readout_step(readout, words, bias, a, z, target, mask, counters):
    """The readout step: returns ``a, out, delta`` (bits)."""
    current = synaptic_input(words, z, readout.shift, counters)
    if readout.kappa:
        current = _add(_mul(readout.kappa, a, counters), current, counters)
    a = _add(current, bias, counters)
    out = readout_output(readout, a, counters)
    delta = _mul(mask, _sub(out, target, counters), counters)
    return a, out, delta


def learning_signal(feedback, payload, counters):
    """``L_j = sum_k B_jk payload_k``: rounded products summed with saturation, k in order."""
    signal = np.zeros(feedback.shape[0], dtype=np.int32)
    for k in range(feedback.shape[1]):
        signal = _add(signal, _mul(feedback[:, k], payload[k], counters), counters)
    return signal


# -- eligibility ----------------------------------------------------------------------------------------
def eligibility_step(eps, ebar, grad, factors, output_gain_prev, pre, signal, kappa, uses_own_path, counters):
    """Advance the per-synapse state of one step in place. ``eps`` (n, m, d), ``ebar`` (n, m)
    or None (no leak), ``grad`` (n, m); ``factors`` from :func:`neuron_step`; ``pre`` (m,) 0/1."""
    decay, own_path, input_gain, output_gain = factors
    n, m, d = eps.shape
    if uses_own_path:   # e_prev = q_prev . eps (recomputed: the neuron keeps q_prev)
        e_prev = np.zeros((n, m), dtype=np.int32)
        for a in range(d):
            e_prev = _add(e_prev, _mul(output_gain_prev[:, a:a + 1], eps[:, :, a], counters), counters)
    spikes = np.asarray(pre, dtype=bool)[None, :]
    e = np.zeros((n, m), dtype=np.int32)
    for a in range(d):
        new = _mul(decay[:, a:a + 1], eps[:, :, a], counters)
        if uses_own_path:
            new = _add(new, _mul(own_path[:, a:a + 1], e_prev, counters), counters)
        new = _add_where(spikes, new, input_gain[:, a:a + 1], counters)
        eps[:, :, a] = new
        e = _add(e, _mul(output_gain[:, a:a + 1], new, counters), counters)
    if ebar is not None:
        e = _add(_mul(kappa, ebar, counters), e, counters)
        ebar[...] = e
    grad[...] = _add(grad, _mul(signal[:, None], e, counters), counters)


def eligibility_presynaptic(eps, ebar, grad, factors, pre, signal, kappa, counters):
    """e-prop on LIF cells: the eligibility vector of synapse (j, i) is the presynaptic trace
    ``zbar_i`` (the same decay and input gain for every neuron, no own-spike path), kept once per
    presynaptic neuron in ``eps`` (m, 1); then per synapse the trace, filtered trace and gradient
    as :func:`eligibility_step` (``eligibility.c``: ``ostl_eligibility_presynaptic``)."""
    decay, _, input_gain, output_gain = factors
    spikes = np.asarray(pre, dtype=bool)
    eps[:, 0] = _add_where(spikes, _mul(decay[0, 0], eps[:, 0], counters), input_gain[0, 0], counters)
    e = _mul(output_gain[:, :1], eps[:, 0][None, :], counters)
    if ebar is not None:
        e = _add(_mul(kappa, ebar, counters), e, counters)
        ebar[...] = e
    grad[...] = _add(grad, _mul(signal[:, None], e, counters), counters)


def readout_traces_step(ybar, ones, grad_w, grad_b, z, delta, kappa, counters):
    """The readout's traces ``ybar = kappa ybar + z`` (and ``kappa ones + 1`` for the bias) and
    its gradients ``g_W += delta ybar``, ``g_b += delta ones``, in place."""
    spikes = np.where(np.asarray(z) != 0, ONE, 0).astype(np.int32)
    if kappa:
        ybar[...] = _add(_mul(kappa, ybar, counters), spikes, counters)
        ones[...] = _add(_mul(kappa, ones, counters), np.full(ones.shape, ONE, dtype=np.int32), counters)
    else:
        ybar[...] = spikes
        ones[...] = ONE
    grad_w[...] = _add(grad_w, _mul(delta[:, None], ybar[None, :], counters), counters)
    grad_b[...] = _add(grad_b, _mul(delta, ones, counters), counters)


# -- write-back ---------------------------------------------------------------------------------------
def learning_rate_bits(lr):
    """``lr = mantissa * 2^-shift`` with a 15-bit mantissa (``2^14 <= mantissa < 2^15``)."""
    lr = float(lr)
    if not (np.isfinite(lr) and 2.0 ** -40 <= lr < 2.0 ** 15):
        raise ParameterError(f"the learning rate must be in [2^-40, 32768) for the SpiNNaker write-back, got {lr:g}")
    shift = 14 - int(np.floor(np.log2(lr)))
    mantissa = int(np.rint(lr * 2.0 ** shift))
    if mantissa >= 1 << 15:
        mantissa, shift = mantissa >> 1, shift - 1
    return mantissa, shift


def _hash(seed, trial, index):
    """A counter-based 32-bit hash of (seed, trial, synapse index) (lowbias32)."""
    mask = np.uint64(0xFFFFFFFF)   # 32-bit wrapping products, computed in 64 bits
    index = np.asarray(index, dtype=np.int64).astype(np.uint64) & mask
    h = np.uint64(seed & 0xFFFFFFFF) ^ np.uint64((int(trial) * 0x9E3779B9) & 0xFFFFFFFF) \
        ^ ((index * np.uint64(0x85EBCA6B)) & mask)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x7FEB352D)) & mask
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x846CA68B)) & mask
    h ^= h >> np.uint64(16)
    return h.astype(np.uint32)


def update_bits(grad, lr_bits):
    """``-lr * g`` in s16.15 (round half up, saturated): ``-((g m + 2^(k-1)) >> k)`` with
    ``lr_bits = (m, k)``."""
    mantissa, shift = lr_bits
    p = np.asarray(grad, dtype=np.int64) * mantissa
    step = (p + (1 << (shift - 1))) >> shift if shift > 0 else p << -shift
    return np.clip(-step, INT32_MIN, INT32_MAX).astype(np.int64)


def write_back(words, residual, grad, mask, lr_bits, shift, rounding, seed, trial, index_offset, counters):
    """``w <- w - lr g`` on the weight grid (``2^shift`` s16.15 LSB per word step), in place;
    see the module docstring. ``mask`` (bool): synapses that exist."""
    acc = update_bits(grad, lr_bits)
    if rounding == "residual":
        acc = np.clip(acc + residual, INT32_MIN, INT32_MAX)
        steps = (acc + (1 << (shift - 1))) >> shift if shift > 0 else acc
        rest = acc - (steps << shift)
    else:
        steps = acc >> shift
        if shift > 0:
            index = index_offset + np.arange(acc.size, dtype=np.int64).reshape(acc.shape)
            draw = _hash(seed, trial, index) & np.uint32((1 << shift) - 1)
            steps = steps + (draw.astype(np.int64) < (acc & ((1 << shift) - 1)))
        rest = np.zeros_like(acc)
    new = words.astype(np.int64) + steps
    clipped = np.clip(new, -WORD_LIMIT, WORD_LIMIT)
    counters.add("weight", np.count_nonzero((clipped != new) & mask))
    words[...] = np.where(mask, clipped, words)
    if rounding == "residual":
        residual[...] = np.where(mask, rest, residual)


def bias_write_back(bias, grad, lr_bits, counters):
    """The readout bias (s16.15, no word grid): ``b <- b - lr g``, saturating."""
    bias[...] = _add(bias, update_bits(grad, lr_bits), counters)
