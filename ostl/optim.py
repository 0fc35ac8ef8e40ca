"""Optimisers: plain SGD and Adam, with optional clipping of the global gradient norm.

``step(params, grads)`` updates the arrays of ``params`` in place (only the names in
``grads``). Their state (``state_dict`` / ``load_state_dict``) is part of a training
checkpoint so that a resumed run continues bit for bit.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .registry import Registry, Specified
from .validation import check_positive, check_range, check_real


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients by ``min(1, max_norm / ||g||)`` (``||g||`` over all arrays)."""
    if max_norm is None:
        return grads
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm <= max_norm or norm == 0.0:
        return grads
    scale = max_norm / norm
    return {k: g * scale for k, g in grads.items()}


def is_weight(name):
    """Whether parameter ``name`` is a weight matrix (``W``, ``H``, gated ``W_<g>``/``H_<g>``,
    the readout's ``W``), which weight bounds limit; biases and neuron parameters are not."""
    return name.split(".")[-1].split("_")[0] in ("W", "H")


class Optimizer(Specified):
    """Base class. ``lr`` is the learning rate; with ``decay`` and ``decay_every`` it is
    multiplied by ``decay`` every ``decay_every`` epochs (the trainer calls
    :meth:`set_epoch`; e.g. the OSTTP paper's 0.001 x 0.6 every 5 epochs). ``w_min`` / ``w_max``
    (NEST's ``Wmin`` / ``Wmax`` of the e-prop optimiser): every weight is clipped into
    ``[w_min, w_max]`` after each update (weights only: :func:`is_weight`)."""

    name = None
    #: the readout's own rate, or None: the same as ``lr`` (only :class:`SGD` takes one)
    readout_lr = None
    spec_attributes = {"lr": "base_lr"}
    spec_omitted_when_none = ("readout_lr", "decay", "decay_every", "w_min", "w_max")

    def __init__(self, lr, clip=None, decay=None, decay_every=None, w_min=None, w_max=None):
        self.base_lr = self.lr = check_positive("learning rate", lr)
        self.clip = None if clip is None else check_positive("clip (max gradient norm)", clip)
        if (decay is None) != (decay_every is None):
            raise ParameterError("a learning-rate decay needs both decay (factor) and decay_every (epochs)")
        self.decay = None if decay is None else check_range("learning-rate decay", decay, 0.0, 1.0, low_closed=False)
        if decay_every is not None:
            from .validation import check_int

            decay_every = check_int("learning-rate decay_every (epochs)", decay_every, minimum=1)
        self.decay_every = decay_every
        self.w_min = None if w_min is None else check_real("w_min", w_min)
        self.w_max = None if w_max is None else check_real("w_max", w_max)
        if self.w_min is not None and self.w_max is not None and not self.w_min < self.w_max:
            raise ParameterError(f"w_min must be below w_max, got w_min {self.w_min:g}, w_max {self.w_max:g}")

    @property
    def bounded(self):
        """Whether weight bounds are set."""
        return self.w_min is not None or self.w_max is not None

    def rate(self, name):
        """The current rate of parameter ``name`` (one rate for all; :class:`SGD` may give the
        readout its own)."""
        return self.lr

    def set_epoch(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based) under the decay schedule."""
        if self.decay is not None:
            self.lr = self.base_lr * self.decay ** (int(epoch) // self.decay_every)

    def step(self, params, grads):
        """Update ``params`` in place with ``grads`` (clipped first, if set)."""
        grads = clip_by_global_norm(grads, self.clip)
        self._step(params, grads)
        if self.bounded:
            for name in grads:
                if is_weight(name):
                    np.clip(params[name], self.w_min, self.w_max, out=params[name])

    def _step(self, params, grads):
        raise NotImplementedError

    def state_dict(self):
        """The optimiser's state for checkpoints (none)."""
        return {}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (nothing to restore)."""
        pass


class SGD(Optimizer):
    """``theta <- theta - lr * g``; with ``readout_lr`` the readout's parameters (``readout.*``) take
    their own rate (scaled by the same decay schedule) -- a per-projection rate, which hardware that
    writes plain SGD back can hold (e.g. OSTTP, whose hidden signal does not shrink with the error,
    learns best with a readout slower than its hidden layer)."""

    name = "sgd"

    def __init__(self, lr, readout_lr=None, clip=None, decay=None, decay_every=None, w_min=None, w_max=None):
        super().__init__(lr, clip, decay, decay_every, w_min, w_max)
        self.readout_lr = None if readout_lr is None else check_positive("readout learning rate", readout_lr)

    def rate(self, name):
        """The current rate of parameter ``name``."""
        if self.readout_lr is not None and name.startswith("readout."):
            return self.readout_lr * self.lr / self.base_lr
        return self.lr

    def _step(self, params, grads):
        for name, g in grads.items():
            params[name] -= self.rate(name) * g


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction."""

    name = "adam"

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, clip=None, decay=None, decay_every=None, w_min=None,
                 w_max=None):
        super().__init__(lr, clip, decay, decay_every, w_min, w_max)
        self.beta1 = check_range("beta1", beta1, 0.0, 1.0, high_closed=False)
        self.beta2 = check_range("beta2", beta2, 0.0, 1.0, high_closed=False)
        self.eps = check_positive("eps", eps)
        self.t = 0
        self.m = {}
        self.v = {}

    def _step(self, params, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        corr1 = 1.0 - b1 ** self.t
        corr2 = 1.0 - b2 ** self.t
        for name, g in grads.items():
            m = self.m.get(name)
            if m is None:
                m = self.m[name] = np.zeros_like(g)
                self.v[name] = np.zeros_like(g)
            v = self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            params[name] -= self.lr * (m / corr1) / (np.sqrt(v / corr2) + self.eps)

    def state_dict(self):
        """The step count and both moments, for checkpoints."""
        state = {"t": np.array(self.t)}
        for name in self.m:
            state[f"m/{name}"] = self.m[name]
            state[f"v/{name}"] = self.v[name]
        return state

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`."""
        self.t = int(state["t"])
        self.m = {k[2:]: np.array(v, dtype=np.float64) for k, v in state.items() if k.startswith("m/")}
        self.v = {k[2:]: np.array(v, dtype=np.float64) for k, v in state.items() if k.startswith("v/")}


#: the optimisers, by name
OPTIMIZERS = Registry("optimizer", base=Optimizer, names_only=False)
for _optimizer in (SGD, Adam):
    OPTIMIZERS.register(_optimizer)


def make_optimizer(spec):
    """Build an optimiser from a spec dict (``{'name': 'adam', 'lr': 0.001, ...}``) or an instance."""
    return OPTIMIZERS.make(spec)
