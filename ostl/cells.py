"""Neuron models of the reference engine, in discrete time with dt = 1 ms.

Every cell is written in the form shared by OSTL (Bohnstingl et al., S1) and e-prop
(Bellec et al., Methods eq. 11-12): neuron ``j`` has an internal state vector
``s_j^t`` of size ``d`` and an output ``y_j^t``::

    s^t = M(s^{t-1}, y^{t-1}, I^t)        I^t = W x^t + H y^{t-1}   (synaptic input)
    y^t = f(s^t)

The forward equations (:meth:`Cell.step`) are written once against :mod:`ostl.ops`
and evaluated by NumPy (reference) and PyTorch (BPTT oracle). :meth:`Cell.derivatives`
returns the per-neuron *local* partial derivatives that every learning rule is built
from (:class:`LocalDerivatives`); the rules never look inside a cell.

Time indexing. All cells use the OSTL convention: the input ``x^t`` of step ``t``
enters ``s^t``; the neuron's own previous output ``y^{t-1}`` enters through the reset
and the recurrent weights. e-prop writes its LIF model as
``v^{t+1} = alpha v^t + W_rec z^t + W_in x^t - z^t v_th`` (Methods eq. 20); with
``x'^{t+1} = x^t`` this is our ``v^t = alpha v^{t-1} + W_in x'^t + W_rec z^{t-1} -
v_th z^{t-1}``: the same model with the input relabelled one step later.
See ``docs/equations.md`` for the derivations.
"""

from __future__ import annotations

import numpy as np

from .activations import make_activation
from .local_derivatives import LocalDerivatives
from .ops import NUMPY
from .pseudo import make_pseudo
from .registry import Registry, ValueBySpec
from .validation import check_choice, check_nonnegative, check_positive, check_unit_interval_open

DT_MS = 1.0  # the engine's time step; all time constants are in ms


def decay_factor(tau_ms):
    """``exp(-dt / tau)``: the per-step decay of a time constant ``tau`` (ms)."""
    return float(np.exp(-DT_MS / tau_ms))


class _SpikeOutput:
    """``h = Theta`` with a pseudo-derivative."""

    def __init__(self, pseudo):
        self.pseudo = make_pseudo(pseudo)

    def value(self, ops, x):
        return ops.heaviside(x, self.pseudo)

    def derivative(self, x):
        return self.pseudo.derivative(NUMPY, x)


class _SigmoidOutput:
    """``h = sigmoid`` (soft SNU, sSNU)."""

    pseudo = None

    def value(self, ops, x):
        return ops.sigmoid(x)

    def derivative(self, x):
        s = NUMPY.sigmoid(x)
        return s * (1.0 - s)


def _make_output(output, pseudo):
    check_choice("output", output, {"step", "sigmoid"})
    return _SpikeOutput(pseudo) if output == "step" else _SigmoidOutput()


class Cell(ValueBySpec):
    """Base class. Subclasses define ``state_size``, ``state_names``, :meth:`update`,
    :meth:`output_value` and :meth:`derivatives`; their constructor's arguments are their spec
    (:class:`ostl.registry.Specified`).

    :meth:`update` and :meth:`output_value` are the one description of a cell's arithmetic:
    NumPy evaluates them for the reference engine, PyTorch for the BPTT oracle, and
    :mod:`ostl.symbolic` evaluates them on SymPy symbols to derive the local derivatives
    and to generate the Brian2 statements and NESTML update blocks of the simulators."""

    kind = None
    spec_key = "kind"
    state_size = 1
    state_names = ("s",)
    #: name of the per-neuron trainable parameter (None: the cell has none)
    neuron_param = None
    #: whether a recurrent layer of this cell may connect a neuron to itself by default
    default_autapses = True
    #: the state component on which the neuron's own spike acts as a *reset* (OSTL keeps
    #: this path in its traces, e-prop drops it); the own-spike paths into the other
    #: components are *adaptation* paths, which every trace kind keeps
    reset_state = 0
    #: numeric constants of the arithmetic (attributes read by update/output_value); the
    #: symbolic evaluation replaces them by symbols of the same name
    constants = ()

    def neuron_param_default(self):
        """The neuron parameter's value when the network holds none (not trained)."""
        return 0.0

    def initial_state(self, ops, n):
        """The state before the first step: zeros, one array of ``n`` per state component."""
        return tuple(ops.zeros(n) for _ in range(self.state_size))

    def update(self, ops, state, y_prev, current, neuron_param):
        """The state transition ``s^t = M(s^{t-1}, y^{t-1}, I^t)``: returns the new state."""
        raise NotImplementedError

    def output_value(self, ops, state, neuron_param):
        """The output ``y^t = f(s^t)`` of the (new) state."""
        raise NotImplementedError

    def step(self, ops, state, y_prev, current, neuron_param):
        """One step: returns ``(new_state, y)``."""
        new_state = self.update(ops, state, y_prev, current, neuron_param)
        return new_state, self.output_value(ops, new_state, neuron_param)

    def derivatives(self, state_prev, y_prev, current, state, y, neuron_param):
        """NumPy local derivatives of the step that produced ``state, y``. Works
        elementwise: arrays of shape ``(n,)`` or with leading batch/time axes
        ``(K, n)`` give fields of shape ``(..., n, d[, d])``.

        This default differentiates :meth:`update` and :meth:`output_value` symbolically
        (:func:`ostl.symbolic.numpy_derivatives`), so a new cell needs no more than its
        equations; the cells below override it with hand-written NumPy for speed (tested
        against the symbolic derivatives)."""
        if getattr(self, "_symbolic_derivatives", None) is None:
            from .symbolic import numpy_derivatives

            self._symbolic_derivatives = numpy_derivatives(self)
        return self._symbolic_derivatives(state_prev, y_prev, current, state, y, neuron_param)


class SNU(Cell):
    """Spiking Neural Unit with full reset (OSTL eq. 1-2; Wozniak et al. 2020).

    ::

        s^t = g(W x^t + H y^{t-1} + d * s^{t-1} * (1 - y^{t-1}))
        y^t = h(s^t + b)

    Parameters
    ----------
    decay : float in [0, 1)
        ``d``, membrane decay per step (e.g. 0.4 or 0.9 in the papers).
    activation : 'identity' | 'relu' | 'leaky_relu' | dict
        ``g``, the input activation (identity models the LIF neuron).
    output : 'step' | 'sigmoid'
        ``h``: Heaviside (spiking SNU) or sigmoid (soft SNU, sSNU).
    pseudo : name or dict
        pseudo-derivative of the Heaviside output (ignored for sigmoid output).

    State ``s`` is the membrane potential; ``b`` (trainable per neuron, called
    ``bias``) is the negative firing threshold: the neuron spikes when ``s > -b``.
    """

    kind = "snu"
    neuron_param = "bias"
    constants = ("decay",)

    def __init__(self, decay=0.8, activation="identity", output="step", pseudo="tanh"):
        self.decay = check_unit_interval_open("decay", decay)
        self.activation = make_activation(activation, "activation (g)", {"identity", "relu", "leaky_relu"})
        self.output = output
        self.pseudo = make_pseudo(pseudo)
        self._h = _make_output(output, self.pseudo)

    def update(self, ops, state, y_prev, current, bias):
        """``s^t = g(I^t + d s^{t-1} (1 - y^{t-1}))``."""
        (s_prev,) = state
        return (self.activation.value(ops, current + self.decay * s_prev * (1.0 - y_prev)),)

    def output_value(self, ops, state, bias):
        """``y^t = h(s^t + b)``."""
        (s,) = state
        return self._h.value(ops, s + bias)

    def derivatives(self, state_prev, y_prev, current, state, y, bias):
        """Hand-written NumPy local derivatives of the SNU step (equal to the symbolic ones, tested)."""
        (s_prev,) = state_prev
        (s,) = state
        h_prime = self._h.derivative(s + bias)
        decay = self.decay * (1.0 - y_prev)
        reset = -self.decay * s_prev
        if self.activation.name == "identity":  # g' = 1: skip the pre-activation
            g_prime = np.ones_like(s)
        else:
            g_prime = self.activation.derivative(current + self.decay * s_prev * (1.0 - y_prev))
            decay *= g_prime
            reset *= g_prime
        return LocalDerivatives(
            state_decay=decay[..., None, None],
            reset_path=reset[..., None],
            adaptation_path=np.zeros(s.shape + (1,), dtype=s.dtype),
            input_gain=g_prime[..., None],
            output_gain=h_prime[..., None],
            ds_dneuron_param=np.zeros(s.shape + (1,), dtype=s.dtype),
            dy_dneuron_param=h_prime,
        )


class SoftResetSNU(Cell):
    """SNU with soft reset (OSTTP eq. 3-4).

    ::

        s^t = W x^t + H y^{t-1} + d * s^{t-1} - y^{t-1} * b
        y^t = h(s^t - b)

    On a spike the threshold ``b`` is subtracted instead of resetting ``s`` to 0, so
    the membrane keeps information across spikes. ``b`` (trainable per neuron, called
    ``threshold``) must be positive for the cell to behave as a spiking neuron.
    """

    kind = "soft_snu"
    neuron_param = "threshold"
    constants = ("decay",)

    def __init__(self, decay=0.9, output="step", pseudo="fast_sigmoid", threshold=1.0):
        self.decay = check_unit_interval_open("decay", decay)
        self.output = output
        self.pseudo = make_pseudo(pseudo)
        self._h = _make_output(output, self.pseudo)
        self.threshold = check_positive("threshold", threshold)

    def neuron_param_default(self):
        """The threshold ``b`` when the network holds none."""
        return self.threshold

    def update(self, ops, state, y_prev, current, threshold):
        """``s^t = I^t + d s^{t-1} - b y^{t-1}``."""
        (s_prev,) = state
        return (current + self.decay * s_prev - y_prev * threshold,)

    def output_value(self, ops, state, threshold):
        """``y^t = h(s^t - b)``."""
        (s,) = state
        return self._h.value(ops, s - threshold)

    def derivatives(self, state_prev, y_prev, current, state, y, threshold):
        """Hand-written NumPy local derivatives of the soft-reset SNU step (equal to the symbolic ones, tested)."""
        (s,) = state
        h_prime = self._h.derivative(s - threshold)
        return LocalDerivatives(
            state_decay=np.full(s.shape + (1, 1), self.decay, dtype=s.dtype),
            reset_path=-np.broadcast_to(threshold, s.shape)[..., None].astype(s.dtype),
            adaptation_path=np.zeros(s.shape + (1,), dtype=s.dtype),
            input_gain=np.ones(s.shape + (1,), dtype=s.dtype),
            output_gain=h_prime[..., None],
            ds_dneuron_param=-np.asarray(y_prev, dtype=s.dtype)[..., None] * np.ones(s.shape + (1,), dtype=s.dtype),
            dy_dneuron_param=-h_prime,
        )


class LIF(Cell):
    """Leaky integrate-and-fire neuron of e-prop (Methods eq. 20-21).

    ::

        v^t = alpha v^{t-1} + I^t - v_th z^{t-1}          alpha = exp(-dt / tau_m)
        z^t = Theta((v^t - v_th) / v_th)

    The pseudo-derivative is applied to the scaled voltage ``u = (v - v_th)/v_th``;
    by the chain rule ``dz/dv = psi(u) / v_th`` (autodiff of the same expression
    gives the same factor; e-prop writes ``h = gamma max(0, 1 - |u|)`` and absorbs
    the ``1/v_th``). Recurrent LIF layers exclude self-connections (``i != j`` in
    eq. 20) unless asked otherwise.
    """

    kind = "lif"
    state_names = ("v",)
    default_autapses = False
    constants = ("alpha", "v_th")

    def __init__(self, tau_m=20.0, v_th=0.6, pseudo=None):
        self.tau_m = check_positive("tau_m (ms)", tau_m)
        self.v_th = check_positive("v_th", v_th)
        self.pseudo = make_pseudo(pseudo if pseudo is not None else {"name": "piecewise_linear", "gamma": 0.3})
        #: membrane decay per step, exp(-dt / tau_m)
        self.alpha = decay_factor(self.tau_m)

    def update(self, ops, state, y_prev, current, neuron_param=None):
        """``v^t = alpha v^{t-1} + I^t - v_th z^{t-1}``."""
        (v_prev,) = state
        return (self.alpha * v_prev + current - self.v_th * y_prev,)

    def output_value(self, ops, state, neuron_param=None):
        """``z^t = H((v^t - v_th) / v_th)`` with the pseudo-derivative."""
        (v,) = state
        return ops.heaviside((v - self.v_th) / self.v_th, self.pseudo)

    def derivatives(self, state_prev, y_prev, current, state, y, neuron_param=None):
        """Hand-written NumPy local derivatives of the LIF step (equal to the symbolic ones, tested)."""
        (v,) = state
        h = self.pseudo.derivative(NUMPY, (v - self.v_th) / self.v_th) / self.v_th
        return LocalDerivatives(
            state_decay=np.full(v.shape + (1, 1), self.alpha, dtype=v.dtype),
            reset_path=np.full(v.shape + (1,), -self.v_th, dtype=v.dtype),
            adaptation_path=np.zeros(v.shape + (1,), dtype=v.dtype),
            input_gain=np.ones(v.shape + (1,), dtype=v.dtype),
            output_gain=h[..., None],
            ds_dneuron_param=np.zeros(v.shape + (1,), dtype=v.dtype),
            dy_dneuron_param=np.zeros(v.shape, dtype=v.dtype),
        )


class ALIF(Cell):
    """LIF neuron with threshold adaptation (e-prop Methods eq. 20, 25-26).

    ::

        v^t = alpha v^{t-1} + I^t - v_th z^{t-1}
        a^t = rho a^{t-1} + z^{t-1}                        rho = exp(-dt / tau_a)
        A^t = v_th + beta a^t
        z^t = Theta((v^t - A^t) / v_th)

    Internal state ``(v, a)``; ``dz/dv = psi(u)/v_th``, ``dz/da = -beta psi(u)/v_th``.
    """

    kind = "alif"
    state_size = 2
    state_names = ("v", "a")
    default_autapses = False
    constants = ("alpha", "rho", "beta", "v_th")

    def __init__(self, tau_m=20.0, tau_a=200.0, beta=1.8, v_th=0.6, pseudo=None):
        self.tau_m = check_positive("tau_m (ms)", tau_m)
        self.tau_a = check_positive("tau_a (ms)", tau_a)
        self.beta = check_nonnegative("beta", beta)
        self.v_th = check_positive("v_th", v_th)
        self.pseudo = make_pseudo(pseudo if pseudo is not None else {"name": "piecewise_linear", "gamma": 0.3})
        #: membrane and adaptation decay per step, exp(-dt / tau)
        self.alpha = decay_factor(self.tau_m)
        self.rho = decay_factor(self.tau_a)

    def update(self, ops, state, y_prev, current, neuron_param=None):
        """``v^t = alpha v^{t-1} + I^t - v_th z^{t-1}``, ``a^t = rho a^{t-1} + z^{t-1}``."""
        v_prev, a_prev = state
        return (self.alpha * v_prev + current - self.v_th * y_prev, self.rho * a_prev + y_prev)

    def output_value(self, ops, state, neuron_param=None):
        """``z^t = H((v^t - v_th - beta a^t) / v_th)`` with the pseudo-derivative."""
        v, a = state
        return ops.heaviside((v - (self.v_th + self.beta * a)) / self.v_th, self.pseudo)

    def derivatives(self, state_prev, y_prev, current, state, y, neuron_param=None):
        """Hand-written NumPy local derivatives of the ALIF step (equal to the symbolic ones, tested)."""
        v, a = state
        h = self.pseudo.derivative(NUMPY, (v - self.v_th - self.beta * a) / self.v_th) / self.v_th
        decay = np.zeros(v.shape + (2, 2), dtype=v.dtype)
        decay[..., 0, 0] = self.alpha
        decay[..., 1, 1] = self.rho
        return LocalDerivatives(
            state_decay=decay,
            reset_path=np.broadcast_to(np.array([-self.v_th, 0.0], dtype=v.dtype), v.shape + (2,)).copy(),
            adaptation_path=np.broadcast_to(np.array([0.0, 1.0], dtype=v.dtype), v.shape + (2,)).copy(),
            input_gain=np.broadcast_to(np.array([1.0, 0.0], dtype=v.dtype), v.shape + (2,)).copy(),
            output_gain=np.stack([h, -self.beta * h], axis=-1),
            ds_dneuron_param=np.zeros(v.shape + (2,), dtype=v.dtype),
            dy_dneuron_param=np.zeros(v.shape, dtype=v.dtype),
        )


#: the cells of the reference engine, by kind
CELLS = Registry("cell", key="kind", base=Cell)
for _cell in (SNU, SoftResetSNU, LIF, ALIF):
    CELLS.register(_cell)


def make_cell(spec):
    """Build a cell from a kind name, a spec dict (``{'kind': 'snu', ...}``) or an instance."""
    return CELLS.make(spec)
