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

The recursion over time runs in NumPy (``engine='numpy'``, the definition) or in one C call
per layer (``engine='compiled'``, :mod:`ostl.compiled.adjoint`). Gated (LSTM/GRU) layers are
left to autodiff.
"""

from __future__ import annotations

import numpy as np

from .blocked import _filter, forward_block
from .ops import NUMPY


def supports(network):
    """Whether the hand-written recursion covers ``network`` (every layer but the gated ones)."""
    return not any(layer.kind == "gated" for layer in network.layers)


def readout_delta(readout, outputs, target, mask):
    """``m^t dE^t/da^t``: the loss's derivative by the potential, per step."""
    if readout.activation == "softmax":
        delta = outputs * np.sum(target, axis=-1, keepdims=True) - target
    else:
        delta = outputs - target
    return mask[:, None] * delta


def adjoint_sweep_numpy(direct, deriv, H):
    """``(Ibar, sbar, ybar)`` (T, n), (T, n, d), (T, n) of a stateful layer from its direct
    adjoint ``direct`` (T, n), its local derivatives over the sequence and ``H`` (or None)."""
    q, c, A = deriv.output_gain, deriv.input_gain, deriv.state_decay
    own = deriv.reset_path + deriv.adaptation_path
    T, n, d = q.shape
    Ibar, sbar, ybar = np.empty((T, n)), np.empty((T, n, d)), np.empty((T, n))
    for t in range(T - 1, -1, -1):
        g = direct[t].copy()
        if t + 1 < T:
            if H is not None:
                g += Ibar[t + 1] @ H
            g += np.sum(own[t + 1] * sbar[t + 1], axis=-1)
            sbar[t] = g[:, None] * q[t] + np.einsum("na,nab->nb", sbar[t + 1], A[t + 1])
        else:
            sbar[t] = g[:, None] * q[t]
        ybar[t] = g
        Ibar[t] = np.sum(sbar[t] * c[t], axis=-1)
    return Ibar, sbar, ybar


def backprop(network, params, x, target, mask, trainable=None, engine="numpy"):
    """``(loss, grads, outputs, step_losses)`` of one sequence by BPTT (see the module).

    ``params`` checked float64 arrays; ``mask`` (T,); ``trainable``: the names to return
    (default all). Masked parameters (no autapses) get masked gradients."""
    names = set(params if trainable is None else trainable)
    readout = network.readout
    _, fw = forward_block(network, params, network.initial_carry(NUMPY), x, derivatives=True, engine=engine)
    step_losses = mask * readout.loss_value(NUMPY, fw.potentials, target)
    delta = readout_delta(readout, fw.outputs, target, mask)
    abar = _filter(delta[::-1], readout.leak, np.zeros(readout.size))[0][::-1] if readout.leak else delta
    grads = {}
    top = fw.layer_outputs[-1]
    if "readout.W" in names:
        grads["readout.W"] = abar.T @ top
    if "readout.b" in names:
        grads["readout.b"] = abar.sum(axis=0)
    ybar = abar @ params["readout.W"]
    for index in range(len(network.layers) - 1, -1, -1):
        layer, prefix = network.layers[index], network.prefix(index)
        X = fw.layer_inputs[index]
        if layer.stateful:
            deriv = fw.derivatives[index]
            H = params[f"{prefix}.H"] if layer.recurrent else None
            if engine == "compiled":
                from .compiled.adjoint import adjoint_sweep

                Ibar, sbar, ybar_total = adjoint_sweep(ybar, deriv, H)
            else:
                Ibar, sbar, ybar_total = adjoint_sweep_numpy(ybar, deriv, H)
            if f"{prefix}.H" in names:
                grads[f"{prefix}.H"] = Ibar.T @ fw.prev_outputs[index]
            param_name = f"{prefix}.{layer.cell.neuron_param}"
            if param_name in names:
                grads[param_name] = (np.sum(sbar * deriv.ds_dneuron_param, axis=(0, 2))
                                     + np.sum(ybar_total * deriv.dy_dneuron_param, axis=0))
        else:
            Ibar = ybar * fw.slopes[index]
            if f"{prefix}.b" in names:
                grads[f"{prefix}.b"] = Ibar.sum(axis=0)
        if f"{prefix}.W" in names:
            grads[f"{prefix}.W"] = Ibar.T @ X
        if index > 0:
            ybar = Ibar @ params[f"{prefix}.W"]
    for name, m in network.masks().items():
        if name in grads:
            grads[name] = grads[name] * m
    for name in names - set(grads):   # a parameter the loss does not reach
        grads[name] = np.zeros_like(params[name])
    return float(step_losses.sum()), grads, fw.outputs, step_losses
