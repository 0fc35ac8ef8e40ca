r"""Deferred-mode evaluation in blocks of ``K`` steps: the same recursions as
:mod:`ostl.online`, re-associated so that the work on the ``n x m`` eligibility
vectors becomes two matrix products per block instead of several passes per step.

Why it is exact. In deferred mode the weights do not change during a sequence, so
the order of evaluation inside a block is free. Every per-synapse quantity of a
diagonal rule obeys a linear recursion driven by the presynaptic vector::

    Z^t = M^t Z^{t-1} + V^t (x) x^t          Z: (n, D, m), M^t: (n, D, D), V^t: (n, D)
    G  += sum_t  W^t . Z^t                   W^t: (n, D), G: (n, m)

(eligibility vectors: ``Z = eps``, ``M = J = A + p (x) q^{t-1}``, ``V = c``,
``W = L q``; with a leaky readout the filtered trace ``ebar`` joins ``Z`` as one more
component). Over a block ``t0 < t <= t1`` with ``P(s, t) = M^t ... M^{s+1}``::

    G    += B(t0) Z^{t0}  +  sum_s (B(s) V^s) x^s         B(s) = sum_{t>=s} W^t P(s, t)
    Z^t1  = P(t0, t1) Z^{t0}  +  sum_s P(s, t1) V^s x^s

``B`` and ``P`` are per-neuron ``D x D`` products found by one backward sweep over the
block (no division, no under/overflow for moderate ``K``); the two sums over ``s``
are ``(n D x K) @ (K x m)`` matrix products. Memory stays ``O(n m + K (n + m))``.
Results agree with the step-by-step engine to rounding (tested to 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ops import NUMPY
from .signals import learning_signals

_ONE = (1.0,)   # lfilter's numerator: the recurrence has no input filter


class Scratch:
    """Reusable work arrays, one per purpose and shape (large temporaries cost page faults
    on every allocation). Each learner owns one (:attr:`ostl.online.OnlineLearner.scratch`):
    nothing is shared between learners or threads."""

    def __init__(self):
        self._buffers = {}

    def __call__(self, purpose, shape, dtype=np.float64):
        """A buffer of ``shape`` for ``purpose``, allocated on first use and reused after."""
        key = (purpose, shape, np.dtype(dtype).char)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, dtype=dtype)
        return buf


def _add_product(out, left_t, right, scratch):
    """``out += left_t.T @ right`` (NumPy's BLAS into a reused buffer)."""
    tmp = scratch("product", out.shape, out.dtype)
    np.matmul(left_t.T, right, out=tmp)
    out += tmp


def _add_row_scaled(out, scale, z, scratch):
    """``out += scale[:, None] * z`` without allocating."""
    tmp = scratch("row_scaled", out.shape, out.dtype)
    np.multiply(z, scale[:, None], out=tmp)
    out += tmp


class BlockCoefficients:
    """Per-neuron products of one block for ``M`` (K, n, D, D) and ``W`` (K, n, D).

    * ``B[k] = sum_{t>=k} W^t P(k, t)`` -- what an input entering at step ``k`` adds
      to ``G`` by the end of the block (row vectors, (K, n, D));
    * ``P[k] = P(k, K-1)`` -- how it has been carried to the end of the block (K, n, D, D);
    * ``carry_G = B[0] M[0]`` and ``carry_Z = P[0] M[0]`` -- the same for the state
      from before the block.

    ``engine="compiled"``: the same sweep in one C call (:mod:`ostl.compiled.sweep`).
    """

    def __init__(self, M, W, engine="numpy"):
        K, n, D = W.shape
        self.D = D
        self.engine = engine
        if engine == "compiled":
            from .compiled.sweep import block_sweep

            self.B, self.P, self.carry_G, self.carry_Z = block_sweep(M, W)
        elif D == 1:
            mm, w = M[:, :, 0, 0], W[:, :, 0]
            B = np.empty((K, n), dtype=W.dtype)
            B[-1] = w[-1]
            for k in range(K - 2, -1, -1):
                np.multiply(B[k + 1], mm[k + 1], out=B[k])
                B[k] += w[k]
            P = np.ones((K, n), dtype=W.dtype)  # P[k] = mm[k+1] * ... * mm[K-1]: a reversed cumulative product
            if K > 1:
                P[:-1] = np.cumprod(mm[:0:-1], axis=0)[::-1]
            self.B, self.P = B[..., None], P[..., None, None]
            self.carry_G = (B[0] * mm[0])[:, None]
            self.carry_Z = (P[0] * mm[0])[:, None, None]
        else:
            B = np.empty((K, n, D), dtype=W.dtype)
            P = np.empty((K, n, D, D), dtype=W.dtype)
            B[-1] = W[-1]
            P[-1] = np.eye(D)
            for k in range(K - 2, -1, -1):
                B[k] = W[k] + np.einsum("na,nab->nb", B[k + 1], M[k + 1])
                np.matmul(P[k + 1], M[k + 1], out=P[k])   # per-neuron D x D products (a third of einsum's time)
            self.B, self.P = B, P
            self.carry_G = np.einsum("na,nab->nb", B[0], M[0])
            self.carry_Z = np.matmul(P[0], M[0])

    def add_gradient(self, Z, V, X, G):
        """Add the block's ``sum_t W^t . Z^t`` to ``G`` (n, m) without advancing ``Z``: a second
        read-out of the traces that :meth:`accumulate` advances (with coefficients of another
        ``W`` and the same ``M``; the firing-rate regulariser's ``sum_t e^t``). Call it before
        :meth:`accumulate` of the same block."""
        K, n, D = V.shape
        m = X.shape[1]
        if D == 1:
            G += self.carry_G[:, 0][:, None] * Z.reshape(n, m)
            G += (self.B[..., 0] * V[:, :, 0]).T @ np.ascontiguousarray(X)
            return
        G += np.einsum("na,nam->nm", self.carry_G, Z)
        G += np.einsum("kna,kna->kn", self.B, V).T @ np.ascontiguousarray(X)

    def accumulate(self, Z, V, X, G, scratch=None):
        """Advance ``Z`` (n, D, m) in place over the block driven by ``V`` (K, n, D) and
        ``X`` (K, m), and add the block's ``sum_t W^t . Z^t`` to ``G`` (n, m); ``scratch``:
        the caller's work arrays (:class:`Scratch`)."""
        scratch = scratch if scratch is not None else Scratch()
        K, n, D = V.shape
        m = X.shape[1]
        X = np.ascontiguousarray(X)
        if D == 1:
            v = V[:, :, 0]
            z = Z.reshape(n, m)
            left = scratch("left", (K, 2 * n), V.dtype)
            np.multiply(self.B[..., 0], v, out=left[:, :n])
            np.multiply(self.P[..., 0, 0], v, out=left[:, n:])
            both = scratch("both", (2 * n, m), V.dtype)
            np.matmul(left.T, X, out=both)  # the block's inputs: [G part; Z part]
            _add_row_scaled(G, self.carry_G[:, 0], z, scratch)  # the carried state's share of G
            z *= self.carry_Z[:, 0]
            G += both[:n]
            z += both[n:]
            return
        G += np.einsum("na,nam->nm", self.carry_G, Z)
        if self.engine == "compiled":
            from .compiled.sweep import block_project

            BV, PV = block_project(self.B, self.P, V)
        else:
            BV, PV = np.einsum("kna,kna->kn", self.B, V), np.einsum("knab,knb->kna", self.P, V)
        G += BV.T @ X
        Z[...] = np.matmul(self.carry_Z, Z)
        Z += (PV.reshape(K, n * D).T @ X).reshape(n, D, m)


def block_accumulate(Z0, M, V, W, X, G, scratch=None, engine="numpy"):
    """One block of ``Z^t = M^t Z^{t-1} + V^t (x) x^t``, ``G += sum_t W^t . Z^t``:
    ``Z0`` (n, D, m) is advanced in place and ``G`` (n, m) accumulated."""
    BlockCoefficients(M, W, engine).accumulate(Z0, V, X, G, scratch or Scratch())


def _filter(values, leak, carry, engine="numpy"):
    """``out^k = leak out^{k-1} + values^k`` along axis 0 from ``carry``; returns
    (out, new carry). From 8 steps on SciPy's ``lfilter`` evaluates the recurrence in C with
    the same operations (``values^k + leak out^{k-1}``; found bit for bit equal to the loop);
    below, its call costs more than the loop (n = 64: 8.9 against 1.4 us for one step).
    ``engine="compiled"``: the loop in C (:func:`ostl.compiled.sweep.leaky_filter`), the same
    operations without lfilter's call overhead."""
    if engine == "compiled" and values.shape[0] > 0:
        from .compiled.sweep import leaky_filter

        return leaky_filter(values, leak, carry)
    if values.shape[0] >= 8 and values.dtype == np.float64:   # (lfilter computes float32 in float64)
        from scipy.signal import lfilter  # here: importing scipy.signal costs ~1 s, every `import ostl` paid it

        out, _ = lfilter(_ONE, (1.0, -leak), values, axis=0, zi=(leak * np.asarray(carry))[None])
        return out, out[-1].copy()
    out = np.empty_like(values)
    acc = carry
    for k in range(values.shape[0]):
        acc = leak * acc + values[k]
        out[k] = acc
    return out, acc


class _StatefulBlock:
    """Block state of one stateful layer (diagonal traces only).

    Synaptic parameters (``W`` driven by the layer input, ``H`` by ``y^{t-1}``) and the
    neuron parameter (driven by a constant 1) follow the same recursion with the same
    ``M`` and ``W`` -- only ``V`` differs -- so the block coefficients are shared."""

    def __init__(self, traces, leak, engine="numpy", dtype=np.float64, trace_sums=False):
        self.tr = traces
        self.leak = leak
        self.engine = engine
        layer = traces.layer
        n, d = layer.size, layer.cell.state_size
        D = d + (1 if leak else 0)
        self.Z = {name: np.zeros((n, D, m), dtype=dtype) for name, m in traces.synaptic.items()}
        if traces.neuron_name:
            self.Z[traces.neuron_name] = np.zeros((n, D, 1), dtype=dtype)
        self.q_prev = np.zeros((n, d), dtype=dtype)
        self.dy_dparam_prev = np.zeros(n, dtype=dtype)
        #: ``sum_t e^t`` (the unfiltered traces) per parameter, for the firing-rate regulariser
        #: (:mod:`ostl.regularisation`); None without it
        self.trace_sums = None
        if trace_sums:
            self.trace_sums = {name: np.zeros((n, m), dtype=dtype) for name, m in traces.synaptic.items()}
            if traces.neuron_name:
                self.trace_sums[traces.neuron_name] = np.zeros(n, dtype=dtype)

    def accumulate(self, deriv, X, Yprev, L, grads, scratch):
        tr = self.tr
        d = tr.d
        K, n = L.shape
        if not self.Z:
            return
        own = deriv.adaptation_path + deriv.reset_path if tr.keep_reset_path else deriv.adaptation_path
        q, c = deriv.output_gain, deriv.input_gain
        q_prev = np.concatenate([self.q_prev[None], q[:-1]], axis=0)
        J = deriv.state_decay + own[..., :, None] * q_prev[..., None, :]
        if self.leak:
            M = np.zeros((K, n, d + 1, d + 1), dtype=L.dtype)
            M[..., :d, :d] = J
            M[..., d, :d] = np.einsum("kna,knab->knb", q, J)
            M[..., d, d] = self.leak
            W = np.concatenate([np.zeros((K, n, d), dtype=L.dtype), L[..., None]], axis=-1)
        else:
            M, W = J, L[..., None] * q
        coefficients = BlockCoefficients(M, W, self.engine)
        unfiltered = None   # the read-out of e^t = q.eps^t (+ the direct term) for the trace sums
        if self.trace_sums is not None:
            W_e = np.concatenate([q, np.zeros((K, n, 1), dtype=L.dtype)], axis=-1) if self.leak else q
            unfiltered = BlockCoefficients(M, W_e, self.engine)
        if tr.synaptic:
            V = np.concatenate([c, np.sum(q * c, axis=-1, keepdims=True)], axis=-1) if self.leak else c
            for name in tr.synaptic:
                pre = X if name.endswith(".W") else Yprev
                if unfiltered is not None:
                    unfiltered.add_gradient(self.Z[name], V, pre, self.trace_sums[name])
                coefficients.accumulate(self.Z[name], V, pre, grads[name], scratch)
        if tr.neuron_name:
            # eps^t = J eps^{t-1} + own dy/db^{t-1} + ds/db^t ;  e^t = q.eps^t + dy/db^t
            dy_prev = np.concatenate([self.dy_dparam_prev[None], deriv.dy_dneuron_param[:-1]], axis=0)
            V = own * dy_prev[..., None] + deriv.ds_dneuron_param
            direct = deriv.dy_dneuron_param
            if self.leak:
                V = np.concatenate([V, (np.sum(q * V, axis=-1) + direct)[..., None]], axis=-1)
                g = np.zeros((n, 1), dtype=L.dtype)
            else:
                g = np.sum(L * direct, axis=0)[:, None]  # the direct term of e is not a state
            ones = np.ones((K, 1), dtype=L.dtype)
            if unfiltered is not None:
                summed = np.zeros((n, 1), dtype=L.dtype)
                unfiltered.add_gradient(self.Z[tr.neuron_name], V, ones, summed)
                self.trace_sums[tr.neuron_name] += summed[:, 0] + np.sum(direct, axis=0)
            coefficients.accumulate(self.Z[tr.neuron_name], V, ones, g, scratch)
            grads[tr.neuron_name] += g[:, 0]
            self.dy_dparam_prev = deriv.dy_dneuron_param[-1]
        self.q_prev = q[-1]


class _DenseBlock:
    def __init__(self, traces, leak, n, m, engine="numpy", dtype=np.float64):
        self.tr = traces
        self.leak = leak
        self.engine = engine
        self.Z = np.zeros((n, 1, m), dtype=dtype) if leak else None
        self.b_bar = np.zeros(n, dtype=dtype)

    def accumulate(self, slope, X, L, grads, scratch):
        tr = self.tr
        if tr.w_name:
            if self.leak:
                K, n = L.shape
                M = np.full((K, n, 1, 1), self.leak, dtype=L.dtype)
                block_accumulate(self.Z, M, slope[..., None], L[..., None], X, grads[tr.w_name], scratch,
                                 self.engine)
            else:
                _add_product(grads[tr.w_name], np.ascontiguousarray(L * slope), np.ascontiguousarray(X), scratch)
        if tr.b_name:
            if self.leak:
                filtered, self.b_bar = _filter(slope, self.leak, self.b_bar, self.engine)
                grads[tr.b_name] += np.sum(L * filtered, axis=0)
            else:
                grads[tr.b_name] += np.sum(L * slope, axis=0)


def blockable(learner):
    """The blocked path covers deferred mode with diagonal (per-synapse) traces."""
    from .traces import StatefulTraces

    return learner.mode == "deferred" and not any(
        (isinstance(tr, StatefulTraces) and tr.coupled) or layer.kind == "gated"
        for tr, layer in zip(learner.traces, learner.network.layers))


@dataclass
class BlockForward:
    """Everything one block of the forward pass produced (arrays over the block's K steps)."""

    layer_inputs: list  # per layer (K, m_l)
    layer_outputs: list  # per layer (K, n_l)
    layer_states: list  # per stateful layer (K, n_l, d), None for dense layers
    prev_outputs: list  # per stateful layer y^{t-1} (K, n_l)
    derivatives: list  # per stateful layer LocalDerivatives with leading K axis (if asked)
    slopes: list  # per layer dy/dI (K, n_l) (if asked)
    potentials: np.ndarray  # readout potential a^t (K, n_out)
    outputs: np.ndarray  # readout output (K, n_out)


def forward_block(network, params, carry, x, derivatives=False, engine="numpy"):
    """Advance ``network`` over the steps of ``x`` (K, n_in) from ``carry``.

    The same step as :meth:`Network.step` (each layer's :meth:`~ostl.network.Layer.advance`
    once per time step); only the feed-forward inputs ``W x^t`` of the block are formed in
    one matrix product. ``engine="compiled"``: a stateful layer's steps in one C call
    (:mod:`ostl.compiled.layer`, traced from the same cell). Returns ``(carry, BlockForward)``."""
    layer_carries, a_prev = carry
    layer_carries = list(layer_carries)
    K = x.shape[0]
    fw = BlockForward([], [], [], [], [], [], None, None)
    inp = x
    for index, layer in enumerate(network.layers):
        prefix = network.prefix(index)
        fw.layer_inputs.append(inp)
        if layer.kind == "gated":   # forward only (a gated layer's learning runs step by step)
            carry_l, Y, S = layer_carries[index], np.empty((K, layer.size), dtype=x.dtype), []
            for k in range(K):
                carry_l, step = layer.step(NUMPY, params, prefix, carry_l, inp[k])
                Y[k] = step.y
                S.append(np.stack(step.state, axis=-1))
            layer_carries[index] = carry_l
            fw.layer_states.append(np.array(S))
            fw.prev_outputs.append(None)
            inp = Y
            fw.layer_outputs.append(inp)
            continue
        feed = inp @ params[f"{prefix}.W"].T
        if layer.stateful:
            H, nparam = layer.step_inputs(params, prefix)
            d = layer.cell.state_size
            S_prev = np.empty((d, K, layer.size), dtype=x.dtype)
            S = np.empty((d, K, layer.size), dtype=x.dtype)
            Yp = np.empty((K, layer.size), dtype=x.dtype)
            Y = np.empty((K, layer.size), dtype=x.dtype)
            carry_l = layer_carries[index]
            if engine == "compiled":
                from .compiled.layer import layer_kernel

                carry_l, S_prev, S, Yp, Y = layer_kernel(layer.cell, x.dtype).run(carry_l, feed, H, nparam)
            else:
                for k in range(K):
                    carry_l, step = layer.advance(NUMPY, carry_l, feed[k], H, nparam)
                    for j in range(d):
                        S_prev[j, k] = step.state_prev[j]
                        S[j, k] = step.state[j]
                    Yp[k] = step.y_prev
                    Y[k] = step.y
            layer_carries[index] = carry_l
            fw.layer_states.append(np.moveaxis(S, 0, -1))
            fw.prev_outputs.append(Yp)
            if derivatives:
                currents = feed + Yp @ H.T if layer.recurrent else feed
                deriv = layer.cell.derivatives(tuple(S_prev), Yp, currents, tuple(S), Y, nparam)
                fw.derivatives.append(deriv)
                fw.slopes.append(np.sum(deriv.output_gain * deriv.input_gain, axis=-1))
            inp = Y
        else:
            _, step = layer.advance(NUMPY, None, feed, *layer.step_inputs(params, prefix))   # K steps at once
            fw.layer_states.append(None)
            fw.prev_outputs.append(None)
            if derivatives:
                fw.derivatives.append(None)
                fw.slopes.append(layer.activation.derivative(step.current))
            inp = step.y
        fw.layer_outputs.append(inp)
    readout = network.readout
    feed = inp @ params["readout.W"].T
    if readout.bias:
        feed = feed + params["readout.b"]
    if readout.leak:
        a, a_prev = _filter(feed, readout.leak, a_prev, engine)
    else:
        a = feed
        a_prev = a[-1]
    fw.potentials = a
    fw.outputs = readout.output(NUMPY, a)
    return (layer_carries, a_prev), fw


def run_blocked(learner, x, target, mask, block):
    """Deferred-mode sequence on ``learner``'s configuration, in blocks of ``block``
    steps. Returns ``(loss, grads, outputs, step_losses, regularisation_loss)``."""
    from .precision import cast

    dtype = learner.dtype
    net = learner.network
    params, feedback = cast(learner.params, dtype), cast(learner.feedback, dtype)
    x, target, mask = cast((x, target, mask), dtype)
    readout = net.readout
    leak = readout.leak
    T = x.shape[0]
    grads = {name: np.zeros_like(params[name]) for name in learner.trainable}
    carry = cast(net.initial_carry(NUMPY), dtype)
    regulariser = learner.regularisation
    blocks = []
    output_sums = {}   # the regulariser's sum_t y^t per stateful layer
    for index, (layer, tr) in enumerate(zip(net.layers, learner.traces)):
        if layer.stateful:
            blocks.append(_StatefulBlock(tr, leak, learner.engine, dtype, trace_sums=regulariser is not None))
            if regulariser is not None:
                output_sums[index] = np.zeros(layer.size)
        else:
            blocks.append(_DenseBlock(tr, leak, layer.size, net.layer_sizes()[index], learner.engine, dtype))
    ybar = np.zeros(net.layers[-1].size, dtype=dtype)
    ones_bar = 0.0
    outputs = np.zeros((T, net.n_out))
    step_losses = np.zeros(T)
    for t0 in range(0, T, block):
        t1 = min(T, t0 + block)
        K = t1 - t0
        carry, fw = forward_block(net, params, carry, x[t0:t1], derivatives=True, engine=learner.engine)
        out = fw.outputs
        outputs[t0:t1] = out
        m_blk = mask[t0:t1]
        step_losses[t0:t1] = m_blk * readout.loss_value(NUMPY, fw.potentials, target[t0:t1])
        delta = m_blk[:, None] * (out - target[t0:t1])
        signals = learning_signals(learner.rule.feedback, net, params, feedback, delta, target[t0:t1],
                                   m_blk, fw.slopes)
        # readout (exact for every rule): dE/dW_out = sum_t delta^t ybar^t
        top = fw.layer_outputs[-1]
        if leak:
            Ybar, ybar = _filter(top, leak, ybar, learner.engine)
            powers = leak ** np.arange(1, K + 1)
            ones = (powers * ones_bar + (1 - powers) / (1 - leak)).astype(dtype, copy=False)
            ones_bar = ones[-1]
        else:
            Ybar, ones = top, np.ones(K, dtype=dtype)
        if "readout.W" in grads:
            grads["readout.W"] += delta.T @ Ybar
        if "readout.b" in grads:
            grads["readout.b"] += delta.T @ ones
        for index, (layer, blk) in enumerate(zip(net.layers, blocks)):
            if layer.stateful:
                blk.accumulate(fw.derivatives[index], fw.layer_inputs[index], fw.prev_outputs[index],
                               signals[index], grads, learner.scratch)
            else:
                blk.accumulate(fw.slopes[index], fw.layer_inputs[index], signals[index], grads, learner.scratch)
        for index, sums in output_sums.items():
            sums += np.sum(fw.layer_outputs[index], axis=0)
    regularisation_loss = 0.0
    for index, sums in output_sums.items():   # r_j sum_t e^t (ostl.regularisation)
        value, signal = regulariser.penalty(sums, T)
        regularisation_loss += value
        for name, g in blocks[index].tr.sum_gradient(signal.astype(dtype), blocks[index].trace_sums).items():
            grads[name] += g
    for name, m in learner.masks.items():
        if name in grads:
            grads[name] *= m
    return float(step_losses.sum()), cast(grads, np.float64), outputs, step_losses, regularisation_loss
