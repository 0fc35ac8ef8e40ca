r"""Gated recurrent layers (LSTM, GRU) with exact OSTL (OSTL supplementary S5, S6).

OSTL's general form (main text eq. 25-28) covers units whose output depends on the
previous output directly, as in LSTMs and GRUs. For one such layer the eligibility
traces carry the total derivative of the layer's hidden variables ``z^t`` (LSTM: the
cell state and the output, ``z = (s, y)``; GRU: ``z = s = y``) with respect to every
parameter: real-time recurrent learning restricted to the layer, and exact (for one
layer, the gradient equals BPTT's; tests/test_gated.py checks 1e-9)::

    T_theta^t = J^t T_theta^{t-1} + dz^t/dtheta|_immediate      J^t = dz^t/dz^{t-1}
    e_theta^t = T_theta^t[y rows]                                   (eq. 27)
    dE/dtheta = sum_t L^t . e_theta^t,    L^t = dE^t/dy^t            (eq. 11, 28)

For a gate ``g`` with preactivation ``p_g = W_g x^t + H_g r_g^t + b_g`` (``x^t`` the
layer's input, ``r_g^t`` the gate's recurrent input) the immediate terms factorise,
``dz/dW_g[j, i] = D_g[:, j] x_i``, ``dz/dH_g[j, i] = D_g[:, j] r_g[i]``, ``dz/db_g[j] =
D_g[:, j]``, with ``D_g = dz^t/dp_g`` the total derivative of this step's hidden
variables with respect to the gate's preactivation (at fixed ``z^{t-1}``). The cells
below write ``J``, ``D_g`` and ``r_g`` out by hand; the autodiff BPTT oracle of the
same forward equations is the check.

Cost per step: ``O(|z|^2 n m)`` per weight matrix (``|z| = 2n`` for the LSTM): exact
OSTL for a recurrent layer is ``O(n^4)``, as for recurrent SNUs (OSTL S2).

LSTM (S5; the paper calls the output gate ``c`` and the candidate input ``h(...)``;
here the gates are named ``input``, ``forget``, ``output``, ``candidate``)::

    i = sigma(p_input)   f = sigma(p_forget)   o = sigma(p_output)   c = tanh(p_candidate)
    s^t = f * s^{t-1} + i * c          y^t = o * tanh(s^t)           r_g = y^{t-1}

GRU (S6; gates ``update`` (u), ``reset`` (the paper's v), ``candidate``)::

    u = sigma(W_u x + H_u s^{t-1} + b_u)       v = sigma(W_v x + H_v s^{t-1} + b_v)
    c = tanh(W_c x + H_c (v * s^{t-1}) + b_c)
    s^t = u * s^{t-1} + (1 - u) * c            y^t = s^t

The GRU's candidate reads the reset gate of the same step, so ``D_reset`` is a full
matrix (``diag((1-u) c') H_c diag(s^{t-1} v')``), and ``J`` has the term
``diag((1-u) c') H_c (diag(v) + diag(s^{t-1} v') H_v)``. (The paper's eq. 107 prints
the last product as ``diag(s^{t-1}) H_v diag(s^{t-1} g'^v) H_c``; differentiating eq. 86
gives the order written here, which the BPTT test confirms.)
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .layer_step import LayerStep
from .ops import NUMPY
from .registry import Registry, Specified
from .validation import check_int


def _sigmoid(x):
    return NUMPY.sigmoid(x)


class GatedCell(Specified):
    """Base class: ``gates`` (names, in evaluation order), ``hidden_size(n)``, ``step`` (any
    ops namespace) and ``local`` (NumPy derivatives)."""

    kind = None
    spec_key = "kind"
    gates = ()

    def initial_state(self, ops, n):
        """The state before the first step: zeros."""
        return (ops.zeros(n),)


class LSTMCell(GatedCell):
    """LSTM cell (OSTL S6): input, forget, output gates and the candidate; the state holds the cell state."""

    kind = "lstm"
    gates = ("input", "forget", "output", "candidate")

    @staticmethod
    def hidden(state, y):
        """The vector the gates' recurrent weights see: the cell state and the output."""
        return np.concatenate([state[0], y])

    @staticmethod
    def output_rows(n):
        """The rows of the hidden vector that are the cell's output."""
        return slice(n, 2 * n)

    @staticmethod
    def hidden_size(n):
        """The size of the hidden vector of ``n`` cells."""
        return 2 * n

    def step(self, ops, feeds, recurrent, state_prev, y_prev):
        """``feeds[g] = W_g x + b_g``, ``recurrent[g] = H_g``; returns ``(state, y)``."""
        (s_prev,) = state_prev
        p = {g: feeds[g] + ops.matvec(recurrent[g], y_prev) for g in self.gates}
        i, f, o = ops.sigmoid(p["input"]), ops.sigmoid(p["forget"]), ops.sigmoid(p["output"])
        c = ops.tanh(p["candidate"])
        s = f * s_prev + i * c
        return (s,), o * ops.tanh(s)

    def local(self, feeds, recurrent, state_prev, y_prev):
        """``(state, y, J, D, r)`` of one step: ``J = dz/dz_prev`` (2n, 2n), ``D[g] = dz/dp_g``
        (2n, n), ``r[g]`` the recurrent input of gate ``g``."""
        (s_prev,) = state_prev
        n = s_prev.shape[0]
        p = {g: feeds[g] + recurrent[g] @ y_prev for g in self.gates}
        i, f, o = _sigmoid(p["input"]), _sigmoid(p["forget"]), _sigmoid(p["output"])
        c = np.tanh(p["candidate"])
        s = f * s_prev + i * c
        tanh_s = np.tanh(s)
        y = o * tanh_s
        dy_ds = o * (1.0 - tanh_s ** 2)
        ds_dp = {"input": c * i * (1 - i), "forget": s_prev * f * (1 - f), "output": np.zeros(n),
                 "candidate": i * (1.0 - c ** 2)}
        dy_dp = {g: dy_ds * ds_dp[g] for g in self.gates}
        dy_dp["output"] = tanh_s * o * (1 - o)
        D = {g: np.concatenate([np.diag(ds_dp[g]), np.diag(dy_dp[g])]) for g in self.gates}
        # through the recurrent weights: dz/dy_prev = sum_g D_g H_g
        dz_dy_prev = sum(D[g] @ recurrent[g] for g in self.gates)
        J = np.zeros((2 * n, 2 * n))
        J[:n, :n] = np.diag(f)
        J[n:, :n] = np.diag(dy_ds * f)
        J[:, n:] = dz_dy_prev
        return (s,), y, J, D, {g: y_prev for g in self.gates}


class GRUCell(GatedCell):
    """GRU cell (OSTL S6): update and reset gates and the candidate; the state is the output."""

    kind = "gru"
    gates = ("update", "reset", "candidate")

    @staticmethod
    def hidden(state, y):
        """The vector the gates' recurrent weights see: the state."""
        return state[0]

    @staticmethod
    def output_rows(n):
        """The rows of the hidden vector that are the cell's output."""
        return slice(0, n)

    @staticmethod
    def hidden_size(n):
        """The size of the hidden vector of ``n`` cells."""
        return n

    def step(self, ops, feeds, recurrent, state_prev, y_prev):
        """One GRU step from the gates' feed-forward inputs; returns ``(state, y)``."""
        (s_prev,) = state_prev
        u = ops.sigmoid(feeds["update"] + ops.matvec(recurrent["update"], s_prev))
        v = ops.sigmoid(feeds["reset"] + ops.matvec(recurrent["reset"], s_prev))
        c = ops.tanh(feeds["candidate"] + ops.matvec(recurrent["candidate"], v * s_prev))
        s = u * s_prev + (1.0 - u) * c
        return (s,), s

    def local(self, feeds, recurrent, state_prev, y_prev):
        """NumPy local derivatives of the GRU step with respect to the state and every gate's parameters."""
        (s_prev,) = state_prev
        H_u, H_v, H_c = recurrent["update"], recurrent["reset"], recurrent["candidate"]
        u = _sigmoid(feeds["update"] + H_u @ s_prev)
        v = _sigmoid(feeds["reset"] + H_v @ s_prev)
        r_c = v * s_prev
        c = np.tanh(feeds["candidate"] + H_c @ r_c)
        s = u * s_prev + (1.0 - u) * c
        du = u * (1 - u)
        dv = v * (1 - v)
        ds_dpc = (1.0 - u) * (1.0 - c ** 2)
        D = {"update": np.diag((s_prev - c) * du),
             "candidate": np.diag(ds_dpc),
             "reset": ds_dpc[:, None] * H_c * (s_prev * dv)[None, :]}
        J = (np.diag(u) + ((s_prev - c) * du)[:, None] * H_u
             + ds_dpc[:, None] * (H_c * v[None, :] + (H_c * (s_prev * dv)[None, :]) @ H_v))
        return (s,), s, J, D, {"update": s_prev, "reset": s_prev, "candidate": r_c}


#: the gated cells, by kind
GATED_CELLS = Registry("gated cell", key="kind", base=GatedCell)
for _cell in (LSTMCell, GRUCell):
    GATED_CELLS.register(_cell)


class GatedLayer(Specified):
    """A recurrent layer of ``size`` LSTM or GRU units.

    Parameters (per gate ``g`` of the cell): ``layer{l}.W_<g>`` (n, n_pre),
    ``layer{l}.H_<g>`` (n, n) and ``layer{l}.b_<g>`` (n,); e.g. ``layer0.W_forget``.
    Learns with exact OSTL traces (``ostl``, ``ostl_rnd`` with direct feedback,
    ``osttp``) on the reference engine; the simulator plugins do not run gated layers.
    """

    kind = "gated"
    spec_key, spec_kind = "type", "gated"
    stateful = True
    recurrent = True
    autapses = True

    def __init__(self, size, cell="lstm"):
        self.size = check_int("layer size", size, minimum=1)
        self.cell = GATED_CELLS.make(cell)

    def param_shapes(self, prefix, n_pre):
        """The shapes of the layer's parameters: ``W``, ``H`` and ``b`` of every gate."""
        shapes = {}
        for gate in self.cell.gates:
            shapes[f"{prefix}.W_{gate}"] = (self.size, n_pre)
            shapes[f"{prefix}.H_{gate}"] = (self.size, self.size)
            shapes[f"{prefix}.b_{gate}"] = (self.size,)
        return shapes

    def initial_carry(self, ops):
        """The carry before the first step: the cell's initial state and a zero output."""
        return self.cell.initial_state(ops, self.size), ops.zeros(self.size)

    def gate_inputs(self, ops, params, prefix, x):
        """``(feeds, recurrent)``: ``W_g x + b_g`` and ``H_g`` of every gate."""
        feeds = {g: ops.matvec(params[f"{prefix}.W_{g}"], x) + params[f"{prefix}.b_{g}"] for g in self.cell.gates}
        return feeds, {g: params[f"{prefix}.H_{g}"] for g in self.cell.gates}

    def step(self, ops, params, prefix, carry, x):
        """One step of the layer: returns ``(carry, LayerStep)``."""
        state_prev, y_prev = carry
        feeds, recurrent = self.gate_inputs(ops, params, prefix, x)
        state, y = self.cell.step(ops, feeds, recurrent, state_prev, y_prev)
        return (state, y), LayerStep(y, state_prev, y_prev, None, None, state)


class GatedTraces:
    """Exact OSTL traces of one gated layer (see the module docstring)."""

    def __init__(self, layer, prefix, n_pre, trace_kind, leak, trainable):
        if trace_kind != "exact":
            raise ParameterError(f"gated layer {prefix} ({layer.cell.kind}) learns with exact OSTL traces only, "
                                 f"got traces {trace_kind!r}; use the rules 'ostl', 'ostl_rnd' or 'osttp'")
        self.layer, self.prefix, self.leak = layer, prefix, leak
        self.n = layer.size
        self.hidden = layer.cell.hidden_size(self.n)
        self.rows = layer.cell.output_rows(self.n)
        self.names = {}
        for gate in layer.cell.gates:
            for kind, m in (("W", n_pre), ("H", self.n), ("b", None)):
                name = f"{prefix}.{kind}_{gate}"
                if name in trainable:
                    self.names[name] = (gate, kind, m)
        self.reset()

    def reset(self):
        """Zero the traces (the start of a sequence)."""
        self.T = {name: np.zeros((self.hidden, self.n) + ((m,) if m else ()))
                  for name, (_, _, m) in self.names.items()}
        self.ebar = {}
        self.e = {}
        self.dy_dp = None

    def update(self, params, x, carry_prev):
        """Advance every trace by one step from the layer's input ``x`` and its previous
        ``(state, y)``; returns ``(state, y)``."""
        state_prev, y_prev = carry_prev
        feeds, recurrent = self.layer.gate_inputs(NUMPY, params, self.prefix, x)
        state, y, J, D, r = self.layer.cell.local(feeds, recurrent, state_prev, y_prev)
        for name, (gate, kind, _) in self.names.items():
            T = np.tensordot(J, self.T[name], axes=(1, 0))
            if kind == "b":
                T += D[gate]
            else:
                T += D[gate][:, :, None] * (x if kind == "W" else r[gate])[None, None, :]
            self.T[name] = T
            e = T[self.rows]
            if self.leak:
                e = self.leak * self.ebar.get(name, 0.0) + e
                self.ebar[name] = e
            self.e[name] = e
        self.dy_dp = {g: D[g][self.rows] for g in D}
        return state, y

    def gradient(self, learning_signal):
        """The gradient contribution of one step: ``learning_signal`` times the eligibility traces."""
        return {name: np.tensordot(learning_signal, e, axes=(0, 0)) for name, e in self.e.items()}

    def signal_below(self, signal, params):
        """The symmetric learning signal of the layer below: ``sum_g W_g^T (D_g^y)^T L``."""
        return sum((signal @ self.dy_dp[g]) @ params[f"{self.prefix}.W_{g}"] for g in self.layer.cell.gates)
