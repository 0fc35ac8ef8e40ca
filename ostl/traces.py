r"""Eligibility vectors and eligibility traces of one layer, updated forward in time.

For a stateful layer the recursion is OSTL S1 eq. 20-21 written with the previous
eligibility *trace* (a form that covers every trace kind at once)::

    eps^t = A^t eps^{t-1}                                   (own state decay)
          + p^t (x) e^{t-1}                                 (own-spike paths)
          + c^t (x) (H e^{t-1})                             (recurrence; 'exact' only)
          + ds^t/dtheta                                     (immediate term)
    e^t   = q^t . eps^t + dy^t/dtheta

with ``A = state_decay``, ``c = input_gain``, ``q = output_gain`` and
``p = reset_path + adaptation_path`` (``exact`` and ``no_h`` traces) or
``p = adaptation_path`` (``eprop``) -- see :class:`ostl.cells.LocalDerivatives`.
Because ``e^{t-1} = q^{t-1}.eps^{t-1} + dy^{t-1}/dtheta``, the first two lines equal
OSTL's ``(ds^t/ds^{t-1}) eps^{t-1} + (ds^t/dy^{t-1}) (dy^{t-1}/dtheta)``.

Shapes, for a parameter with presynaptic vector of size ``m`` (``W``: the layer's
input, ``H``: the layer's own previous output) and a layer of ``n`` cells of state
size ``d``:

* *coupled* (``exact`` traces in a recurrent layer): ``eps`` is ``(n, d, n, m)``,
  ``e`` is ``(n, n, m)`` -- every neuron's state depends on every weight through
  ``H``; ``O(n^4)`` work per step (OSTL S2).
* *diagonal* (everything else): ``eps`` is ``(n, d, m)``, ``e`` is ``(n, m)`` -- the
  eligibility vector of synapse ``(j, i)`` lives with that synapse (OSTL Table 1:
  ``n*m`` values for a feed-forward layer; e-prop's per-synapse traces).

With a leaky readout (``leak = kappa > 0``) the traces are additionally low-pass
filtered, ``ebar^t = kappa ebar^{t-1} + e^t`` (e-prop eq. 45), which turns the
instantaneous learning signal into the exact gradient through the readout's memory.
"""

from __future__ import annotations

import numpy as np

from .rules import keep_reset_path


def _apply_decay(decay, eps):
    """``sum_b decay[o, a, b] eps[o, b, ...]`` (cheap for d = 1)."""
    if decay.shape[1] == 1:
        return decay.reshape(decay.shape[0], 1, *([1] * (eps.ndim - 2))) * eps
    return np.einsum("oab,ob...->oa...", decay, eps)


def _expand(vector_nd, ndim):
    """(n, d) -> (n, d, 1, ...) for broadcasting against an eps of ``ndim`` dims."""
    return vector_nd.reshape(vector_nd.shape + (1,) * (ndim - 2))


class StatefulTraces:
    """Traces of the trainable parameters of one stateful layer."""

    def __init__(self, layer, prefix, n_pre, trace_kind, leak, trainable, engine="numpy"):
        self.layer = layer
        self.prefix = prefix
        self.coupled = trace_kind == "exact" and layer.recurrent
        #: ``'compiled'``: the synaptic diagonal traces advance in one C call per step and
        #: parameter (:mod:`ostl.compiled.traces`); the coupled ones stay NumPy
        self.engine = engine
        self.keep_reset_path = keep_reset_path(trace_kind)
        self.leak = leak
        n, d = layer.size, layer.cell.state_size
        self.n, self.d = n, d
        self.synaptic = {}  # name -> presynaptic size
        if f"{prefix}.W" in trainable:
            self.synaptic[f"{prefix}.W"] = n_pre
        if layer.recurrent and f"{prefix}.H" in trainable:
            self.synaptic[f"{prefix}.H"] = n
        neuron_name = f"{prefix}.{layer.cell.neuron_param}" if layer.cell.neuron_param else None
        self.neuron_name = neuron_name if neuron_name in trainable else None
        # allocated by reset(), which only the step-by-step evaluation calls: the blocked
        # evaluation (ostl.blocked) keeps its own block state, and at n = 256 these arrays
        # were 2.5 MiB that it never touched
        self.eps, self.e, self.ebar = {}, {}, {}

    def reset(self):
        """Zero the eligibility vectors and traces (the start of a sequence; allocates them
        at the first call)."""
        n, d = self.n, self.d
        self.eps, self.e, self.ebar = {}, {}, {}
        for name, m in self.synaptic.items():
            shape = (n, n, m) if self.coupled else (n, m)
            self.eps[name] = np.zeros((n, d) + shape[1:])
            self.e[name] = np.zeros(shape)
        if self.neuron_name:
            shape = (n, n) if self.coupled else (n,)
            self.eps[self.neuron_name] = np.zeros((n, d) + shape[1:])
            self.e[self.neuron_name] = np.zeros(shape)
        if self.leak:
            self.ebar = {k: np.zeros_like(v) for k, v in self.e.items()}

    @property
    def names(self):
        """The parameter names the traces are kept for."""
        return list(self.synaptic) + ([self.neuron_name] if self.neuron_name else [])

    def update(self, deriv, x, y_prev, H):
        """Advance all traces by one step. ``x``: the layer's input at ``t``;
        ``y_prev``: its own output at ``t-1``; ``H``: recurrent weights used at ``t``."""
        own_path = deriv.adaptation_path + deriv.reset_path if self.keep_reset_path else deriv.adaptation_path
        c, q = deriv.input_gain, deriv.output_gain
        idx = np.arange(self.n)
        for name, eps in self.eps.items():
            if self.engine == "compiled" and not self.coupled and name != self.neuron_name:
                from .compiled.traces import trace_step

                pre = x if name.endswith(".W") else y_prev
                trace_step(deriv.state_decay, own_path, c, q, pre, self.leak, eps, self.e[name],
                           self.ebar[name] if self.leak else None)
                continue
            e_prev = self.e[name]
            new = _apply_decay(deriv.state_decay, eps)
            new += _expand(own_path, new.ndim) * e_prev[:, None]
            if self.coupled:
                He = np.tensordot(H, e_prev, axes=(1, 0))
                new += _expand(c, new.ndim) * He[:, None]
            if name == self.neuron_name:
                if self.coupled:
                    new[idx, :, idx] += deriv.ds_dneuron_param
                else:
                    new += deriv.ds_dneuron_param
            else:
                pre = x if name.endswith(".W") else y_prev
                if self.coupled:
                    new[idx, :, idx, :] += c[:, :, None] * pre[None, None, :]
                else:
                    new += c[:, :, None] * pre[None, None, :]
            e = np.einsum("oa,oa...->o...", q, new) if self.d > 1 else q.reshape(
                (self.n,) + (1,) * (new.ndim - 2)) * new[:, 0]
            if name == self.neuron_name:
                if self.coupled:
                    e[idx, idx] += deriv.dy_dneuron_param
                else:
                    e += deriv.dy_dneuron_param
            self.eps[name] = new
            self.e[name] = e
            if self.leak:
                self.ebar[name] = self.leak * self.ebar[name] + e

    def effective(self, name):
        """The trace that multiplies the learning signal (filtered with a leaky readout)."""
        return self.ebar[name] if self.leak else self.e[name]

    def gradient(self, learning_signal):
        """``L^t . e^t`` for every trainable parameter of the layer."""
        return self.sum_gradient(learning_signal, {name: self.effective(name) for name in self.e})

    def sum_gradient(self, learning_signal, traces):
        """``L . e`` for traces shaped like ``e`` (one step's, or a sum over steps), per parameter."""
        out = {}
        for name, e in traces.items():
            if self.coupled:
                out[name] = np.tensordot(learning_signal, e, axes=(0, 0))
            elif e.ndim == 2:
                out[name] = learning_signal[:, None] * e
            else:
                out[name] = learning_signal * e
        return out

    def eligibility_vectors(self, name):
        """The eligibility vectors of parameter ``name``."""
        return self.eps[name]


class DenseTraces:
    """Stateless layer: ``e^t = dy^t/dtheta`` at the same step (filtered if leaky readout)."""

    def __init__(self, layer, prefix, leak, trainable):
        self.layer = layer
        self.leak = leak
        self.w_name = f"{prefix}.W" if f"{prefix}.W" in trainable else None
        self.b_name = f"{prefix}.b" if layer.bias and f"{prefix}.b" in trainable else None
        self.reset()

    def reset(self):
        """Zero the traces."""
        self.e, self.ebar = {}, {}

    @property
    def names(self):
        """The parameter names the traces are kept for."""
        return [n for n in (self.w_name, self.b_name) if n]

    def update(self, slope, x):
        """One step's traces of a dense layer: ``slope x`` (and ``slope`` for the bias), filtered with the readout's
        leak."""
        if self.w_name:
            self.e[self.w_name] = slope[:, None] * x[None, :]
        if self.b_name:
            self.e[self.b_name] = slope.copy()
        if self.leak:
            for k, v in self.e.items():
                self.ebar[k] = self.leak * self.ebar.get(k, 0.0) + v

    def gradient(self, learning_signal):
        """The gradient contribution of one step: ``learning_signal`` times the traces."""
        src = self.ebar if self.leak else self.e
        return {k: (learning_signal[:, None] * v if v.ndim == 2 else learning_signal * v) for k, v in src.items()}


class ReadoutTraces:
    """Readout weights: ``dE/dW_out = sum_t delta^t ybar^t`` with ``ybar`` the
    readout-filtered presynaptic output (e-prop eq. 48); exact for every rule."""

    def __init__(self, readout, trainable):
        self.readout = readout
        self.w = "readout.W" in trainable
        self.b = readout.bias and "readout.b" in trainable
        self.reset()

    def reset(self):
        """Zero the filtered inputs."""
        self.ybar = None
        self.ones = 0.0

    def update(self, y):
        """Filter the readout's input ``y`` with its leak."""
        k = self.readout.leak
        self.ybar = y.copy() if self.ybar is None else k * self.ybar + y
        self.ones = k * self.ones + 1.0

    def gradient(self, delta):
        """The readout's exact gradient contribution of one step from its error ``delta``."""
        out = {}
        if self.w:
            out["readout.W"] = np.outer(delta, self.ybar)
        if self.b:
            out["readout.b"] = delta * self.ones
        return out
