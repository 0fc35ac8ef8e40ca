"""The gradient oracle: backpropagation through time by PyTorch autodiff (and the trainer's
``--rule bptt``, by the hand-written recursion it checks, :mod:`ostl.backprop`).

The network is unrolled over the whole sequence with the *same* equations as the
reference engine (:meth:`ostl.network.Network.forward` evaluated with
:class:`ostl.ops.TorchOps`); spikes use the Heaviside step forward and the cell's
pseudo-derivative backward. The gradient of ``E = sum_t m^t E^t`` is what every
exact rule must reproduce.

Requires the ``bptt`` extra (``torch==2.13.0``).
"""

from __future__ import annotations

import numpy as np

from .errors import BackendUnavailableError


def _torch_ops():
    try:
        from .ops import TorchOps

        return TorchOps()
    except ImportError:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            "the BPTT oracle needs PyTorch: pip install 'torch==2.13.0' (the 'bptt' extra)") from None


def bptt_gradients(network, params, x, target, mask=None, regularisation=None):
    """Return ``(loss, grads)`` with ``grads[name] = dE/d params[name]`` (NumPy); with a
    firing-rate ``regularisation`` (:mod:`ostl.regularisation`) ``E`` includes its ``E_reg``."""
    from .regularisation import FiringRateRegularisation

    ops = _torch_ops()
    torch = ops.torch
    params = network.check_params(params)
    x, target, *rest = network.check_inputs(x, target, mask)
    mask = rest[0] if rest else None
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    loss, _ = network.forward(tparams, torch.as_tensor(x), torch.as_tensor(target),
                              None if mask is None else mask, ops=ops,
                              regularisation=FiringRateRegularisation.make(regularisation))
    names = list(tparams)
    raw = torch.autograd.grad(loss, [tparams[n] for n in names], allow_unused=True)
    grads = {}
    for name, g in zip(names, raw):
        grads[name] = np.zeros_like(params[name]) if g is None else g.detach().numpy().copy()
    for name, m in network.masks().items():
        grads[name] = grads[name] * m
    return float(loss.detach()), grads


def bptt_sequence(network, params, x, target, mask=None, trainable=None, engine=None, dtype=None,
                  regularisation=None):
    """One sequence with the BPTT gradient, in the form the trainer takes from every rule
    (:class:`ostl.online.SequenceResult`: loss, readout outputs, per-step losses, gradients of
    the ``trainable`` parameters), so that ``--rule bptt`` trains through the same code path.

    The gradient is the hand-written adjoint recursion of :mod:`ostl.backprop` (``engine``:
    ``'compiled'`` or ``'numpy'``, as :mod:`ostl.compiled`), equal to this module's autodiff
    oracle (tested); ``dtype``: its precision (:mod:`ostl.precision`). Networks with gated layers
    and a firing-rate ``regularisation`` (:mod:`ostl.regularisation`; its value in
    ``regularisation_loss``, not in ``loss``) go through autodiff (float64)."""
    from .backprop import backprop, check_precision, supports
    from .compiled import resolve_engine
    from .online import SequenceResult
    from .ops import NUMPY
    from .precision import resolve_dtype
    from .regularisation import FiringRateRegularisation

    dtype = resolve_dtype(dtype)
    params = network.check_params(params)
    x, target, *rest = network.check_inputs(x, target, mask)
    mask = rest[0] if rest else np.ones(x.shape[0])
    names = sorted(params if trainable is None else trainable)
    regularisation = FiringRateRegularisation.make(regularisation)
    if supports(network) and regularisation is None:
        loss, grads, outputs, step_losses = backprop(network, params, x, target, mask, names,
                                                     resolve_engine(engine), dtype=dtype)
        return SequenceResult(loss=loss, outputs=outputs, grads={name: grads[name] for name in names},
                              step_losses=step_losses)
    check_precision(network, dtype, regularisation)
    ops = _torch_ops()
    torch = ops.torch
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    loss, potentials = network.forward(tparams, torch.as_tensor(x), torch.as_tensor(target), mask, ops=ops,
                                       regularisation=regularisation)
    raw = torch.autograd.grad(loss, [tparams[n] for n in names], allow_unused=True)
    masks = network.masks()
    grads = {}
    for name, g in zip(names, raw):
        grads[name] = np.zeros_like(params[name]) if g is None else g.detach().numpy().copy()
        if name in masks:
            grads[name] = grads[name] * masks[name]
    a = np.stack([p.detach().numpy() for p in potentials])
    step_losses = mask * network.readout.loss_value(NUMPY, a, target)
    total = float(loss.detach())
    task = total if regularisation is None else float(step_losses.sum())
    return SequenceResult(loss=task, outputs=network.readout.output(NUMPY, a), grads=grads,
                          step_losses=step_losses, regularisation_loss=total - task)
