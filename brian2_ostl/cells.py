"""Brian2 translations of the reference engine's cells (:mod:`ostl.cells`), generated.

Nothing here is written per cell: :func:`ostl.symbolic.step_statements` evaluates the
cell's own ``update`` and ``output_value`` on symbols and differentiates them, and this
module prints the result as

* the model equations of a :class:`brian2.NeuronGroup` (all quantities in units of the
  model, i.e. dimensionless, as in the SNU/e-prop papers; the cell's constants --
  ``decay``, ``alpha = exp(-dt/tau_m)``, ``v_th``, ... -- are shared constants set from
  the reference cell), and
* the statements of one time step, in the order of the reference engine, which also
  expose the per-step factors a plastic synapse needs:

  ``pseudo_derivative`` (``q = dy/ds``; ``pseudo_derivative_a`` for a second state
  component), ``input_gain`` (``c = ds/dI``, where it is not a constant), ``jacobian``
  (``J = ds^t/ds^{t-1}`` as the chosen trace kind carries it: the total own-neuron
  derivative for OSTL, e-prop's partial derivative; ``jacobian_va`` ... for two
  components), ``slope`` (``dy/dI``, used to pass learning signals down), and
  ``learning_signal`` (``L``, summed from a feedback pathway).

``y_prev`` holds the previous step's output: with the factors it is the neuron's "short
history" a synapse reads.
"""

from __future__ import annotations

from ostl import symbolic
from ostl.errors import ParameterError
from ostl.rules import keep_reset_path

from .expressions import Brian2Printer, number

COMMON_MODEL = """
y : 1                      # output y^t (spike 0/1, or the sigmoid of a soft SNU)
y_prev : 1                 # output of the previous step, y^{t-1}
input_current : 1          # sum_i W_ji x_i^t, summed by the feed-forward synapses
recurrent_current : 1      # sum_i H_ji y_i^{t-1}, summed by the recurrent synapses
learning_signal : 1        # L_j^t, summed by the learning-signal pathway
slope : 1                  # dy^t/dI^t, weights the learning signal passed to the layer below
output_filtered : 1        # y filtered with the readout leak (readout-weight eligibility)
"""

#: the synaptic input of a step: both summed inputs
CURRENT = "current = input_current + recurrent_current"


class Brian2Cell:
    """The Brian2 translation of one reference cell for one trace kind ('exact' /
    'no_h' keep the reset path in the Jacobian, 'eprop' drops it)."""

    def __init__(self, cell, trace_kind):
        self.cell = cell
        self.keep_reset = keep_reset_path(trace_kind)
        self.code = symbolic.step_statements(cell, self.keep_reset, neuron_param_traces=cell.neuron_param is not None)
        functions = {symbolic.pseudo_derivative: self.code.derivation.pseudo}
        if hasattr(cell, "activation"):
            functions[symbolic.activation] = functions[symbolic.activation_derivative] = cell.activation
        self.printer = Brian2Printer(functions)
        d = cell.state_size
        #: what the synapses read: a variable name, or the printed constant
        self.jacobian_names = tuple(tuple(self._name(self.code.jacobian[i][j]) for j in range(d)) for i in range(d))
        self.output_gain_names = tuple(self._name(q) for q in self.code.output_gain)
        self.input_gain_names = tuple(self._name(c) for c in self.code.input_gain)
        #: suffixes of the synaptic eligibility-vector components: ``eligibility_vector``
        #: (the first state component) and e.g. ``eligibility_vector_a`` (ALIF)
        self.state_labels = tuple(symbolic.state_label(cell, i) for i in range(d))
        #: Brian2 name of the trainable per-neuron parameter
        self.neuron_param = cell.neuron_param

    @staticmethod
    def _name(value):
        return value if isinstance(value, str) else number(value)

    def model(self):
        """The NeuronGroup's model lines: the state, the trace factors, the neuron parameter and its traces, the
        constants."""
        lines = [f"{name} : 1" for name in self.cell.state_names]
        lines += [f"{name} : 1" for name in self.code.factor_variables]
        if self.neuron_param:
            lines.append(f"{self.neuron_param} : 1")
            lines += [f"{name} : 1" for name in self.code.param_variables]
        lines += [f"{name} : 1 (constant, shared)" for name in self.cell.constants]
        return COMMON_MODEL + "\n".join(lines) + "\n"

    def update(self):
        """The statements of one step (Brian2 abstract code)."""
        lines = [CURRENT]
        for statement in self.code.statements:
            lines.append(f"{statement.name} = {self.printer.doprint(statement.expr)}")
        return "\n".join(lines) + "\n"

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

    def initial_values(self):
        """The shared constants, from the reference cell."""
        return {name: float(getattr(self.cell, name)) for name in self.cell.constants}

    def namespace(self):
        """Extra names the cell's equations read (none: the constants are shared variables)."""
        return {}


def translate_cell(cell, trace_kind):
    """The Brian2 translation of ``cell`` with eligibility traces of ``trace_kind``; a cell without one is refused
    with a ParameterError."""
    try:
        return Brian2Cell(cell, trace_kind)
    except ParameterError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise ParameterError(f"cell {cell!r} has no Brian2 translation ({exc})") from None
