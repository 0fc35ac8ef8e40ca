r"""Backpropagation through time by hand: the adjoint recursion through the local derivatives.

The trainer's ``--rule bptt`` baseline (:func:`ostl.bptt.bptt_sequence`). The gradient oracle
stays PyTorch's autodiff of the same equations (:func:`ostl.bptt.bptt_gradients`);
``tests/test_backprop.py`` holds this recursion equal to it on every cell, layer kind and
readout. Here the forward pass is the reference engine's (:func:`ostl.blocked.forward_block`,
one block over the whole sequence, with the local derivatives of every step) and the backward
pass a recursion over time per layer, from the readout down.

Readout, ``a^t = kappa a^{t-1} + W_out y^t + b``, loss ``sum_t m^t E(a^t)``: with
``delta^t = m^t dE/da^t`` (``out - target`` for MSE and BCE, ``softmax(a) sum(target) - target``
for CE), the potential's adjoint is ``abar^t = delta^t + kappa abar^{t+1}``, and
``dE/dW_out = sum_t abar^t (y^t)^T``, ``dE/dy^t = W_out^T abar^t`` (the layer's *direct* adjoint).

Stateful layer, ``I^t = W x^t + H y^{t-1}``, ``s^t = M(s^{t-1}, y^{t-1}, I^t)``, ``y^t = f(s^t)``,
with the local derivatives of :class:`~ostl.local_derivatives.LocalDerivatives` (``A`` state
decay, ``r`` the own-spike paths, reset and adaptation, ``c`` input gain, ``q`` output gain)::

    ybar^t = direct^t + H^T Ibar^{t+1} + r^{t+1} . sbar^{t+1}
    sbar^t = ybar^t q^t + (A^{t+1})^T sbar^{t+1}
    Ibar^t = c^t . sbar^t

``dE/dW = sum_t Ibar^t (x^t)^T``, ``dE/dH = sum_t Ibar^t (y^{t-1})^T``, the neuron parameter
``sum_t sbar^t . ds^t/dp + ybar^t dy^t/dp``, and the layer below receives ``W^T Ibar^t`` as its
direct adjoint. Dense layer ``y = phi(W x + b)``: ``Ibar = ybar phi'``, the same products.

Memory does not grow with the sequence: the forward pass keeps the network's state at the
start of every block of 128 steps, and the backward pass takes the blocks from the last one,
repeats a block's forward pass with its local derivatives, and hands the adjoints over to the
block before it (``H^T Ibar + r . sbar`` and ``A^T sbar`` of the block's first step; ``abar``
of the readout). The forward pass thus runs twice (checkpointing).

The recursion over a block runs in NumPy (``engine='numpy'``, the definition) or in one C call
per layer and block (``engine='compiled'``, :mod:`ostl.compiled.adjoint`). Gated (LSTM/GRU)
layers are left to autodiff.
"""

from __future__ import annotations

import numpy as np

from .blocked import _filter, forward_block
from .ops import NUMPY
from .precision import cast


def supports(network):
    """Whether the hand-written recursion covers ``network`` (every layer but the gated ones)."""
    return not any(layer.kind == "gated" for layer in network.layers)


def check_precision(network, dtype, regularisation=None):
    """float32 BPTT is this module's recursion: refused (one line) for networks it does not cover
    and with the firing-rate regulariser (whose BPTT gradient is PyTorch's autodiff)."""
    if dtype is not np.float64 and (not supports(network) or regularisation is not None):
        from .errors import ParameterError

        raise ParameterError("dtype 'float32' needs the hand-written BPTT, which does not cover "
                             + ("firing-rate regularisation (c_reg > 0)" if regularisation is not None
                                else "gated layers"))


def readout_delta(readout, outputs, target, mask):
    """``m^t dE^t/da^t``: the loss's derivative by the potential, per step."""
    if readout.activation == "softmax":
        delta = outputs * np.sum(target, axis=-1, keepdims=True) - target
    else:
        delta = outputs - target
    return mask[:, None] * delta


def adjoint_sweep_numpy(direct, deriv, H, into_y=None, into_s=None):
    """The adjoint recursion of a stateful layer over one block of steps, last to first.

    ``direct`` (K, n): the layer's direct adjoint; ``deriv``: its local derivatives over the
    block; ``H`` or None; ``into_y`` (n) and ``into_s`` (n, d): what the step after the block
    sends back, ``H^T Ibar + r . sbar`` and ``A^T sbar`` of that step (zeros after the last
    step). Returns ``(Ibar, sbar, ybar, into_y, into_s)`` with the same two quantities of the
    block's first step, for the block before it."""
    q, c, A = deriv.output_gain, deriv.input_gain, deriv.state_decay
    own = deriv.reset_path + deriv.adaptation_path
    K, n, d = q.shape
    into_y = np.zeros(n) if into_y is None else np.asarray(into_y, dtype=np.float64).copy()
    into_s = np.zeros((n, d)) if into_s is None else np.asarray(into_s, dtype=np.float64).copy()
    Ibar, sbar, ybar = np.empty((K, n)), np.empty((K, n, d)), np.empty((K, n))
    for k in range(K - 1, -1, -1):
        g = direct[k] + into_y
        s = g[:, None] * q[k] + into_s
        ybar[k], sbar[k] = g, s
        Ibar[k] = np.sum(s * c[k], axis=-1)
        into_y = np.sum(own[k] * s, axis=-1)
        if H is not None:
            into_y = Ibar[k] @ H + into_y
        into_s = np.einsum("na,nab->nb", s, A[k])
    return Ibar, sbar, ybar, into_y, into_s


def backprop(network, params, x, target, mask, trainable=None, engine="numpy", block=128, dtype=np.float64):
    """``(loss, grads, outputs, step_losses)`` of one sequence by BPTT (see the module).

    ``params`` checked float64 arrays; ``mask`` (T,); ``trainable``: the names to return
    (default all). Masked parameters (no autapses) get masked gradients.

    Memory flat in the sequence length: a first forward pass keeps only the state at the start
    of every ``block`` steps; the backward pass goes through the blocks from the last,
    repeating each block's forward pass with its local derivatives and carrying the adjoints
    from one block into the one before (checkpointing; the forward pass runs twice)."""
    names = set(params if trainable is None else trainable)
    params, x, target, mask = cast((params, x, target, mask), dtype)
    readout = network.readout
    T = x.shape[0]
    bounds = [(t0, min(T, t0 + block)) for t0 in range(0, T, block)]
    starts, outputs = [], np.empty((T, readout.size))
    step_losses = np.empty(T)
    carry = cast(network.initial_carry(NUMPY), dtype)
    for t0, t1 in bounds:
        starts.append(carry)
        carry, fw = forward_block(network, params, carry, x[t0:t1], engine=engine)
        outputs[t0:t1] = fw.outputs
        step_losses[t0:t1] = mask[t0:t1] * readout.loss_value(NUMPY, fw.potentials, target[t0:t1])
    delta = readout_delta(readout, outputs, target, mask)
    grads = {name: np.zeros_like(params[name]) for name in names}
    sweep = adjoint_sweep_numpy
    if engine == "compiled":
        from .compiled.adjoint import adjoint_sweep as sweep
    abar_after = np.zeros(readout.size, dtype=dtype)   # abar^{t1} of the block after
    into = [None] * len(network.layers)   # per stateful layer: (into_y, into_s) from the block after
    for (t0, t1), start in zip(reversed(bounds), reversed(starts)):
        _, fw = forward_block(network, params, start, x[t0:t1], derivatives=True, engine=engine)
        if readout.leak:   # abar^t = delta^t + kappa abar^{t+1}, from the block's end
            abar = _filter(delta[t1 - 1:t0 - 1 if t0 else None:-1], readout.leak, abar_after, engine)[0][::-1]
            abar_after = abar[0]
        else:
            abar = delta[t0:t1]
        top = fw.layer_outputs[-1]
        if "readout.W" in names:
            grads["readout.W"] += abar.T @ top
        if "readout.b" in names:
            grads["readout.b"] += abar.sum(axis=0)
        ybar = abar @ params["readout.W"]
        for index in range(len(network.layers) - 1, -1, -1):
            layer, prefix = network.layers[index], network.prefix(index)
            if layer.stateful:
                deriv = fw.derivatives[index]
                H = params[f"{prefix}.H"] if layer.recurrent else None
                Ibar, sbar, ybar_total, *into[index] = sweep(ybar, deriv, H, *(into[index] or (None, None)))
                if f"{prefix}.H" in names:
                    grads[f"{prefix}.H"] += Ibar.T @ fw.prev_outputs[index]
                param_name = f"{prefix}.{layer.cell.neuron_param}"
                if param_name in names:
                    grads[param_name] += (np.sum(sbar * deriv.ds_dneuron_param, axis=(0, 2))
                                          + np.sum(ybar_total * deriv.dy_dneuron_param, axis=0))
            else:
                Ibar = ybar * fw.slopes[index]
                if f"{prefix}.b" in names:
                    grads[f"{prefix}.b"] += Ibar.sum(axis=0)
            if f"{prefix}.W" in names:
                grads[f"{prefix}.W"] += Ibar.T @ fw.layer_inputs[index]
            if index > 0:
                ybar = Ibar @ params[f"{prefix}.W"]
    for name, m in network.masks().items():
        if name in grads:
            grads[name] = grads[name] * m
    return float(step_losses.sum()), cast(grads, np.float64), outputs, step_losses
