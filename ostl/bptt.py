"""The gradient oracle: backpropagation through time by PyTorch autodiff.

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


def bptt_gradients(network, params, x, target, mask=None):
    """Return ``(loss, grads)`` with ``grads[name] = dE/d params[name]`` (NumPy)."""
    ops = _torch_ops()
    torch = ops.torch
    params = network.check_params(params)
    x, target, *rest = network.check_inputs(x, target, mask)
    mask = rest[0] if rest else None
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    loss, _ = network.forward(tparams, torch.as_tensor(x), torch.as_tensor(target),
                              None if mask is None else mask, ops=ops)
    names = list(tparams)
    raw = torch.autograd.grad(loss, [tparams[n] for n in names], allow_unused=True)
    grads = {}
    for name, g in zip(names, raw):
        grads[name] = np.zeros_like(params[name]) if g is None else g.detach().numpy().copy()
    for name, m in network.masks().items():
        grads[name] = grads[name] * m
    return float(loss.detach()), grads
