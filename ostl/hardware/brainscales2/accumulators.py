"""The plasticity processor's program on the emulated BrainScaleS-2 chip
(:class:`~ostl.hardware.brainscales2.chip.AnalogChip`): e-prop's eligibility traces and gradient
accumulation per synapse, in the PPU's lanes with its vector arithmetic
(:mod:`ostl.hardware.brainscales2.ppu`; :class:`PPUAccumulator`), or in float for checking
(:class:`FloatAccumulator`); :class:`RangeProbe` measures the ranges that set the lanes' power-of-two
scales on the first trial."""

from __future__ import annotations

import numpy as np

from . import ppu


class FloatAccumulator:
    """The update in float (for checking): e-prop's gradient sum_t L_j ebar_ji, the readout's."""

    def __init__(self, chip):
        self.chip = chip
        self.ebar = np.zeros((chip.n, chip.m)) if chip.kappa else None
        self.grad = np.zeros((chip.n, chip.m))
        self.grad_out = np.zeros((chip.n_out, chip.n))
        self.grad_b = np.zeros(chip.n_out)
        if chip.adaptive:   # the adaptation component of each synapse's eligibility vector, and e^{t-1}
            self.eps_a = np.zeros((chip.n, chip.m))
            self.e_prev = np.zeros((chip.n, chip.m))

    def carry(self, previous):
        """Start from the gradient sums of the batch's previous trial."""
        self.grad, self.grad_out, self.grad_b = previous.grad.copy(), previous.grad_out.copy(), previous.grad_b.copy()

    def eligibility(self, psi, zbar):
        """e-prop's eligibility trace (eq. 23-26): ``psi_j zbar_i`` on LIF neurons; on ALIF neurons
        ``psi_j (zbar_i - beta eps_a_ji)`` with ``eps_a^t = rho eps_a^{t-1} + e^{t-1}`` (the
        reference engine's form of Bellec's ``psi^{t-1} zbar^{t-1} + (rho - psi^{t-1} beta)
        eps_a^{t-1}``), with the nominal rho and beta: the processor does not know its circuits' own."""
        e = psi[:, None] * zbar[None, :]
        if self.chip.adaptive:
            self.eps_a = self.chip.cell.rho * self.eps_a + self.e_prev
            e = e - self.chip.cell.beta * psi[:, None] * self.eps_a
            self.e_prev = e
        return e

    def step(self, psi, zbar, signal, delta, ybar, ones):
        """One step: the eligibility trace, the filtered trace, the gradient sums of the hidden layer and the
        readout."""
        e = self.eligibility(psi, zbar)
        if self.ebar is not None:
            self.ebar = self.chip.kappa * self.ebar + e
            e = self.ebar
        self.grad += signal[:, None] * e
        self.grad_out += np.outer(delta, ybar)
        self.grad_b += delta * ones

    def hidden_gradient(self):
        """The hidden layer's gradient (input and recurrent synapses as one matrix) as floats."""
        return self.grad

    def result(self):
        """The gradients of the trial (or batch) by parameter name."""
        chip = self.chip
        grad = self.hidden_gradient() * chip.mask
        out = {"layer0.W": grad[:, :chip.n_in], "readout.W": self.grad_out, "readout.b": self.grad_b}
        if chip.recurrent:
            out["layer0.H"] = grad[:, chip.n_in:]
        return out


def _widen(lanes, bits):
    return np.asarray(lanes, dtype=np.int64) << (16 - bits)


def _narrow(lanes16, bits, toward_zero=False):
    """A 16-bit lane stored in ``bits``: rounded to nearest (half up), saturating; or, with
    ``toward_zero``, truncated toward zero (the magnitude shifted right, the sign restored:
    ``fxvcmpb`` and ``fxvsel`` around the shift; it cannot overflow). The filtered trace is stored
    truncated: a trace that only decays must reach zero, and rounded to nearest a narrow lane sticks
    at a few LSB (``round(kappa x) = x`` for ``|x| <= 1 / (2 (1 - kappa))``), which, multiplied by a
    late learning signal, outweighs the true gradient (measured on evidence accumulation with ALIF
    neurons: gradient error 108-262 %, 21-37 % truncated)."""
    lanes16 = np.asarray(lanes16, dtype=np.int64)
    if bits == 16:
        return lanes16
    shift = 16 - bits
    if toward_zero:
        return np.where(lanes16 >= 0, lanes16 >> shift, -((-lanes16) >> shift))
    return np.clip((lanes16 + (1 << (shift - 1))) >> shift, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _exponent(largest):
    """``k`` with ``largest * 2^k`` in [0.25, 0.5): the power-of-two scale of a quantity
    (elementwise). A source the probe never saw active (largest 0: an input silent in the first
    trial) gets the widest scale of the others, so that it does not saturate when it fires."""
    largest = np.asarray(largest, dtype=np.float64)
    with np.errstate(divide="ignore"):
        k = np.floor(-np.log2(np.where(largest > 0, largest, 1.0))) - 1
    fallback = k[largest > 0].min() if np.any(largest > 0) else 0
    return np.where(largest > 0, k, fallback).astype(np.int64)


EXPONENTS = ("psi", "signal", "zbar", "e", "ebar", "grad", "beta_psi", "eps_a")


class RangeProbe(FloatAccumulator):
    """The float update, recording the largest magnitude of every quantity the PPU scales: per
    neuron quantities (psi, L) over the layer, per-synapse ones per presynaptic source (the PPU
    processes a synapse row, i.e. one source, at a time, and can shift each row by its own)."""

    def __init__(self, chip):
        super().__init__(chip)
        m = chip.m
        self.largest = {"psi": 0.0, "signal": 0.0, "zbar": np.zeros(m), "e": np.zeros(m), "ebar": np.zeros(m),
                        "beta_psi": 0.0, "eps_a": np.zeros(m), "grad": np.zeros(m)}

    def step(self, psi, zbar, signal, delta, ybar, ones):
        """One step in float, recording the largest magnitude of every quantity."""
        e = (np.abs(psi)[:, None] * np.abs(zbar)[None, :]).max(axis=0)
        self.largest["psi"] = max(self.largest["psi"], float(np.max(np.abs(psi))))
        self.largest["signal"] = max(self.largest["signal"], float(np.max(np.abs(signal))))
        self.largest["zbar"] = np.maximum(self.largest["zbar"], np.abs(zbar))
        super().step(psi, zbar, signal, delta, ybar, ones)
        if self.chip.adaptive:   # beta psi, eps_a, and the adaptation term and the trace itself
            beta_psi = self.chip.cell.beta * np.abs(psi)
            self.largest["beta_psi"] = max(self.largest["beta_psi"], float(np.max(beta_psi)))
            self.largest["eps_a"] = np.maximum(self.largest["eps_a"], np.abs(self.eps_a).max(axis=0))
            e = np.maximum(e, np.maximum((beta_psi[:, None] * np.abs(self.eps_a)).max(axis=0),
                                         np.abs(self.e_prev).max(axis=0)))
        self.largest["e"] = np.maximum(self.largest["e"], e)
        # the accumulator's running sum, not only its final value: a learning signal that changes
        # sign makes partial sums larger than the total
        self.largest["grad"] = np.maximum(self.largest["grad"], np.abs(self.grad).max(axis=0))
        if self.ebar is not None:
            self.largest["ebar"] = np.maximum(self.largest["ebar"], np.abs(self.ebar).max(axis=0))

    def exponents(self, batch_size=1):
        """The PPU's shifts, chosen on the host from one trial's ranges; the gradient accumulator's
        leaves room for the sum of ``batch_size`` trials."""
        largest = dict(self.largest, grad=self.largest["grad"] * batch_size)
        k = {key: _exponent(value) for key, value in largest.items()}
        if self.ebar is None:
            k["ebar"] = k["e"]
        return {key: np.atleast_1d(k[key]).astype(np.int64) for key in EXPONENTS}


class PPUAccumulator(FloatAccumulator):
    """The same update in the vector unit's fractional saturating arithmetic: per synapse the
    filtered trace and the gradient accumulator are lanes of ``chip.lanes`` bits (computed in
    16-bit lanes, stored in their own width). psi and L (per neuron) and zbar, the trace, its
    filtered form and the accumulated gradient (per source row) each carry a power-of-two scale
    that brings their largest value into [0.25, 0.5) -- chosen on the host from the ranges of the
    first trial (:class:`RangeProbe`) and kept (part of the chip's state); products are fractional
    multiplies (floor), scale changes are shifts (left: ``fxvshh``, saturated; right: a fractional
    multiply, floor), every saturation is counted."""

    def __init__(self, chip, steps):
        super().__init__(chip)
        self.trace_bits, self.acc_bits = chip.lanes
        k = {key: np.asarray(value, dtype=np.int64) for key, value in chip.exponents.items()}
        self.k = k
        self.e_shift = k["e"] - (k["psi"] + k["zbar"])       # per source
        self.ebar_shift = k["ebar"] - k["e"]
        self.acc_shift = k["grad"] - (k["signal"] + k["ebar"])
        self.kappa_lanes = ppu.to_fraction(chip.kappa, 16) if chip.kappa else 0
        self.ebar_lanes = np.zeros((chip.n, chip.m), dtype=np.int64) if chip.kappa else None
        self.acc_lanes = np.zeros((chip.n, chip.m), dtype=np.int64)
        self._plans = {}
        if chip.adaptive:   # eps_a in 16-bit lanes, scaled per source; psi, beta psi and zbar of t-1
            m = chip.m
            self.rho_lanes = ppu.to_fraction(chip.cell.rho, 16)
            self.eps_a_lanes = np.zeros((chip.n, m), dtype=np.int64)
            self.fresh_shift = k["eps_a"] - (k["psi"] + k["zbar"])
            self.forget_shift = np.full(m, -int(k["beta_psi"][0]))
            self.adaptation_shift = k["e"] - (k["beta_psi"] + k["eps_a"])
            self.previous = (np.zeros(chip.n, dtype=np.int64), np.zeros(m, dtype=np.int64),
                             np.zeros(chip.n, dtype=np.int64))

    def _rescale(self, lanes, shift):
        """Multiply by ``2^shift`` (per source column): left shifts saturate (and are counted),
        right shifts round half up (a saturating add of half an LSB, then the shift)."""
        plan = self._plans.get(id(shift))
        if plan is None:
            shift = np.asarray(shift)
            left, right = np.flatnonzero(shift > 0), np.flatnonzero(shift < 0)
            r = np.minimum(-shift[right], 15)
            plan = (left, np.minimum(shift[left], 15), right, r, 1 << (r - 1))
            self._plans[id(shift)] = plan
        left, s, right, r, half = plan
        if not len(left) and not len(right):
            return lanes
        out = lanes.copy()
        if len(right):
            out[:, right] = np.minimum(lanes[:, right] + half, 32767) >> r
        if len(left):
            shifted = lanes[:, left] << s
            self._count(shifted)
            out[:, left] = np.minimum(np.maximum(shifted, -32768), 32767)
        return out

    def _count(self, total):
        self.chip.saturations += int(np.count_nonzero(total > 32767)) + int(np.count_nonzero(total < -32768))

    def step(self, psi, zbar, signal, delta, ybar, ones):
        """One step in the PPU's lanes: fractional products, saturating sums, power-of-two rescaling.
        With the chip's ``engine`` 'compiled' the lanes' arithmetic runs in one C call
        (:mod:`~ostl.hardware.brainscales2.ppu_kernel`, the same integer operations); the NumPy
        code below is its definition."""
        mul, add = ppu.multiply_fractional_rounded, ppu.add_saturating_lanes
        psi_l = ppu.to_fraction(psi * 2.0 ** float(self.k["psi"][0]), 16)
        zbar_l = ppu.to_fraction(zbar * 2.0 ** self.k["zbar"].astype(np.float64), 16)
        if self.chip.engine == "compiled":
            from . import ppu_kernel

            signal_l = ppu.to_fraction(signal * 2.0 ** float(self.k["signal"][0]) * np.ones(self.chip.n), 16)
            beta_psi_l = None
            if self.chip.adaptive:
                beta_psi_l = ppu.to_fraction(self.chip.cell.beta * psi * 2.0 ** float(self.k["beta_psi"][0]), 16)
            ppu_kernel.step(self, psi_l, zbar_l, signal_l, ebar=self.ebar_lanes,
                            eps_a=self.eps_a_lanes if self.chip.adaptive else None,
                            previous=self.previous if self.chip.adaptive else None, beta_psi=beta_psi_l)
            if self.chip.adaptive:
                self.previous = (psi_l, zbar_l, beta_psi_l)
            self.grad_out += np.outer(delta, ybar)
            self.grad_b += delta * ones
            return
        e = self._rescale(mul(psi_l[:, None], zbar_l[None, :]), self.e_shift)
        if self.chip.adaptive:
            e = self._adaptation(e, psi, psi_l, zbar_l)
        if self.ebar_lanes is not None:
            decayed = mul(_widen(self.ebar_lanes, self.trace_bits), self.kappa_lanes)
            scaled = self._rescale(e, self.ebar_shift)
            self._count(decayed + scaled)
            self.ebar_lanes = _narrow(add(decayed, scaled), self.trace_bits, toward_zero=True)
            e = _widen(self.ebar_lanes, self.trace_bits)
        signal_l = ppu.to_fraction(signal * 2.0 ** float(self.k["signal"][0]) * np.ones(self.chip.n), 16)
        contribution = self._rescale(mul(signal_l[:, None], e), self.acc_shift)
        accumulator = _widen(self.acc_lanes, self.acc_bits)
        self._count(accumulator + contribution)
        self.acc_lanes = _narrow(add(accumulator, contribution), self.acc_bits)
        self.grad_out += np.outer(delta, ybar)   # the readout's gradient: per readout synapse, as float here
        self.grad_b += delta * ones

    def carry(self, previous):
        """Start from the lanes and sums of the batch's previous trial."""
        super().carry(previous)
        self.acc_lanes = previous.acc_lanes.copy()

    def _adaptation(self, e, psi, psi_l, zbar_l):
        """ALIF: ``eps_a <- rho eps_a + psi' zbar' - (beta psi') eps_a`` (primes: step t-1; Bellec et
        al. eq. 26), then ``e - (beta psi) eps_a``; every sum saturating and counted."""
        mul, add = ppu.multiply_fractional_rounded, ppu.add_saturating_lanes
        psi_prev, zbar_prev, beta_psi_prev = self.previous
        eps = self.eps_a_lanes
        decayed = mul(eps, self.rho_lanes)
        fresh = self._rescale(mul(psi_prev[:, None], zbar_prev[None, :]), self.fresh_shift)
        forget = self._rescale(mul(beta_psi_prev[:, None], eps), self.forget_shift)
        self._count(decayed + fresh)
        eps = add(decayed, fresh)
        self._count(eps - forget)
        eps = add(eps, -forget)
        self.eps_a_lanes = eps
        beta_psi_l = ppu.to_fraction(self.chip.cell.beta * psi * 2.0 ** float(self.k["beta_psi"][0]), 16)
        adaptation = self._rescale(mul(beta_psi_l[:, None], eps), self.adaptation_shift)
        self._count(e - adaptation)
        self.previous = (psi_l, zbar_l, beta_psi_l)
        return add(e, -adaptation)

    def hidden_gradient(self):
        """The hidden layer's gradient read out of the accumulator lanes, in float."""
        return _widen(self.acc_lanes, self.acc_bits) / 32768.0 / 2.0 ** self.k["grad"].astype(np.float64)
