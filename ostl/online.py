"""The reference engine's online learner: forward simulation, eligibility traces,
learning signals and weight updates, one discrete time step at a time.

Order of one step ``t`` (OSTL Algorithm 1; every simulator plugin follows it):

1. layers from the input upward: synaptic input, cell update, local derivatives,
   eligibility vectors and traces;
2. readout potential ``a^t``, output, loss ``m^t E^t``, error ``delta^t = m^t dE^t/da^t``;
3. learning signals ``L_l^t`` (top-down chain or direct projections);
4. gradient contributions ``L_l^t . e_l^t``; with ``mode='online'`` they are applied
   at once (the next step sees the new weights), with ``mode='deferred'`` they are
   summed and returned at the end of the sequence (apply them with an optimiser).

Memory is what OSTL Table 1 says: eligibility vectors (``n x m`` values per
feed-forward synapse matrix) and the current state; nothing grows with ``T`` unless
you ask for recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .blocked import Scratch, blockable, run_blocked
from .errors import ParameterError
from .gated import GatedTraces
from .ops import NUMPY
from .regularisation import FiringRateRegularisation
from .rules import make_rule
from .signals import learning_signals
from .traces import DenseTraces, ReadoutTraces, StatefulTraces
from .validation import check_choice, check_int

RECORDABLE = ("state", "output", "readout", "learning_signal", "eligibility_vector",
              "eligibility_trace", "weights", "gradient")


#: when the weights change: after each trial or batch (``deferred``) or at every step (``online``)
MODES = ("deferred", "online")


@dataclass
class SequenceResult:
    """What a sequence gives: its loss, the readout's outputs, the rule's gradient (deferred: summed; online: the
    applied sum), recordings and the per-step losses."""

    loss: float
    outputs: np.ndarray  # (T, n_out)
    grads: dict  # deferred: summed contributions; online: summed applied contributions
    records: dict = field(default_factory=dict)
    step_losses: np.ndarray = None
    #: the firing-rate regulariser's value (:mod:`ostl.regularisation`; 0 without it), not in ``loss``
    regularisation_loss: float = 0.0


class OnlineLearner:
    """Runs one or more sequences through a :class:`~ostl.network.Network` while
    computing a rule's online gradient estimate.

    Parameters
    ----------
    network : Network
    rule : str or Rule
        ``ostl``, ``ostl_no_h``, ``ostl_rnd``, ``osttp``, ``eprop`` (see :mod:`ostl.rules`).
    params : dict
        network parameters; updated in place in ``mode='online'``.
    mode : 'deferred' | 'online'
    optimizer : Optimizer, required for ``mode='online'``
    feedback : dict, optional
        fixed feedback matrices (default: drawn from ``feedback_seed``).
    trainable : iterable of parameter names, optional (default: all)
    block : int
        deferred runs without per-step recordings are evaluated in blocks of this many
        steps (:mod:`ostl.blocked`; same result to rounding, several times faster);
        ``block=1`` forces the step-by-step evaluation.
    engine : 'compiled' | 'numpy', optional
        how the blocks' per-step loops run: compiled C generated from the same definitions
        (the default where a C compiler builds it) or the NumPy definition itself
        (:mod:`ostl.compiled`; equal to rounding). The step-by-step evaluation is NumPy
        except for the diagonal trace update (:mod:`ostl.compiled.traces`).
    dtype : 'float64' | 'float32', optional
        the precision of the blocked evaluation (:mod:`ostl.precision`; default float64);
        gradients are returned in float64. float32 needs the blocked evaluation (deferred
        mode, no recordings).
    regularisation : FiringRateRegularisation or dict, optional
        firing-rate regularisation of the stateful hidden layers (:mod:`ostl.regularisation`;
        ``{"c_reg": ..., "f_target": spikes per step}``); deferred mode only. Its value is
        :attr:`SequenceResult.regularisation_loss`, its gradient part of ``grads``.
    """

    def __init__(self, network, rule, params, mode="deferred", optimizer=None, feedback=None,
                 feedback_seed=0, trainable=None, block=128, engine=None, dtype=None, regularisation=None):
        from .compiled import resolve_engine
        from .precision import resolve_dtype

        self.network = network
        self.block = check_int("block", block, minimum=1)
        #: ``'compiled'`` or ``'numpy'`` (:mod:`ostl.compiled`)
        self.engine = resolve_engine(engine)
        #: ``numpy.float64`` or ``numpy.float32`` (:mod:`ostl.precision`)
        self.dtype = resolve_dtype(dtype)
        if self.dtype is not np.float64 and (mode != "deferred" or self.block == 1):
            raise ParameterError("dtype 'float32' runs the blocked evaluation only: mode must be 'deferred' and "
                                 f"block > 1 (got mode {mode!r}, block {block})")
        #: work arrays of the block evaluator, reused between runs of this learner
        self.scratch = Scratch()
        self.rule = make_rule(rule)
        if self.rule.is_bptt:
            raise ParameterError("rule 'bptt' is not an online rule; use ostl.bptt.bptt_gradients")
        self.mode = check_choice("mode", mode, set(MODES))
        if self.mode == "online" and optimizer is None:
            raise ParameterError("mode 'online' needs an optimizer (e.g. ostl.optim.SGD(lr=...))")
        self.optimizer = optimizer
        # a validated float64 copy; in mode 'online' it is updated in place
        self.params = network.check_params(params)
        if feedback is None:
            feedback = self.rule.make_feedback(network, feedback_seed)
        self.feedback = self.rule.check_feedback(network, feedback)
        shapes = network.param_shapes()
        if trainable is None:
            trainable = set(shapes)
        else:
            trainable = set(trainable)
            unknown = sorted(trainable - set(shapes))
            if unknown:
                raise ParameterError(f"trainable names unknown parameters {', '.join(unknown)}")
        self.trainable = trainable
        self.masks = network.masks()
        leak = network.readout.leak
        self.traces = []
        n_pre = network.n_in
        for index, layer in enumerate(network.layers):
            prefix = network.prefix(index)
            if layer.kind == "gated":
                if index > 0 and self.rule.feedback == "random":
                    raise ParameterError(f"rule {self.rule.name!r} sends random feedback down through the gated "
                                         f"layer {index}, which has no single feed-forward matrix to replace; "
                                         "use feedback 'symmetric', 'random_direct' or 'target_projection'")
                self.traces.append(GatedTraces(layer, prefix, n_pre, self.rule.traces, leak, trainable))
            elif layer.stateful:
                self.traces.append(StatefulTraces(layer, prefix, n_pre, self.rule.traces, leak, trainable,
                                                  self.engine))
            else:
                self.traces.append(DenseTraces(layer, prefix, leak, trainable))
            n_pre = layer.size
        self.readout_traces = ReadoutTraces(network.readout, trainable)
        #: the firing-rate regulariser (:mod:`ostl.regularisation`), or None
        self.regularisation = FiringRateRegularisation.make(regularisation)
        if self.regularisation is not None:
            self.regularisation.check_mode(self.mode)
            if any(layer.kind == "gated" for layer in network.layers):
                raise ParameterError("firing-rate regularisation acts on spiking (stateful) layers; this network has "
                                     "gated layers: use c_reg = 0")
        if self.dtype is not np.float64 and not blockable(self):
            raise ParameterError("dtype 'float32' runs the blocked evaluation only, which does not cover coupled "
                                 "(exact recurrent OSTL) traces or gated layers; use float64")

    # ------------------------------------------------------------------------------------
    def _learning_signals(self, delta, target, mask, slopes, params):
        return learning_signals(self.rule.feedback, self.network, params, self.feedback, delta, target, mask, slopes)

    def _apply_masks(self, grads):
        for name, mask in self.masks.items():
            if name in grads:
                grads[name] = grads[name] * mask
        return grads

    def reset(self):
        """Zero every trace (the start of a sequence)."""
        for tr in self.traces:
            tr.reset()
        self.readout_traces.reset()

    def run(self, x, target, mask=None, record=(), feedback=None, params_at=None):
        """Process one sequence from the zero state. Returns a :class:`SequenceResult`.

        Hardware in the loop (:mod:`ostl.hardware.pcm.loop`): ``feedback`` replaces the
        fixed feedback matrices for this sequence (e.g. as read from a PCM array);
        ``params_at(t)`` returns ``(params, feedback)`` to use at step ``t`` (weights read
        afresh at every step; ``feedback`` None: the learner's), which forces the
        step-by-step evaluation. Deferred mode only."""
        if feedback is not None or params_at is not None:
            if self.mode != "deferred":
                raise ParameterError("weights read from hardware need mode 'deferred'")
            saved = self.feedback
            if feedback is not None:
                self.feedback = self.rule.check_feedback(self.network, feedback)
            try:
                return self._run(x, target, mask, record, params_at)
            finally:
                self.feedback = saved
        return self._run(x, target, mask, record, None)

    def _run(self, x, target, mask, record, params_at):
        net = self.network
        x, target, *rest = net.check_inputs(x, target, mask)
        mask = rest[0] if rest else np.ones(x.shape[0])
        record = set(record)
        bad = sorted(record - set(RECORDABLE))
        if bad:
            raise ParameterError(f"record must be a subset of {', '.join(RECORDABLE)}, got {', '.join(bad)}")
        rec = {key: [] for key in record}
        if not record and params_at is None and self.block > 1 and blockable(self):
            loss, total, outputs, step_losses, regularisation_loss = run_blocked(self, x, target, mask, self.block)
            return SequenceResult(loss=loss, outputs=outputs, grads=total, step_losses=step_losses,
                                  regularisation_loss=regularisation_loss)
        self.reset()
        if self.dtype is not np.float64:
            raise ParameterError("dtype 'float32' runs the blocked evaluation only: not with recordings, weights read "
                                 "at every step, coupled (exact recurrent OSTL) traces or gated layers")
        params = self.params
        carry = net.initial_carry(NUMPY)
        total = {name: np.zeros_like(params[name]) for name in self.trainable}
        fixed_feedback = self.feedback
        T = x.shape[0]
        outputs = np.zeros((T, net.n_out))
        step_losses = np.zeros(T)
        regularised = [index for index, tr in enumerate(self.traces) if isinstance(tr, StatefulTraces)] \
            if self.regularisation is not None else []
        output_sums = {index: np.zeros(net.layers[index].size) for index in regularised}
        trace_sums = {index: {name: np.zeros_like(e) for name, e in self.traces[index].e.items()}
                      for index in regularised}
        for t in range(T):
            if params_at is not None:   # the weights (and feedback) read at this step
                params, step_feedback = params_at(t)
                self.feedback = fixed_feedback if step_feedback is None else step_feedback
            # the forward step (Network.step), then each layer's local derivatives and
            # eligibility vectors (they do not feed back into the forward pass)
            carry, steps, a = net.step(NUMPY, params, carry, x[t])
            inp = x[t]
            slopes = []
            for index, (layer, step) in enumerate(zip(net.layers, steps)):
                if layer.kind == "gated":
                    self.traces[index].update(params, inp, (step.state_prev, step.y_prev))
                    slopes.append(self.traces[index])   # the learning-signal chain asks it (signal_below)
                elif layer.stateful:
                    deriv = layer.cell.derivatives(step.state_prev, step.y_prev, step.current, step.state, step.y,
                                                   step.neuron_param)
                    self.traces[index].update(deriv, inp, step.y_prev, params.get(f"{net.prefix(index)}.H"))
                    slopes.append(np.sum(deriv.output_gain * deriv.input_gain, axis=1))
                else:
                    slope = layer.activation.derivative(step.current)
                    self.traces[index].update(slope, inp)
                    slopes.append(slope)
                inp = step.y
            for index in regularised:   # the regulariser's sum_t y^t and sum_t e^t (unfiltered)
                output_sums[index] += steps[index].y
                for name, summed in trace_sums[index].items():
                    summed += self.traces[index].e[name]
            out = net.readout.output(NUMPY, a)
            outputs[t] = out
            step_losses[t] = mask[t] * net.readout.loss_value(NUMPY, a, target[t])
            delta = mask[t] * (out - target[t])
            self.readout_traces.update(inp)
            signals = self._learning_signals(delta, target[t], mask[t], slopes, params)
            grads = self.readout_traces.gradient(delta)
            for index, tr in enumerate(self.traces):
                grads.update(tr.gradient(signals[index]))
            grads = self._apply_masks(grads)
            for name, g in grads.items():
                total[name] += g
            if self.mode == "online":
                self.optimizer.step(params, grads)
            if record:  # after the update: 'weights' are those at the end of step t
                self._record(rec, carry[0], out, a, signals, grads)
        regularisation_loss = 0.0
        for index in regularised:   # r_j sum_t e^t (ostl.regularisation); deferred mode only
            value, signal = self.regularisation.penalty(output_sums[index], T)
            regularisation_loss += value
            extra = self.traces[index].sum_gradient(signal, trace_sums[index])
            for name, g in self._apply_masks(extra).items():
                total[name] += g
        records = {k: _stack(v) for k, v in rec.items()}
        return SequenceResult(loss=float(step_losses.sum()), outputs=outputs, grads=total,
                              records=records, step_losses=step_losses, regularisation_loss=regularisation_loss)

    def _record(self, rec, carries, out, a, signals, grads):
        if "state" in rec:
            rec["state"].append([np.stack(c[0], axis=-1).copy() if c is not None else None for c in carries])
        if "output" in rec:
            rec["output"].append([None if c is None else c[1].copy() for c in carries])
        if "readout" in rec:
            rec["readout"].append(a.copy())
        if "learning_signal" in rec:
            rec["learning_signal"].append([s.copy() for s in signals])
        if "eligibility_vector" in rec:
            rec["eligibility_vector"].append(
                {k: v.copy() for tr in self.traces if isinstance(tr, StatefulTraces) for k, v in tr.eps.items()}
                | {k: v.copy() for tr in self.traces if isinstance(tr, GatedTraces) for k, v in tr.T.items()})
        if "eligibility_trace" in rec:
            rec["eligibility_trace"].append(
                {k: tr.effective(k).copy() for tr in self.traces if isinstance(tr, StatefulTraces) for k in tr.e}
                | {k: v.copy() for tr in self.traces if isinstance(tr, GatedTraces) for k, v in tr.e.items()})
        if "weights" in rec:
            rec["weights"].append({k: v.copy() for k, v in self.params.items()})
        if "gradient" in rec:
            rec["gradient"].append({k: v.copy() for k, v in grads.items()})


def _stack(items):
    """Turn a per-step list into arrays: lists of per-layer arrays -> list of (T, ...)
    arrays, dicts -> dict of (T, ...) arrays, arrays -> (T, ...)."""
    if not items:
        return items
    first = items[0]
    if isinstance(first, dict):
        return {k: np.array([it[k] for it in items]) for k in first}
    if isinstance(first, list):
        return [None if first[i] is None else np.array([it[i] for it in items]) for i in range(len(first))]
    return np.array(items)
