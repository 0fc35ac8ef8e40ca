"""Brian2 translations of the reference engine's cells (:mod:`ostl.cells`).

Each translation turns a validated ``ostl`` cell into

* the model equations of a :class:`brian2.NeuronGroup` (all quantities are in units of
  the model, i.e. dimensionless, as in the SNU/e-prop papers; time constants enter
  through ``exp(-dt/tau)`` with ``dt`` the simulation step), and
* the statements of one time step, in the order of the reference engine, which also
  expose the per-step factors a plastic synapse needs:

  ``pseudo_derivative`` (``q = dy/ds``), ``input_gain`` (``c = ds/dI``), ``jacobian``
  (``J = ds^t/ds^{t-1}`` as the chosen trace kind carries it: the total own-neuron
  derivative for OSTL, e-prop's partial derivative), ``slope`` (``dy/dI``, used to pass
  learning signals down), and ``learning_signal`` (``L``, summed from a feedback pathway).

Variables ending in ``_prev`` hold the value of the previous step: together with the
factors they are the neuron's "short history" a synapse reads.
"""

from __future__ import annotations

from ostl.cells import ALIF, LIF, SNU, SoftResetSNU
from ostl.errors import ParameterError

from . import expressions as ex

COMMON_MODEL = """
y : 1                      # output y^t (spike 0/1, or the sigmoid of a soft SNU)
y_prev : 1                 # output of the previous step, y^{t-1}
input_current : 1          # sum_i W_ji x_i^t, summed by the feed-forward synapses
recurrent_current : 1      # sum_i H_ji y_i^{t-1}, summed by the recurrent synapses
learning_signal : 1        # L_j^t, summed by the learning-signal pathway
slope : 1                  # dy^t/dI^t, weights the learning signal passed to the layer below
output_filtered : 1        # y filtered with the readout leak (readout-weight eligibility)
"""


class Brian2Cell:
    """Base of the translations. ``trace_kind`` is 'exact' / 'no_h' (keep the reset
    path in the Jacobian) or 'eprop' (drop it)."""

    #: names of the synapse-visible factors, per state component
    jacobian_names = (("jacobian",),)
    output_gain_names = ("pseudo_derivative",)
    input_gain_names = ("input_gain",)
    #: suffixes of the synaptic eligibility-vector components: ``eligibility_vector``
    #: (the membrane/state component) and, for ALIF, ``eligibility_vector_a``
    state_labels = ("",)
    neuron_param = None  # Brian2 name of the trainable per-neuron parameter

    def __init__(self, cell, trace_kind):
        self.cell = cell
        self.keep_reset = trace_kind != "eprop"

    def model(self):
        return COMMON_MODEL + self.extra_model()

    def dynamic_variables(self):
        """Per-trial state (zeroed at trial starts): every declared variable except
        parameters, the trainable neuron parameter and the summed inputs."""
        names = []
        for line in self.model().splitlines():
            line = line.split("#")[0].strip()
            if ":" not in line or "(constant" in line:
                continue
            name = line.split(":")[0].strip()
            if name not in ("input_current", "recurrent_current", "learning_signal", self.neuron_param):
                names.append(name)
        return names

    def namespace(self):
        return {}


class SNUCell(Brian2Cell):
    """OSTL eq. 1-2: ``s = g(I + d s (1 - y))``, ``y = h(s + b)``."""

    neuron_param = "bias"

    def extra_model(self):
        return """
s : 1                      # membrane potential s^t
bias : 1                   # b, the negative threshold (trainable)
pseudo_derivative : 1      # q = h'(s + b) = dy^t/ds^t
input_gain : 1             # c = g'(I + d s^{t-1}(1 - y^{t-1})) = ds^t/dI^t
jacobian : 1               # J = ds^t/ds^{t-1} carried by the eligibility vectors
state_decay : 1            # A = g' d (1 - y^{t-1})
reset_path : 1             # ds^t/dy^{t-1} = -g' d s^{t-1}
bias_eligibility_vector : 1
bias_eligibility_trace : 1
decay : 1 (constant, shared)
"""

    def update(self):
        c = self.cell
        g = ex.activation(c.activation, "net_input")
        g_prime = ex.activation_derivative(c.activation, "net_input")
        if c.output == "step":
            h, h_prime = ex.heaviside("s + bias"), ex.pseudo_derivative(c.pseudo, "s + bias")
        else:
            h = ex.sigmoid("s + bias")
            h_prime = f"({h})*(1 - {h})"
        own = "reset_path" if self.keep_reset else "0"
        return f"""
net_input = input_current + recurrent_current + decay*s*(1 - y)
input_gain = {g_prime}
state_decay = input_gain*decay*(1 - y)
reset_path = -input_gain*decay*s
jacobian = state_decay + {own}*pseudo_derivative
bias_eligibility_vector = state_decay*bias_eligibility_vector + {own}*bias_eligibility_trace
s = {g}
y_prev = y
y = {h}
pseudo_derivative = {h_prime}
slope = pseudo_derivative*input_gain
bias_eligibility_trace = pseudo_derivative*bias_eligibility_vector + pseudo_derivative
"""

    def initial_values(self):
        return {"decay": self.cell.decay}


class SoftResetSNUCell(Brian2Cell):
    """OSTTP eq. 3-4: ``s = I + d s - y b``, ``y = h(s - b)``."""

    neuron_param = "threshold"
    input_gain_names = ("1.0",)

    def extra_model(self):
        return """
s : 1                      # membrane potential s^t
threshold : 1              # b (trainable); subtracted from s at a spike
pseudo_derivative : 1      # q = h'(s - b)
jacobian : 1               # J = ds^t/ds^{t-1} carried by the eligibility vectors
threshold_eligibility_vector : 1
threshold_eligibility_trace : 1
decay : 1 (constant, shared)
"""

    def update(self):
        c = self.cell
        if c.output == "step":
            h, h_prime = ex.heaviside("s - threshold"), ex.pseudo_derivative(c.pseudo, "s - threshold")
        else:
            h = ex.sigmoid("s - threshold")
            h_prime = f"({h})*(1 - {h})"
        own = "(-threshold)" if self.keep_reset else "0"
        return f"""
jacobian = decay + {own}*pseudo_derivative
threshold_eligibility_vector = decay*threshold_eligibility_vector + {own}*threshold_eligibility_trace - y
s = input_current + recurrent_current + decay*s - y*threshold
y_prev = y
y = {h}
pseudo_derivative = {h_prime}
slope = pseudo_derivative
threshold_eligibility_trace = pseudo_derivative*threshold_eligibility_vector - pseudo_derivative
"""

    def initial_values(self):
        return {"decay": self.cell.decay}


class LIFCell(Brian2Cell):
    """e-prop eq. 20-21: ``v = alpha v + I - v_th z^{t-1}``, ``z = Theta((v - v_th)/v_th)``."""

    input_gain_names = ("1.0",)

    def extra_model(self):
        return """
v : 1                      # membrane potential (in units of the model)
pseudo_derivative : 1      # h = psi((v - v_th)/v_th)/v_th = dz/dv
jacobian : 1               # J = dv^t/dv^{t-1} carried by the eligibility vectors
tau_m : second (constant, shared)
v_th : 1 (constant, shared)
"""

    def update(self):
        own = "(-v_th)" if self.keep_reset else "0"
        psi = ex.pseudo_derivative(self.cell.pseudo, "(v - v_th)/v_th")
        return f"""
jacobian = exp(-dt/tau_m) + {own}*pseudo_derivative
v = exp(-dt/tau_m)*v + input_current + recurrent_current - v_th*y
y_prev = y
y = {ex.heaviside("(v - v_th)/v_th")}
pseudo_derivative = {psi}/v_th
slope = pseudo_derivative
"""

    def initial_values(self):
        from brian2 import ms

        return {"tau_m": self.cell.tau_m * ms, "v_th": self.cell.v_th}


class ALIFCell(Brian2Cell):
    """e-prop eq. 20, 25-26: LIF with the adaptive threshold ``A = v_th + beta a``,
    ``a = rho a + z^{t-1}``; two-component eligibility vectors ``(eps_v, eps_a)``."""

    jacobian_names = (("jacobian_vv", "jacobian_va"), ("jacobian_av", "jacobian_aa"))
    output_gain_names = ("pseudo_derivative", "pseudo_derivative_a")
    input_gain_names = ("1.0", "0.0")
    state_labels = ("", "_a")  # eligibility_vector (membrane component) and eligibility_vector_a

    def extra_model(self):
        return """
v : 1                      # membrane potential
a : 1                      # threshold adaptation
pseudo_derivative : 1      # h = psi(u)/v_th = dz/dv, u = (v - v_th - beta a)/v_th
pseudo_derivative_a : 1    # dz/da = -beta h
jacobian_vv : 1            # the 2 x 2 Jacobian d(v, a)^t/d(v, a)^{t-1}
jacobian_va : 1
jacobian_av : 1
jacobian_aa : 1
tau_m : second (constant, shared)
tau_a : second (constant, shared)
beta : 1 (constant, shared)
v_th : 1 (constant, shared)
"""

    def update(self):
        reset = "1" if self.keep_reset else "0"
        psi = ex.pseudo_derivative(self.cell.pseudo, "(v - v_th - beta*a)/v_th")
        return f"""
jacobian_vv = exp(-dt/tau_m) - {reset}*v_th*pseudo_derivative
jacobian_va = -{reset}*v_th*pseudo_derivative_a
jacobian_av = pseudo_derivative
jacobian_aa = exp(-dt/tau_a) + pseudo_derivative_a
v = exp(-dt/tau_m)*v + input_current + recurrent_current - v_th*y
a = exp(-dt/tau_a)*a + y
y_prev = y
y = {ex.heaviside("(v - v_th - beta*a)/v_th")}
pseudo_derivative = {psi}/v_th
pseudo_derivative_a = -beta*pseudo_derivative
slope = pseudo_derivative
"""

    def initial_values(self):
        from brian2 import ms

        c = self.cell
        return {"tau_m": c.tau_m * ms, "tau_a": c.tau_a * ms, "beta": c.beta, "v_th": c.v_th}


TRANSLATIONS = {SNU: SNUCell, SoftResetSNU: SoftResetSNUCell, LIF: LIFCell, ALIF: ALIFCell}


def translate_cell(cell, trace_kind):
    try:
        return TRANSLATIONS[type(cell)](cell, trace_kind)
    except KeyError:
        raise ParameterError(f"cell {cell!r} has no Brian2 translation") from None
