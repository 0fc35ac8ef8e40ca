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
(:mod:`ostl.hardware.brainscales2.mapping`: an excitatory and an inhibitory row per source); a
learned weight is ``(q_exc - q_inh) lsb gain`` with one of the two zero, ``lsb`` chosen per
projection from the initial weights (``headroom x max |w| / 63``). ``weights='float'`` keeps
float weights (for checking).

**Plasticity processor.** e-prop's traces on LIF neurons factor into a presynaptic trace
``zbar_i`` (the PPU keeps it with the *nominal* decay: it does not know the circuit's own) and the
neuron's pseudo-derivative, so per synapse only the filtered trace (leaky readout), the gradient
accumulator and, on ALIF neurons, the adaptation component ``eps_a`` remain: with
``arithmetic='ppu'`` they are lanes updated each step with the vector unit's fractional saturating
instructions (:mod:`ostl.hardware.brainscales2.ppu`), values scaled into [-1, 1) by powers of two
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

from dataclasses import dataclass

import numpy as np

from ...compiled import choose_engine
from ...errors import ParameterError
from ...online import SequenceResult
from ...ops import NUMPY
from ...registry import Specified, make_dataclass
from ...validation import check_int
from . import ppu_kernel
from .accumulators import EXPONENTS, FloatAccumulator, PPUAccumulator, RangeProbe
from .mapping import WEIGHT_MAX, map_network

PPU_MEMORY = 16 * 1024
#: what each PPU's 16 KiB keep besides the per-synapse state (its program, the per-neuron and
#: per-source vectors): an assumption
PPU_RESERVE = 4 * 1024
#: lane widths (filtered trace, gradient accumulator) tried in order until the state fits
LANE_CHOICES = ((16, 16), (8, 16))
ACCELERATION = 1000.0


@dataclass(frozen=True)
class BSS2Config(Specified):
    """Which constraints apply (each switchable) and the variation assumed."""

    spec_key = None

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
        """Check every setting's range."""
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

def make_config(spec):
    """A :class:`BSS2Config` from itself, None (the defaults) or a dict."""
    return make_dataclass(BSS2Config, spec, "BrainScaleS-2")


def check_network(network, rule):
    """Refuse, naming it, what the emulated chip cannot run: one hidden layer of LIF or ALIF neurons, e-prop's
    traces, the piecewise-linear pseudo-derivative, a network that fits (the mapping)."""
    where = "the BrainScaleS-2 backend"
    if len(network.layers) != 1 or network.layers[0].kind != "cell" or network.layers[0].cell.kind not in ("lif",
                                                                                                          "alif"):
        raise ParameterError(f"{where} runs one hidden layer of LIF or ALIF neurons")
    if rule.is_bptt or rule.keep_reset_path:
        raise ParameterError(f"{where} runs rules with e-prop's traces (e-prop; OSTTP with traces 'eprop'): OSTL's "
                             "traces keep the reset path, an eligibility vector per synapse that does not fit the "
                             "plasticity processor's 16 KiB")
    if network.layers[0].cell.pseudo.name != "piecewise_linear":
        raise ParameterError(f"{where} has the piecewise-linear pseudo-derivative")
    map_network(network)   # refuses what the chip cannot hold


class AnalogChip:
    """The emulated chip for one network (see the module docstring)."""

    def __init__(self, network, rule, params, feedback, lr, config=None, seed=0, learn_bias=True, batch_size=1,
                 readout_lr=None, engine=None):
        check_network(network, rule)
        #: ``'compiled'`` (the PPU's lane arithmetic in C, :mod:`.ppu_kernel`; the default where a C
        #: compiler builds it) or ``'numpy'`` (the definition); equal bit for bit
        self.engine = choose_engine(engine, ppu_kernel.available, ppu_kernel.library)
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
            probe = RangeProbe(self)
            self._simulate(x, target, mask, probe)
            self.exponents = probe.exponents(self.batch_size)
        accumulate = PPUAccumulator(self, x.shape[0]) if c.arithmetic == "ppu" else FloatAccumulator(self)
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
        """The chip's state for checkpoints: bias, trial and update counters, weight LSBs, lane exponents, the 6-bit
        weights."""
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
        """Restore :meth:`state_dict`; weights that are not 6-bit row pairs are refused."""
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
