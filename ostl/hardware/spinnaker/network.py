"""A network in the SpiNNaker kernels' arithmetic: encoding from an ostl network (host side),
one trial in the NumPy model or in the host-compiled C, and the write-back at its end.

:class:`FixedPointNetwork` holds what lives on the chip: the weight words of the hidden layer
(input and recurrent synapses as one matrix, ``m = n_in (+ n)`` presynaptic neurons), of the
readout, the readout bias, the feedback matrix, the ring-buffer shifts, the residuals of the
write-back and the trial counter. :meth:`FixedPointNetwork.run_trial` runs one trial
(``engine='c'``: the kernels; ``'numpy'``: :mod:`ostl.hardware.spinnaker.model`), and
:meth:`FixedPointNetwork.learn` writes the gradient back.

What it runs (anything else is refused with a :class:`ParameterError` before anything runs):
one hidden layer of LIF, ALIF, SNU (step output, g identity or ReLU) or soft-reset SNU cells,
feed-forward or recurrent; a readout with linear, sigmoid or softmax output and an optional
leak; the rules whose traces are local to a synapse (e-prop, OSTL w/o H, OSTL and OSTL rnd on a
feed-forward layer, OSTTP) with any feedback; plain SGD. The cells' neuron parameters (SNU
bias, soft-reset threshold) are constants on the chip; the synaptic weights and the readout
bias learn.

The ring-buffer shift of each population follows sPyNNaker (:func:`ring_buffer_shift`) for the
largest input a neuron can receive in one step, ``headroom`` times the largest row sum of
``|w|`` (every presynaptic neuron spiking at once): room for the weights to grow. One shift
serves both synapse types of a population, so a learning weight can change sign (and type)
without changing scale.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError
from ...network import Layer
from ...online import SequenceResult
from ...ops import NUMPY
from . import model
from .numerics import ONE, Counters, from_s1615, ring_buffer_shift, to_s1615

ENGINES = ("c", "numpy")
COUNTER_KINDS = ("multiply", "add", "ring_buffer", "weight")


def _check(condition, message):
    if not condition:
        raise ParameterError(message)


def check_network(network, rule):
    """Refuse what the SpiNNaker kernels cannot run, naming it."""
    where = "the SpiNNaker backend"
    _check(len(network.layers) == 1, f"{where} runs one hidden layer, got {len(network.layers)}")
    layer = network.layers[0]
    _check(isinstance(layer, Layer) and layer.stateful and layer.cell.kind in model.CELL_KINDS,
           f"{where} runs layers of the cells {', '.join(model.CELL_KINDS)}, got {getattr(layer, 'kind', layer)!r}")
    cell = layer.cell
    if cell.kind in ("snu", "soft_snu"):
        _check(cell.output == "step", f"{where} runs spiking cells (output 'step'), got output {cell.output!r}")
    if cell.kind == "snu":
        _check(cell.activation.name in ("identity", "relu"),
               f"{where} runs SNUs with g 'identity' or 'relu', got {cell.activation.name!r}")
    _check(cell.pseudo.name in ("piecewise_linear", "tanh", "fast_sigmoid"),
           f"{where} has the pseudo-derivatives piecewise_linear, tanh and fast_sigmoid, got {cell.pseudo.name!r}")
    _check(not rule.is_bptt, f"{where} runs the online rules, not 'bptt'")
    rule.require_local(network, where)


def _decay_bits(value, name):
    bits = int(to_s1615(value, name=name))
    _check(bits < ONE, f"{name} ({value:.6f}) rounds to 1.0 in s16.15: the time constant is too long for the "
                       f"SpiNNaker kernels (a decay must be below {1 - 0.5 / ONE:.6f})")
    return bits


def encode_cell(cell, keep_reset_path, neuron_param):
    """A cell's constants in the kernels' encoding (s16.15 decays, thresholds, the pseudo-derivative's gamma or
    table); what does not fit is refused."""
    kind = cell.kind
    fields = {"kind": kind, "keep_reset_path": bool(keep_reset_path)}
    if cell.pseudo.name == "piecewise_linear":
        fields["pseudo_gamma"] = int(to_s1615(cell.pseudo.gamma, name="pseudo-derivative gamma"))
    else:
        fields["pseudo_table"] = model.pseudo_table(cell.pseudo)
    if kind in ("lif", "alif"):
        fields.update(alpha=_decay_bits(cell.alpha, "the membrane decay exp(-dt / tau_m)"),
                      v_th=int(to_s1615(cell.v_th, name="v_th")),
                      inv_v_th=int(to_s1615(1.0 / cell.v_th, name="1 / v_th")))
        _check(fields["inv_v_th"] > 0, f"v_th ({cell.v_th:g}) is too large for s16.15: 1 / v_th rounds to 0")
        if kind == "alif":
            fields.update(rho=_decay_bits(cell.rho, "the adaptation decay exp(-dt / tau_a)"),
                          beta=int(to_s1615(cell.beta, name="beta")))
    else:
        fields["decay"] = _decay_bits(cell.decay, "the SNU decay")
        fields["relu"] = kind == "snu" and cell.activation.name == "relu"
        fields["neuron_param"] = to_s1615(neuron_param, name=f"the {cell.neuron_param}")
    return model.CellParameters(**fields)


def _shift_for(matrix, headroom, name):
    largest = float(np.max(np.sum(np.abs(matrix), axis=1))) * headroom if matrix.size else 0.0
    try:
        return ring_buffer_shift(largest)
    except ParameterError as exc:
        raise ParameterError(f"{name}: {exc}") from None


def _words(matrix, shift):
    scaled = np.rint(np.abs(matrix) * 2.0 ** (15 - shift))
    return (np.sign(matrix) * np.minimum(scaled, model.WORD_LIMIT)).astype(np.int32)


class FixedPointNetwork:
    """See the module docstring. ``params``/``feedback``: the float network's (weights are
    quantised on the first encoding; :meth:`load_state_dict` restores a saved chip state)."""

    def __init__(self, network, rule, params, feedback, lr, rounding="residual", headroom=2.0, seed=0,
                 learn_bias=True, readout_lr=None):
        check_network(network, rule)
        self.network, self.rule = network, rule
        layer = network.layers[0]
        self.layer = layer
        self.n_in, self.n, self.n_out = network.n_in, layer.size, network.n_out
        self.recurrent = bool(layer.recurrent)
        self.m = self.n_in + (self.n if self.recurrent else 0)
        self.d = model.STATE_SIZE[layer.cell.kind]
        self.rounding = rounding
        _check(rounding in model.ROUNDING, f"rounding must be one of {', '.join(model.ROUNDING)}, got {rounding!r}")
        self.headroom = float(headroom)
        _check(np.isfinite(self.headroom) and self.headroom >= 1.0,
               f"headroom must be a number >= 1 (the ring buffers' room for growing weights), got {headroom!r}")
        self.seed = int(seed)
        #: whether the readout bias learns (it is written back with the weights)
        self.learn_bias = bool(learn_bias) and network.readout.bias
        #: the learning rates (the hidden layer's; the readout's), and each as the write-back's
        #: (15-bit mantissa, shift)
        self.lr = float(lr)
        self.readout_lr = self.lr if readout_lr is None else float(readout_lr)
        self.lr_bits = model.learning_rate_bits(lr)
        #: the readout's own rate (weights and bias), as mantissa and shift; the hidden layer's if None
        self.readout_lr_bits = self.lr_bits if readout_lr is None else model.learning_rate_bits(readout_lr)
        neuron_param = params.get(f"layer0.{layer.cell.neuron_param}") if layer.cell.neuron_param else None
        self.cell = encode_cell(layer.cell, rule.keep_reset_path, neuron_param)
        self.uses_own_path = bool(rule.keep_reset_path or layer.cell.kind == "alif")
        #: e-prop on LIF cells: one eligibility vector per presynaptic neuron (see eligibility.c)
        self.presynaptic = layer.cell.kind == "lif" and not self.uses_own_path
        readout = network.readout
        self.kappa = _decay_bits(readout.leak, "the readout leak") if readout.leak else 0
        self.signal_source = rule.signal_source
        self.symmetric = rule.feedback == "symmetric"
        hidden = self._hidden_matrix(params)
        self.shift = _shift_for(hidden, self.headroom, "the hidden layer's synapses")
        if not self.symmetric:
            # B lives in the hidden population's synaptic rows of the learning-signal projection
            # (16-bit words at the population's scale, fetched when a readout's packet arrives)
            name = "feedback.readout" if rule.feedback == "random" else "feedback.layer0"
            self.feedback_matrix = np.asarray(feedback[name], dtype=np.float64)   # (n, n_out)
            self._encode_feedback()
        self.readout_shift = _shift_for(params["readout.W"], self.headroom, "the readout's synapses")
        self.readout = model.ReadoutParameters(readout.activation, self.kappa, self.readout_shift,
                                               model.sigmoid_table(), model.exp_table())
        self.mask = np.ones((self.n, self.m), dtype=bool)
        if self.recurrent:
            self.mask[:, self.n_in:] = layer.recurrent_mask().astype(bool)
        self.words = _words(hidden, self.shift) * self.mask
        self.readout_words = _words(params["readout.W"], self.readout_shift)
        self.bias = to_s1615(params["readout.b"], name="readout bias") if readout.bias else np.zeros(self.n_out,
                                                                                                     np.int32)
        self.residual = np.zeros((self.n, self.m), dtype=np.int16)
        self.readout_residual = np.zeros((self.n_out, self.n), dtype=np.int16)
        self.trial = 0
        self.counters = Counters()
        self._kernels = None

    def _encode_feedback(self):
        largest = float(np.max(np.abs(self.feedback_matrix))) if self.feedback_matrix.size else 0.0
        _check(largest * 2.0 ** (15 - self.shift) <= model.WORD_LIMIT,
               f"feedback weight {largest:g} does not fit a 16-bit word at the hidden population's ring-buffer "
               f"shift {self.shift} (largest {model.WORD_LIMIT / 2.0 ** (15 - self.shift):g})")
        self.feedback_words = _words(self.feedback_matrix, self.shift)

    def _hidden_matrix(self, params):
        parts = [params["layer0.W"]] + ([params["layer0.H"]] if self.recurrent else [])
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=1)

    # -- what the chip holds, as floats -----------------------------------------------------------
    @property
    def scale(self):
        """Weight units per 16-bit word step of the hidden synapses."""
        return 2.0 ** (15 - self.shift)

    @property
    def readout_scale(self):
        """Weight units per 16-bit word step of the readout synapses."""
        return 2.0 ** (15 - self.readout_shift)

    def params(self):
        """The weights the chip holds, as floats (each exactly a word / scale)."""
        hidden = self.words / self.scale
        out = {"layer0.W": hidden[:, :self.n_in]}
        if self.recurrent:
            out["layer0.H"] = hidden[:, self.n_in:]
        out["readout.W"] = self.readout_words / self.readout_scale
        if self.network.readout.bias:
            out["readout.b"] = from_s1615(self.bias)
        return out

    def feedback(self):
        """``B`` (n, n_out) in s16.15: the fixed feedback (words of the learning-signal projection
        at the hidden scale), or for symmetric feedback the readout weights' values."""
        if self.symmetric:
            return (self.readout_words.T.astype(np.int64) << self.readout_shift).astype(np.int32)
        return (self.feedback_words.astype(np.int64) << self.shift).astype(np.int32)

    def feedback_values(self):
        """``B`` as floats (what the learning-signal projection's ``get('weight')`` returns)."""
        return from_s1615(self.feedback())

    # -- one trial -----------------------------------------------------------------------------------
    def encode_trial(self, x, target, mask):
        """A trial in the kernels' encoding: spikes as bytes, target and mask in s16.15."""
        x = np.asarray(x)
        _check(x.ndim == 2 and x.shape[1] == self.n_in, f"x must have shape (T, {self.n_in}), got {x.shape}")
        _check(np.all((x == 0) | (x == 1)), "the SpiNNaker backend takes spike inputs (x of 0s and 1s)")
        steps = x.shape[0]
        mask = np.ones(steps) if mask is None else np.asarray(mask, dtype=np.float64)
        return (np.ascontiguousarray(x, dtype=np.uint8), to_s1615(target, name="target").reshape(steps, self.n_out),
                to_s1615(mask, name="mask"))

    def run_trial(self, x, target, mask=None, engine="c", record=False):
        """One trial from the zero state; returns ``(arrays, counters)`` with the gradients
        (``grad``, ``grad_readout``, ``grad_bias``), the final traces and, with ``record``,
        ``state`` (T, n, d), ``spikes`` (T, n), ``readout`` (T, n_out), ``output``, ``signal``."""
        _check(engine in ENGINES, f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        xs, targets, masks = self.encode_trial(x, target, mask)
        counters = Counters()
        if engine == "numpy":
            out = self._run_numpy(xs, targets, masks, record, counters)
        else:
            out = self._c().trial(self, xs, targets, masks, record, counters)
        for kind in COUNTER_KINDS:
            self.counters.add(kind, counters[kind])
        return out, counters

    def _run_numpy(self, x, target, mask, record, counters):
        n, m, d, n_out = self.n, self.m, self.d, self.n_out
        state = np.zeros((n, d), dtype=np.int32)
        z = np.zeros(n, dtype=np.int32)
        q_prev = np.zeros((n, d), dtype=np.int32)
        a = np.zeros(n_out, dtype=np.int32)
        eps = np.zeros((m, 1) if self.presynaptic else (n, m, d), dtype=np.int32)
        ebar = np.zeros((n, m), dtype=np.int32) if self.kappa else None
        grad = np.zeros((n, m), dtype=np.int32)
        ybar, ones = np.zeros(n, dtype=np.int32), np.zeros(n_out, dtype=np.int32)
        grad_readout, grad_bias = np.zeros((n_out, n), dtype=np.int32), np.zeros(n_out, dtype=np.int32)
        feedback = self.feedback()
        steps = x.shape[0]
        rec = {"state": [], "spikes": [], "readout": [], "output": [], "signal": []}
        for t in range(steps):
            pre = np.concatenate([x[t], (z != 0).astype(np.uint8)]) if self.recurrent else x[t]
            current = model.synaptic_input(self.words, pre, self.shift, counters)
            state, z, factors = model.neuron_step(self.cell, state, z, current, counters)
            a, out, delta = model.readout_step(self.readout, self.readout_words, self.bias, a, z, target[t], mask[t],
                                               counters)
            payload = delta if self.signal_source == "error" else model._mul(mask[t], target[t], counters)
            signal = model.learning_signal(feedback, payload, counters)
            if self.presynaptic:
                model.eligibility_presynaptic(eps, ebar, grad, factors, pre, signal, self.kappa, counters)
            else:
                model.eligibility_step(eps, ebar, grad, factors, q_prev, pre, signal, self.kappa, self.uses_own_path,
                                       counters)
            model.readout_traces_step(ybar, ones, grad_readout, grad_bias, z, delta, self.kappa, counters)
            q_prev = factors[3]
            if record:
                for key, value in (("state", state), ("spikes", z), ("readout", a), ("output", out),
                                   ("signal", signal)):
                    rec[key].append(np.array(value))
        arrays = {"grad": grad, "grad_readout": grad_readout, "grad_bias": grad_bias, "eps": eps,
                  "ebar": ebar, "ybar": ybar}
        if record:
            arrays.update({k: np.array(v, dtype=np.int32) for k, v in rec.items()})
        return arrays

    def _c(self):
        if self._kernels is None:
            from .host import HostKernels

            self._kernels = HostKernels()
        return self._kernels

    # -- learning ---------------------------------------------------------------------------------------
    def learn(self, arrays, engine="c"):
        """Write the trial's gradients back (the end of a trial) and count the trial."""
        counters = Counters()
        if engine == "numpy":
            model.write_back(self.words, self.residual, arrays["grad"], self.mask, self.lr_bits, self.shift,
                             self.rounding, self.seed, self.trial, 0, counters)
            model.write_back(self.readout_words, self.readout_residual, arrays["grad_readout"],
                             np.ones_like(self.readout_words, dtype=bool), self.readout_lr_bits, self.readout_shift,
                             self.rounding, self.seed, self.trial, self.n * self.m, counters)
            if self.learn_bias:
                model.bias_write_back(self.bias, arrays["grad_bias"], self.readout_lr_bits, counters)
        else:
            self._c().write_back(self, arrays, counters)
        self.trial += 1
        for kind in COUNTER_KINDS:
            self.counters.add(kind, counters[kind])
        return counters

    def sequence_result(self, arrays, x, target, mask):
        """The trial as the trainer reads it: loss and outputs from the readout potentials (as
        floats), the gradients (as floats, for inspection)."""
        a = from_s1615(arrays["readout"])
        mask = np.ones(len(a)) if mask is None else np.asarray(mask, dtype=np.float64)
        readout = self.network.readout
        step_losses = np.array([mask[t] * readout.loss_value(NUMPY, a[t], target[t]) for t in range(len(a))])
        grads = {"layer0.W": from_s1615(arrays["grad"][:, :self.n_in]), "readout.W": from_s1615(arrays["grad_readout"])}
        if self.recurrent:
            grads["layer0.H"] = from_s1615(arrays["grad"][:, self.n_in:])
        if readout.bias:
            grads["readout.b"] = from_s1615(arrays["grad_bias"])
        return SequenceResult(loss=float(step_losses.sum()), outputs=from_s1615(arrays["output"]), grads=grads,
                              step_losses=step_losses)

    # -- saved state ------------------------------------------------------------------------------------
    def state_dict(self):
        """The chip's state for checkpoints: words, residuals, bias, shifts, trial counter, saturation counts."""
        return {"words": self.words.copy(), "readout_words": self.readout_words.copy(), "bias": self.bias.copy(),
                "residual": self.residual.copy(), "readout_residual": self.readout_residual.copy(),
                "shifts": np.array([self.shift, self.readout_shift]), "trial": np.array(self.trial),
                "counters": np.array([self.counters[k] for k in COUNTER_KINDS], dtype=np.int64)}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`; a state of other shapes is refused."""
        for key, shape in (("words", self.words.shape), ("readout_words", self.readout_words.shape),
                           ("bias", self.bias.shape), ("residual", self.residual.shape),
                           ("readout_residual", self.readout_residual.shape)):
            value = np.asarray(state[key])
            _check(value.shape == shape, f"saved SpiNNaker state {key!r} has shape {value.shape}, expected {shape}")
        self.words = np.asarray(state["words"], dtype=np.int32).copy()
        self.readout_words = np.asarray(state["readout_words"], dtype=np.int32).copy()
        self.bias = np.asarray(state["bias"], dtype=np.int32).copy()
        self.residual = np.asarray(state["residual"], dtype=np.int16).copy()
        self.readout_residual = np.asarray(state["readout_residual"], dtype=np.int16).copy()
        self.shift, self.readout_shift = (int(s) for s in state["shifts"])
        if not self.symmetric:
            self._encode_feedback()
        self.readout = model.ReadoutParameters(self.readout.activation, self.kappa, self.readout_shift,
                                               self.readout.sigmoid, self.readout.exp)
        self.trial = int(state["trial"])
        self.counters = Counters()
        for kind, count in zip(COUNTER_KINDS, state["counters"]):
            self.counters.add(kind, int(count))
