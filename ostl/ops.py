"""Array namespaces: the neuron and readout equations are written once against this
small interface and run either on NumPy (the reference engine) or on PyTorch (the
autodiff BPTT oracle). One definition of the dynamics, two evaluators: the BPTT
oracle cannot drift from the reference forward pass.

The only non-trivial operation is :meth:`heaviside`, the spike nonlinearity. Its
forward value is the Heaviside step ``1 if x > 0 else 0`` in both namespaces; under
autodiff its derivative is the named pseudo-derivative (surrogate gradient).
"""

from __future__ import annotations

import numpy as np

from .precision import real_dtype


class NumpyOps:
    """Evaluate equations with NumPy in float64 (no gradients)."""

    name = "numpy"

    @staticmethod
    def heaviside(x, pseudo):  # pseudo is unused in the forward pass
        """The spike ``x > 0`` (the pseudo-derivative only matters to autodiff)."""
        return (x > 0).astype(real_dtype(x))

    @staticmethod
    def asarray(x):
        """``x`` as a float64 array."""
        return np.asarray(x, dtype=np.float64)

    abs = staticmethod(np.abs)
    tanh = staticmethod(np.tanh)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    where = staticmethod(np.where)

    @staticmethod
    def maximum(x, value):
        """Elementwise ``max(x, value)``."""
        return np.maximum(x, value)

    @staticmethod
    def sigmoid(x):
        # numerically stable logistic function
        """The logistic sigmoid, numerically stable for large ``|x|``."""
        x = np.asarray(x, dtype=real_dtype(x))
        out = np.empty_like(x)
        pos = x >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
        ex = np.exp(x[~pos])
        out[~pos] = ex / (1.0 + ex)
        return out

    @staticmethod
    def log_sigmoid(x):
        """``log sigmoid(x)``, stable."""
        return -np.logaddexp(0.0, -x)

    @staticmethod
    def log_softmax(x):
        """``log softmax(x)`` over the last axis, stable."""
        z = x - np.max(x, axis=-1, keepdims=True)
        return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))

    @staticmethod
    def softmax(x):
        """``softmax(x)`` over the last axis, stable."""
        z = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return z / np.sum(z, axis=-1, keepdims=True)

    @staticmethod
    def matvec(matrix, vector):
        """``matrix @ vector``."""
        return matrix @ vector

    @staticmethod
    def sum(x):
        """Sum over the last axis (the neuron axis; leading axes are time steps)."""
        return np.sum(x, axis=-1)

    @staticmethod
    def zeros(n):
        """A float64 zero vector of size ``n``."""
        return np.zeros(n, dtype=np.float64)


class TorchOps:
    """Evaluate the same equations with PyTorch (float64) so that autograd can
    differentiate through the unrolled network (BPTT)."""

    name = "torch"

    def __init__(self):
        import torch  # imported lazily: torch is only needed for the BPTT oracle

        self.torch = torch

        class _SurrogateSpike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, pseudo):
                ctx.save_for_backward(x)
                ctx.pseudo = pseudo
                return (x > 0).to(x.dtype)

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * ctx.pseudo.derivative(self, x), None

        self._spike = _SurrogateSpike

    def heaviside(self, x, pseudo):
        """The spike ``x > 0`` with the pseudo-derivative as its gradient (a custom autograd function)."""
        return self._spike.apply(x, pseudo)

    def asarray(self, x):
        """``x`` as a float64 tensor."""
        return self.torch.as_tensor(x, dtype=self.torch.float64)

    def abs(self, x):
        """``|x|``."""
        return self.torch.abs(x)

    def tanh(self, x):
        """``tanh(x)``."""
        return self.torch.tanh(x)

    def exp(self, x):
        """``exp(x)``."""
        return self.torch.exp(x)

    def log(self, x):
        """``log(x)``."""
        return self.torch.log(x)

    def where(self, cond, a, b):
        """``a`` where ``cond``, else ``b``."""
        return self.torch.where(cond, a, b)

    def maximum(self, x, value):
        """Elementwise ``max(x, value)``."""
        return self.torch.clamp(x, min=value)

    def sigmoid(self, x):
        """The logistic sigmoid."""
        return self.torch.sigmoid(x)

    def log_sigmoid(self, x):
        """``log sigmoid(x)``."""
        return self.torch.nn.functional.logsigmoid(x)

    def log_softmax(self, x):
        """``log softmax(x)`` over the last axis."""
        return self.torch.log_softmax(x, dim=-1)

    def softmax(self, x):
        """``softmax(x)`` over the last axis."""
        return self.torch.softmax(x, dim=-1)

    def matvec(self, matrix, vector):
        """``matrix @ vector``."""
        return self.torch.mv(matrix, vector)

    def sum(self, x):
        """The sum over the last axis."""
        return self.torch.sum(x, dim=-1)

    def zeros(self, n):
        """A float64 zero tensor of size ``n``."""
        return self.torch.zeros(n, dtype=self.torch.float64)


NUMPY = NumpyOps()
