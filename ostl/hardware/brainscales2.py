"""BrainScaleS-2 emulation (issue 13): the analog core in discrete time, the chip's weights, and the
plasticity processor's update, for the rules whose eligibility state fits the PPU.

**Analog core.** LIF or ALIF neurons (``ostl.cells.LIF``'s and ``ALIF``'s equations, dt = 1 ms of
model time; the chip runs 1000x faster) whose time constants and thresholds vary from circuit to
circuit (fixed pattern, drawn once from the seed: ``tau_m (1 + cv_tau N)``,
``v_th (1 + cv_threshold N)``; ALIF: ``tau_a (1 + cv_tau N)``, ``beta (1 + cv_threshold N)``), whose
synapses vary in gain (``1 + cv_gain N`` per synapse), with membrane noise each step
(``noise_std v_th N``, drawn per trial). Both switchable (:class:`BSS2Config`); the values are
assumptions for a calibrated chip, stated here, not measurements. The readouts are leaky
integrators on neuron circuits (their leak varies like ``tau_m``).

**Weights.** Each synapse holds an integer in 0..63 on a row whose sign the mapping fixes
(:mod:`ostl.hardware.brainscales2_mapping`: an excitatory and an inhibitory row per source); a
learned weight is ``(q_exc - q_inh) lsb gain`` with one of the two zero, ``lsb`` chosen per
projection from the initial weights (``headroom x max |w| / 63``). ``weights='float'`` keeps
float weights (for checking).

**Plasticity processor.** e-prop's traces on LIF neurons factor into a presynaptic trace
``zbar_i`` (the PPU keeps it with the *nominal* decay: it does not know the circuit's own) and the
neuron's pseudo-derivative, so per synapse only the filtered trace (leaky readout), the gradient
accumulator and, on ALIF neurons, the adaptation component ``eps_a`` remain: with
``arithmetic='ppu'`` they are lanes updated each step with the vector unit's fractional saturating
instructions (:mod:`ostl.hardware.brainscales2_ppu`), values scaled into [-1, 1) by powers of two
chosen on the host; at the end the update
``-lr g`` becomes integer weight steps with stochastic rounding (after one trial, or after a batch
whose trials the accumulators sum). 2 bytes per synapse (+1-2 with a leaky readout, +2 on ALIF
neurons) must fit the PPU's 16 KiB with the rest of its state; a network whose state does
not fit is refused (the correlation sensors, read through the 8-bit ADC, are the chip's way out;
not emulated). Rules: e-prop (symmetric or random feedback) and OSTTP's target projection with
e-prop's traces (OSTL's own traces keep the reset path, which needs an eligibility vector per
synapse: it does not fit).

With variation and noise off, float weights and float arithmetic, a trial equals the reference
engine's (``tests/test_brainscales2.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError
from ..online import SequenceResult
from ..ops import NUMPY
from ..validation import check_int
from . import brainscales2_ppu as ppu
from .brainscales2_mapping import WEIGHT_MAX, map_network

PPU_MEMORY = 16 * 1024
#: what each PPU's 16 KiB keep besides the per-synapse state (its program, the per-neuron and
#: per-source vectors): an assumption
PPU_RESERVE = 4 * 1024
#: lane widths (filtered trace, gradient accumulator) tried in order until the state fits
LANE_CHOICES = ((16, 16), (8, 16))
ACCELERATION = 1000.0


@dataclass(frozen=True)
class BSS2Config:
    """Which constraints apply (each switchable) and the variation assumed."""

    variation: bool = True
    noise: bool = True
    weights: str = "6bit"          # '6bit' | 'float'
    arithmetic: str = "ppu"        # 'ppu' (s0.15 vector unit) | 'float'
    cv_tau: float = 0.05
    cv_threshold: float = 0.05
    cv_gain: float = 0.10
    noise_std: float = 0.01        # x v_th per step
    headroom: float = 1.5

    def __post_init__(self):
        if self.weights not in ("6bit", "float"):
            raise ParameterError(f"weights must be '6bit' or 'float', got {self.weights!r}")
        if self.arithmetic not in ("ppu", "float"):
            raise ParameterError(f"arithmetic must be 'ppu' or 'float', got {self.arithmetic!r}")
        for name in ("cv_tau", "cv_threshold", "cv_gain", "noise_std"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value < 0.5):
                raise ParameterError(f"{name} must be in [0, 0.5), got {value!r}")
        if not (np.isfinite(self.headroom) and self.headroom >= 1.0):
            raise ParameterError(f"headroom must be >= 1, got {self.headroom!r}")

    def spec(self):
        return asdict(self)


def make_config(spec):
    if spec is None:
        return BSS2Config()
    if isinstance(spec, BSS2Config):
        return spec
    return BSS2Config(**dict(spec))


def check_network(network, rule):
    where = "the BrainScaleS-2 backend"
    if len(network.layers) != 1 or network.layers[0].kind != "cell" or network.layers[0].cell.kind not in ("lif",
                                                                                                          "alif"):
        raise ParameterError(f"{where} runs one hidden layer of LIF or ALIF neurons")
    if rule.is_bptt or rule.traces != "eprop":
        raise ParameterError(f"{where} runs rules with e-prop's traces (e-prop; OSTTP with traces 'eprop'): OSTL's "
                             "traces keep the reset path, an eligibility vector per synapse that does not fit the "
                             "plasticity processor's 16 KiB")
    if network.layers[0].cell.pseudo.name != "piecewise_linear":
        raise ParameterError(f"{where} has the piecewise-linear pseudo-derivative")
    map_network(network)   # refuses what the chip cannot hold


class AnalogChip:
    """The emulated chip for one network (see the module docstring)."""

    def __init__(self, network, rule, params, feedback, lr, config=None, seed=0, learn_bias=True, batch_size=1,
                 readout_lr=None):
        check_network(network, rule)
        #: trials whose updates the PPU's accumulators sum before one write-back (``end_batch``)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.network, self.rule = network, rule
        self.config = make_config(config)
        self.seed = int(seed)
        self.lr = float(lr)
        #: the readout's own rate (weights and bias; the hidden layer's if None)
        self.readout_lr = self.lr if readout_lr is None else float(readout_lr)
        self.learn_bias = bool(learn_bias) and network.readout.bias
        layer = network.layers[0]
        self.cell = layer.cell
        #: ALIF: the adaptive threshold adds an eligibility component per synapse (e-prop eq. 25-26)
        self.adaptive = self.cell.kind == "alif"
        self.n_in, self.n, self.n_out = network.n_in, layer.size, network.n_out
        self.recurrent = bool(layer.recurrent)
        self.m = self.n_in + (self.n if self.recurrent else 0)
        self.mask = np.ones((self.n, self.m), dtype=bool)
        if self.recurrent:
            self.mask[:, self.n_in:] = layer.recurrent_mask().astype(bool)
        self.kappa = float(network.readout.leak)
        self.symmetric = rule.feedback == "symmetric"
        if not self.symmetric:
            name = "feedback.readout" if rule.feedback == "random" else "feedback.layer0"
            self.feedback_matrix = np.asarray(feedback[name], dtype=np.float64)
        hidden = np.concatenate([params["layer0.W"]] + ([params["layer0.H"]] if self.recurrent else []), axis=1)
        self.lsb = self.config.headroom * max(float(np.max(np.abs(hidden))), 1e-9) / WEIGHT_MAX
        self.readout_lsb = self.config.headroom * max(float(np.max(np.abs(params["readout.W"]))), 1e-9) / WEIGHT_MAX
        self.hidden = self._encode(hidden * self.mask, self.lsb)
        self.readout = self._encode(np.asarray(params["readout.W"], dtype=np.float64), self.readout_lsb)
        self.bias = np.array(params["readout.b"], dtype=np.float64) if network.readout.bias else np.zeros(self.n_out)
        self._fixed_pattern()
        self.trial = 0
        #: write-backs so far (the stochastic rounding's counter)
        self.updates = 0
        self.saturations = 0
        self._batch, self._batch_trials = None, 0
        #: the PPU's power-of-two scales (psi, zbar, trace, filtered trace, L, gradient), set by the
        #: host from the first trial's ranges
        self.exponents = None
        self._choose_lanes(network)

    def _choose_lanes(self, network):
        """Each half's PPU keeps the state of the synapses onto its columns: the widest lanes
        (filtered trace, accumulator) whose state fits 16 KiB, or a ParameterError."""
        mapping = map_network(network)
        synapses = [0, 0]
        offset = 0
        for half, _, count in mapping.populations["hidden"].blocks:
            synapses[half] += int(self.mask[offset:offset + count].sum())
            offset += count
        for half, _, count in mapping.populations["readout"].blocks:
            synapses[half] += count * self.n
        self.ppu_synapses = synapses
        for trace_bits, acc_bits in LANE_CHOICES:
            per_synapse = (trace_bits // 8 if self.kappa else 0) + acc_bits // 8 + (2 if self.adaptive else 0)
            needed = max(synapses) * per_synapse + PPU_RESERVE
            if needed <= PPU_MEMORY:
                self.lanes, self.ppu_bytes = (trace_bits, acc_bits), needed
                return
            if not self.kappa:
                break
        self.lanes, self.ppu_bytes = LANE_CHOICES[-1], needed
        if self.config.arithmetic == "ppu":
            raise ParameterError(f"the plasticity state of {max(synapses)} synapses on one half needs {needed} bytes "
                                 f"({per_synapse} per synapse at the fewest bits we allow, and {PPU_RESERVE} for the "
                                 f"program); a PPU has {PPU_MEMORY}: use fewer synapses (the chip's correlation "
                                 "sensors, read through the 8-bit ADC, are not emulated)")

    # -- weights -------------------------------------------------------------------------------------
    def _encode(self, weights, lsb):
        if self.config.weights == "float":
            return weights.copy()
        return np.clip(np.rint(weights / lsb), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int64)

    def hardware_weights(self, which="hidden"):
        """``(q_exc, q_inh)``: the integers 0..63 the synapses on the excitatory and the inhibitory
        row of each source hold (6-bit weights only)."""
        q = self.hidden if which == "hidden" else self.readout
        return np.maximum(q, 0).astype(np.int64), np.maximum(-q, 0).astype(np.int64)

    def _values(self, q, lsb):
        return q if self.config.weights == "float" else q * lsb

    def params(self):
        """The weights as the trainer sees them (nominal: without the synapses' gain variation)."""
        hidden = self._values(self.hidden, self.lsb)
        out = {"layer0.W": hidden[:, :self.n_in].astype(np.float64)}
        if self.recurrent:
            out["layer0.H"] = hidden[:, self.n_in:].astype(np.float64)
        out["readout.W"] = self._values(self.readout, self.readout_lsb).astype(np.float64)
        if self.network.readout.bias:
            out["readout.b"] = self.bias.copy()
        return out

    # -- the analog core's fixed pattern --------------------------------------------------------------
    def _fixed_pattern(self):
        c = self.config
        rng = np.random.default_rng([self.seed, 0xB55])
        tau = self.cell.tau_m * (1 + (c.cv_tau if c.variation else 0.0) * rng.standard_normal(self.n))
        self.alpha = np.exp(-1.0 / np.maximum(tau, 1e-3))
        self.v_th = self.cell.v_th * (1 + (c.cv_threshold if c.variation else 0.0) * rng.standard_normal(self.n))
        self.gain = 1 + (c.cv_gain if c.variation else 0.0) * rng.standard_normal((self.n, self.m))
        self.readout_gain = 1 + (c.cv_gain if c.variation else 0.0) * rng.standard_normal((self.n_out, self.n))
        if self.kappa:
            tau_out = -1.0 / np.log(self.kappa)
            tau_out = tau_out * (1 + (c.cv_tau if c.variation else 0.0) * rng.standard_normal(self.n_out))
            self.readout_kappa = np.exp(-1.0 / np.maximum(tau_out, 1e-3))
        else:
            self.readout_kappa = np.zeros(self.n_out)
        if self.adaptive:   # drawn last: a LIF chip's pattern is the same with or without this code
            tau_a = self.cell.tau_a * (1 + (c.cv_tau if c.variation else 0.0) * rng.standard_normal(self.n))
            self.rho = np.exp(-1.0 / np.maximum(tau_a, 1e-3))
            self.beta = self.cell.beta * (1 + (c.cv_threshold if c.variation else 0.0) * rng.standard_normal(self.n))

    # -- one trial ------------------------------------------------------------------------------------
    def run_trial(self, x, target, mask=None, continue_batch=False):
        """The emulated chip's trial and the plasticity processor's gradient; returns
        ``(SequenceResult, gradients)`` (gradients in weight units, before the write-back). With
        ``continue_batch`` the accumulators start from the sums of the batch's earlier trials (the
        PPU keeps them between trials; :meth:`end_batch` writes their mean back)."""
        c = self.config
        x = np.asarray(x, dtype=np.float64)
        mask = np.ones(x.shape[0]) if mask is None else np.asarray(mask, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        if c.arithmetic == "ppu" and self.exponents is None:   # the host sets the PPU's shifts once
            probe = _RangeProbe(self)
            self._simulate(x, target, mask, probe)
            self.exponents = probe.exponents(self.batch_size)
        accumulate = _PPUAccumulator(self, x.shape[0]) if c.arithmetic == "ppu" else _FloatAccumulator(self)
        if continue_batch and self._batch is not None:
            accumulate.carry(self._batch)
        else:
            self._batch_trials = 0
        out = self._simulate(x, target, mask, accumulate)
        self._batch, self._batch_trials = accumulate, self._batch_trials + 1
        self.trial += 1
        return out

    def end_batch(self):
        """Write the mean of the batch's accumulated gradients back (:meth:`learn`)."""
        if self._batch is None:
            return
        grads, n = self._batch.result(), self._batch_trials
        self._batch, self._batch_trials = None, 0
        self.learn({name: value / n for name, value in grads.items()})

    def _simulate(self, x, target, mask, accumulate):
        c = self.config
        steps = x.shape[0]
        w = self._values(self.hidden, self.lsb) * self.gain * self.mask
        w_out_nominal = self._values(self.readout, self.readout_lsb)
        w_out = w_out_nominal * self.readout_gain
        noise = np.random.default_rng([self.seed, 0x401, self.trial]).standard_normal((steps, self.n)) \
            if c.noise else None
        alpha_nominal, gamma = self.cell.alpha, self.cell.pseudo.gamma
        v = np.zeros(self.n)
        adaptation = np.zeros(self.n)
        z = np.zeros(self.n)
        a = np.zeros(self.n_out)
        zbar = np.zeros(self.m)                 # presynaptic traces (nominal decay)
        ybar = np.zeros(self.n)
        ones = 0.0
        outputs = np.zeros((steps, self.n_out))
        losses = np.zeros(steps)
        readout = self.network.readout
        for t in range(steps):
            pre = np.concatenate([x[t], z]) if self.recurrent else x[t]
            current = w @ pre
            v = self.alpha * v + current - self.v_th * z
            if noise is not None:
                v = v + c.noise_std * self.v_th * noise[t]
            if self.adaptive:   # ALIF: the threshold v_th + beta a rises with each spike
                adaptation = self.rho * adaptation + z
                u = (v - self.v_th - self.beta * adaptation) / self.v_th
            else:
                u = (v - self.v_th) / self.v_th
            z = (u > 0).astype(np.float64)
            psi = gamma * np.maximum(1.0 - np.abs(u), 0.0) / self.v_th
            zbar = alpha_nominal * zbar + pre
            a = w_out @ z + (self.bias if readout.bias else 0.0) + self.readout_kappa * a
            out = readout.output(NUMPY, a)
            outputs[t] = out
            losses[t] = mask[t] * readout.loss_value(NUMPY, a, target[t])
            delta = mask[t] * (out - target[t])
            if self.symmetric:   # the readout weights as the host knows them (not the synapses' gains)
                signal = delta @ w_out_nominal
            elif self.rule.feedback == "target_projection":
                signal = mask[t] * (target[t] @ self.feedback_matrix.T)
            else:
                signal = delta @ self.feedback_matrix.T
            ybar = z.copy() if not self.kappa else self.kappa * ybar + z
            ones = 1.0 if not self.kappa else self.kappa * ones + 1.0
            accumulate.step(psi, zbar, signal, delta, ybar, ones)
        grads = accumulate.result()
        result = SequenceResult(loss=float(losses.sum()), outputs=outputs, grads=grads, step_losses=losses)
        return result, grads

    # -- the write-back ---------------------------------------------------------------------------------
    def learn(self, grads):
        """``w <- w - lr g`` as weight steps: stochastic rounding to integers in -63..63 (6-bit), or
        float; the readout bias in float (a neuron parameter set by the host)."""
        rng = np.random.default_rng([self.seed, 0x3E7, self.updates])
        hidden_grad = np.concatenate([grads["layer0.W"]] + ([grads["layer0.H"]] if self.recurrent else []), axis=1)
        for attr, grad, lsb, valid, lr in (("hidden", hidden_grad, self.lsb, self.mask, self.lr),
                                           ("readout", grads["readout.W"], self.readout_lsb, None, self.readout_lr)):
            q = getattr(self, attr)
            change = -lr * grad
            if self.config.weights == "float":
                new = q + change
            else:
                steps = change / lsb
                floor = np.floor(steps)
                new = q + (floor + (rng.random(steps.shape) < steps - floor)).astype(np.int64)
                self.saturations += int(np.count_nonzero(np.abs(new) > WEIGHT_MAX))
                new = np.clip(new, -WEIGHT_MAX, WEIGHT_MAX)
            if valid is not None:
                new = np.where(valid, new, q)
            setattr(self, attr, new)
        if self.learn_bias:
            self.bias = self.bias - self.readout_lr * grads["readout.b"]
        self.updates += 1

    # -- saved state --------------------------------------------------------------------------------------
    def state_dict(self):
        state = {"bias": self.bias.copy(), "trial": np.array(self.trial), "updates": np.array(self.updates),
                 "saturations": np.array(self.saturations),
                 "lsb": np.array([self.lsb, self.readout_lsb]),
                 **{f"exponent_{key}": (np.zeros(0, np.int64) if self.exponents is None else self.exponents[key].copy())
                    for key in EXPONENTS}}
        if self.config.weights == "float":
            state.update(hidden=self.hidden.copy(), readout=self.readout.copy())
        else:   # what the synapses hold: integers 0..63 on excitatory and inhibitory rows
            for which in ("hidden", "readout"):
                excitatory, inhibitory = self.hardware_weights(which)
                state[f"{which}_excitatory"] = excitatory.astype(np.uint8)
                state[f"{which}_inhibitory"] = inhibitory.astype(np.uint8)
        return state

    def load_state_dict(self, state):
        self.bias = np.asarray(state["bias"], dtype=np.float64).copy()
        self.trial = int(state["trial"])
        self.updates = int(state.get("updates", self.trial))
        self._batch, self._batch_trials = None, 0
        self.saturations = int(state["saturations"])
        self.lsb, self.readout_lsb = (float(s) for s in state["lsb"])
        exponents = {key: np.asarray(state.get(f"exponent_{key}", np.zeros(0)), dtype=np.int64).copy()
                     for key in EXPONENTS}
        self.exponents = exponents if exponents["psi"].size else None
        for which in ("hidden", "readout"):
            if self.config.weights == "float":
                setattr(self, which, np.asarray(state[which], dtype=np.float64).copy())
            else:
                excitatory = np.asarray(state[f"{which}_excitatory"], dtype=np.int64)
                inhibitory = np.asarray(state[f"{which}_inhibitory"], dtype=np.int64)
                if excitatory.max(initial=0) > WEIGHT_MAX or inhibitory.max(initial=0) > WEIGHT_MAX or \
                        np.any((excitatory > 0) & (inhibitory > 0)):
                    raise ParameterError(f"saved BrainScaleS-2 weights of {which} are not 6-bit row pairs")
                setattr(self, which, excitatory - inhibitory)

    def chip_time(self, steps):
        """Wall-clock seconds the chip needs for ``steps`` model milliseconds (1000x accelerated)."""
        return steps * 1e-3 / ACCELERATION


class _FloatAccumulator:
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


class _RangeProbe(_FloatAccumulator):
    """The float update, recording the largest magnitude of every quantity the PPU scales: per
    neuron quantities (psi, L) over the layer, per-synapse ones per presynaptic source (the PPU
    processes a synapse row, i.e. one source, at a time, and can shift each row by its own)."""

    def __init__(self, chip):
        super().__init__(chip)
        m = chip.m
        self.largest = {"psi": 0.0, "signal": 0.0, "zbar": np.zeros(m), "e": np.zeros(m), "ebar": np.zeros(m),
                        "beta_psi": 0.0, "eps_a": np.zeros(m), "grad": np.zeros(m)}

    def step(self, psi, zbar, signal, delta, ybar, ones):
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


class _PPUAccumulator(_FloatAccumulator):
    """The same update in the vector unit's fractional saturating arithmetic: per synapse the
    filtered trace and the gradient accumulator are lanes of ``chip.lanes`` bits (computed in
    16-bit lanes, stored in their own width). psi and L (per neuron) and zbar, the trace, its
    filtered form and the accumulated gradient (per source row) each carry a power-of-two scale
    that brings their largest value into [0.25, 0.5) -- chosen on the host from the ranges of the
    first trial (:class:`_RangeProbe`) and kept (part of the chip's state); products are fractional
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
        mul, add = ppu.multiply_fractional_rounded, ppu.add_saturating_lanes
        psi_l = ppu.to_fraction(psi * 2.0 ** float(self.k["psi"][0]), 16)
        zbar_l = ppu.to_fraction(zbar * 2.0 ** self.k["zbar"].astype(np.float64), 16)
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
        return _widen(self.acc_lanes, self.acc_bits) / 32768.0 / 2.0 ** self.k["grad"].astype(np.float64)
