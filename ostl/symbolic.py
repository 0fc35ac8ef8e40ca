"""The cells of :mod:`ostl.cells` evaluated on SymPy symbols: one description, every backend.

:meth:`ostl.cells.Cell.update` and :meth:`~ostl.cells.Cell.output_value` are written against
the small array interface of :mod:`ostl.ops`. Evaluated on the :data:`SYMPY` namespace
below, with every numeric constant of the cell (``decay``, ``alpha``, ``v_th``, ...)
replaced by a symbol of the same name, they give the cell's arithmetic as expressions;
differentiating them gives the local derivatives every learning rule is built from
(:class:`CellDerivation`), and :func:`step_statements` orders both into the statements of
one simulation step, with the per-step factors a plastic synapse needs. The Brian2 plugin
prints these statements as Brian2 abstract code and the NEST plugin as the update block
of a NESTML model, so a change to a cell's equations in :mod:`ostl.cells` reaches every
backend.

The element-wise nonlinearities stay abstract in the derivation -- the input activation
``g`` (:class:`activation`), the spike function (:class:`spike`) with its
pseudo-derivative (:class:`pseudo_derivative`) -- so that a backend may choose them at run
time (NEST models take the pseudo-derivative as a parameter). :func:`concrete` gives each
function's formula, again by evaluating the reference definition (:mod:`ostl.activations`,
:mod:`ostl.pseudo`) on symbols.

The fast NumPy derivatives of :meth:`ostl.cells.Cell.derivatives` remain the reference
engine's; ``tests/test_symbolic.py`` checks them against the symbolic ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import sympy
from sympy.core.parameters import distribute


# -- abstract element-wise functions ------------------------------------------------------
class activation_derivative(sympy.Function):  # noqa: N801 (SymPy function names print as written)
    """``g'(x)``, the derivative of the input activation (left derivative at a kink)."""

    nargs = 1


class activation(sympy.Function):  # noqa: N801
    """``g(x)``, the SNU's input activation."""

    nargs = 1

    def fdiff(self, argindex=1):
        """The derivative of ``g``: a symbol of its own."""
        return activation_derivative(self.args[0])


class pseudo_derivative(sympy.Function):  # noqa: N801
    """``psi(x)``, the pseudo-derivative standing in for the spike's derivative."""

    nargs = 1


class spike(sympy.Function):  # noqa: N801
    """``Theta(x)``: 1 if ``x > 0`` else 0; its derivative is the pseudo-derivative."""

    nargs = 1

    def fdiff(self, argindex=1):
        """The derivative of the spike: the pseudo-derivative."""
        return pseudo_derivative(self.args[0])


class sigmoid(sympy.Function):  # noqa: N801
    """The logistic function (soft SNU output)."""

    nargs = 1

    def fdiff(self, argindex=1):
        """``sigmoid (1 - sigmoid)``."""
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))


class SympyOps:
    """The :mod:`ostl.ops` interface on SymPy expressions. The spike's pseudo-derivative
    object is remembered (:attr:`pseudo`) for the backends that print it."""

    name = "sympy"

    def __init__(self):
        self.pseudo = None

    def heaviside(self, x, pseudo):
        """The spike as a symbolic function (its pseudo-derivative recorded)."""
        if pseudo is not None:
            self.pseudo = pseudo
        return spike(x)

    @staticmethod
    def sigmoid(x):
        """The symbolic sigmoid."""
        return sigmoid(x)

    @staticmethod
    def asarray(x):
        """``x`` as a SymPy expression."""
        return sympy.sympify(x)

    @staticmethod
    def abs(x):
        """``|x|``."""
        return sympy.Abs(x)

    @staticmethod
    def exp(x):
        """``exp(x)``."""
        return sympy.exp(x)

    @staticmethod
    def log(x):
        """``log(x)``."""
        return sympy.log(x)

    @staticmethod
    def tanh(x):
        """``tanh(x)``."""
        return sympy.tanh(x)

    @staticmethod
    def where(cond, a, b):
        """``a`` where ``cond``, else ``b`` (a Piecewise)."""
        return sympy.Piecewise((a, cond), (b, True))

    @staticmethod
    def maximum(x, value):
        """``max(x, value)``."""
        return sympy.Max(x, value)


SYMPY = SympyOps()   # for the formulas of activations and pseudo-derivatives (no spikes)


class _AbstractActivation:
    """Stands in for the cell's activation object in the symbolic view."""

    name = "abstract"

    def value(self, ops, x):
        return activation(x)


def symbolic_view(cell):
    """A copy of ``cell`` whose constants are symbols and whose activation is abstract."""
    view = copy.copy(cell)
    for name in cell.constants:
        setattr(view, name, sympy.Symbol(name, real=True))
    if hasattr(cell, "activation"):
        view.activation = _AbstractActivation()
    return view


# -- the derivation ---------------------------------------------------------------------------
@dataclass
class CellDerivation:
    """A cell's step and its local derivatives as expressions (notation of
    :class:`ostl.local_derivatives.LocalDerivatives`). Symbols: the state components by their names
    (the previous values in ``update``, the new ones in ``output`` and the output
    derivatives), ``y`` the previous output, ``current`` the synaptic input, the neuron
    parameter by its name, and the cell's constants."""

    cell: object
    state: tuple                # symbols of the state components
    y_prev: sympy.Symbol
    current: sympy.Symbol
    neuron_param: object        # symbol or None
    update: tuple               # new state, in the previous state
    output: object              # y in the new state
    state_decay: list           # d x d: d update_i / d state_j
    reset_path: list            # d: own-spike path into the reset component
    adaptation_path: list       # d: own-spike paths into the other components
    input_gain: list            # d: d update_i / d current
    output_gain: list           # d: d output / d state_j
    ds_dneuron_param: list = field(default_factory=list)
    dy_dneuron_param: object = 0
    pseudo: object = None       # the spike's pseudo-derivative object (None: no spike)

    @property
    def state_names(self):
        """The cell's state component names."""
        return self.cell.state_names


def derive(cell):
    """Evaluate ``cell`` on symbols and differentiate (see :class:`CellDerivation`)."""
    with distribute(False):   # keep ``c*(a + b)`` as written: the arithmetic stays the reference's
        return _derive(cell)


def _derive(cell):
    view = symbolic_view(cell)
    state = tuple(sympy.Symbol(name, real=True) for name in cell.state_names)
    y_prev = sympy.Symbol("y", real=True)
    current = sympy.Symbol("current", real=True)
    param = sympy.Symbol(cell.neuron_param, real=True) if cell.neuron_param else sympy.Integer(0)
    ops = SympyOps()
    update = tuple(view.update(ops, state, y_prev, current, param))
    output = view.output_value(ops, state, param)
    d = len(state)
    own = [sympy.diff(update[i], y_prev) for i in range(d)]
    return CellDerivation(
        cell=cell, state=state, y_prev=y_prev, current=current,
        neuron_param=param if cell.neuron_param else None,
        update=update, output=output,
        state_decay=[[sympy.diff(update[i], state[j]) for j in range(d)] for i in range(d)],
        reset_path=[own[i] if i == cell.reset_state else sympy.Integer(0) for i in range(d)],
        adaptation_path=[sympy.Integer(0) if i == cell.reset_state else own[i] for i in range(d)],
        input_gain=[sympy.diff(update[i], current) for i in range(d)],
        output_gain=[sympy.diff(output, state[j]) for j in range(d)],
        ds_dneuron_param=[sympy.diff(update[i], param) for i in range(d)] if cell.neuron_param else [],
        dy_dneuron_param=sympy.diff(output, param) if cell.neuron_param else sympy.Integer(0),
        pseudo=ops.pseudo,
    )


# -- names of the per-step factors (the same in every backend) -----------------------------
def jacobian_name(cell, i, j):
    """``jacobian`` (one state component) or ``jacobian_<i><j>`` (e.g. ``jacobian_va``)."""
    if cell.state_size == 1:
        return "jacobian"
    return f"jacobian_{cell.state_names[i]}{cell.state_names[j]}"


def output_gain_name(cell, j):
    """``pseudo_derivative`` (dy/d of the first component), ``pseudo_derivative_<name>``."""
    return "pseudo_derivative" if j == 0 else f"pseudo_derivative_{cell.state_names[j]}"


def input_gain_name(cell, i):
    """The name of the input gain of state component ``i``."""
    return "input_gain" if i == 0 else f"input_gain_{cell.state_names[i]}"


def state_label(cell, i):
    """Suffix of the eligibility-vector component of state ``i`` (``""``, ``"_a"``)."""
    return "" if i == 0 else f"_{cell.state_names[i]}"


@dataclass
class Statement:
    """``name = expr``; ``temporary``: a value of this step only (not a model variable)."""

    name: str
    expr: object
    temporary: bool = False


@dataclass
class StepCode:
    """The statements of one step (:func:`step_statements`) and what a synapse reads."""

    derivation: CellDerivation
    statements: list
    #: per component: the factor's variable name, or its constant value (a number)
    jacobian: list
    input_gain: list
    output_gain: list
    factor_variables: list      # names of the factor variables the statements assign
    param_variables: list       # names of the neuron parameter's eligibility variables


def _constant(expr):
    return expr.is_number


def step_statements(cell, keep_reset_path, neuron_param_traces=False):
    """The statements of one step of ``cell``, in the reference engine's order.

    First the factors that combine the previous step's values (the Jacobian that carries
    the eligibility vectors, ``J = state_decay + (keep_reset_path * reset_path +
    adaptation_path) (x) output_gain^{t-1}``, the input gain and, with
    ``neuron_param_traces``, the neuron parameter's eligibility vector), then the new
    state, ``y_prev``, the output ``y`` and the output gains (pseudo-derivatives) of the
    new state, and the slope ``dy/dI`` that weights learning signals passed down.

    ``keep_reset_path``: ``True``/``False`` (OSTL / e-prop traces,
    :attr:`ostl.rules.Rule.keep_reset_path`) or a symbol for a run-time choice.
    """
    der = derive(cell)
    d = len(der.state)
    keep = sympy.Integer(int(keep_reset_path)) if isinstance(keep_reset_path, bool) else keep_reset_path
    statements = []

    # the factors' variables (or constants); the previous output gains are read before
    # the state changes, which is what the Jacobian needs
    q_prev = []
    output_gain = []
    for j in range(d):
        if _constant(der.output_gain[j]):
            q_prev.append(der.output_gain[j])
            output_gain.append(der.output_gain[j])
        else:
            q_prev.append(sympy.Symbol(output_gain_name(cell, j), real=True))
            output_gain.append(output_gain_name(cell, j))
    input_gain, c_symbols, named_gains = [], [], {}
    for i in range(d):
        if _constant(der.input_gain[i]):
            input_gain.append(der.input_gain[i])
            c_symbols.append(der.input_gain[i])
        else:
            symbol = sympy.Symbol(input_gain_name(cell, i), real=True)
            input_gain.append(input_gain_name(cell, i))
            c_symbols.append(symbol)
            named_gains[der.input_gain[i]] = symbol
            statements.append(Statement(input_gain_name(cell, i), der.input_gain[i]))

    def with_gains(expr):
        return expr.subs(named_gains) if named_gains else expr

    own = [keep * der.reset_path[i] + der.adaptation_path[i] for i in range(d)]
    jacobian = []
    for i in range(d):
        row = []
        for j in range(d):
            expr = with_gains(der.state_decay[i][j] + own[i] * q_prev[j])
            if _constant(expr):
                row.append(expr)
            else:
                row.append(jacobian_name(cell, i, j))
                statements.append(Statement(jacobian_name(cell, i, j), expr))
        jacobian.append(row)

    param_variables = []
    pname = cell.neuron_param
    if neuron_param_traces and pname:
        # eps_b^t = A eps_b^{t-1} + own e_b^{t-1} + ds/db;  e_b^t = q . eps_b^t + dy/db
        vectors = [sympy.Symbol(f"{pname}_eligibility_vector{state_label(cell, i)}", real=True) for i in range(d)]
        trace = sympy.Symbol(f"{pname}_eligibility_trace", real=True)
        for i in range(d):
            expr = sum((der.state_decay[i][j] * vectors[j] for j in range(d)), sympy.Integer(0)) \
                + own[i] * trace + der.ds_dneuron_param[i]
            statements.append(Statement(vectors[i].name, with_gains(expr)))
        param_variables = [v.name for v in vectors] + [trace.name]

    # the state (every component from the previous values), the output and its gains
    overwritten = [der.state[i] for i in range(d) if der.update[i].free_symbols & set(der.state[i + 1:]) or
                   any(der.update[k].has(der.state[i]) for k in range(i + 1, d))]
    for i in range(d):   # components read by a later update are computed into temporaries first
        name = cell.state_names[i]
        if der.state[i] in overwritten:
            statements.append(Statement(f"{name}_new", der.update[i], temporary=True))
        else:
            statements.append(Statement(name, der.update[i]))
    for i in range(d):
        if der.state[i] in overwritten:
            name = cell.state_names[i]
            statements.append(Statement(name, sympy.Symbol(f"{name}_new", real=True)))
    statements.append(Statement("y_prev", der.y_prev))
    statements.append(Statement("y", der.output))
    named_q = {}
    for j in range(d):
        if isinstance(output_gain[j], str):   # later gains in terms of earlier ones (ALIF: -beta q_v)
            statements.append(Statement(output_gain[j], der.output_gain[j].subs(named_q) if named_q
                                        else der.output_gain[j]))
            named_q[der.output_gain[j]] = q_prev[j]
    # d y / d I = sum_j q_j c_j, in the variables just computed
    slope = sum((q_prev[j] * c_symbols[j] for j in range(d)), sympy.Integer(0))
    statements.append(Statement("slope", slope))
    if param_variables:
        expr = sum((q_prev[j] * vectors[j] for j in range(d)), sympy.Integer(0)) \
            + der.dy_dneuron_param.subs(named_q)
        statements.append(Statement(trace.name, expr))
    factor_variables = [s.name for s in statements
                        if not s.temporary and s.name not in cell.state_names + ("y", "y_prev", "slope")
                        and s.name not in param_variables]
    return StepCode(der, statements, jacobian, input_gain, output_gain, factor_variables, param_variables)


# -- concrete element-wise functions ----------------------------------------------------------
def concrete(function, owner, x):
    """The formula of an abstract function for a concrete activation or pseudo-derivative
    ``owner`` (:mod:`ostl.activations`, :mod:`ostl.pseudo`), evaluated on ``x``.

    ``function`` is one of :class:`activation`, :class:`activation_derivative`,
    :class:`pseudo_derivative`."""
    with distribute(False):
        if function is activation:
            return owner.value(SYMPY, x)
        if function is activation_derivative:
            dummy = sympy.Dummy("x", real=True)
            return sympy.diff(owner.value(SYMPY, dummy), dummy).subs(dummy, x)
        if function is pseudo_derivative:
            return owner.derivative(SYMPY, x)
    raise ValueError(f"no concrete form of {function}")


def symbolic_parameters(owner, prefix):
    """A copy of an activation or pseudo-derivative whose numeric parameters are symbols
    ``<prefix>_<name>`` (for a backend that sets them at run time)."""
    view = copy.copy(owner)
    for name in owner.spec():
        if name != "name":
            setattr(view, name, sympy.Symbol(f"{prefix}_{name}", real=True))
    return view


# -- the derivatives as NumPy functions -----------------------------------------------------
def numpy_derivatives(cell):
    """A NumPy function with the signature of :meth:`ostl.cells.Cell.derivatives`, made from
    the symbolic derivatives (``sympy.lambdify``). It is what a cell without hand-written
    derivatives uses, and what the fast NumPy derivatives are tested against."""
    import numpy as np

    from .local_derivatives import LocalDerivatives
    from .ops import NUMPY

    der = derive(cell)
    functions = {pseudo_derivative: der.pseudo, activation: getattr(cell, "activation", None),
                 activation_derivative: getattr(cell, "activation", None)}
    constants = {sympy.Symbol(name, real=True): getattr(cell, name) for name in cell.constants}

    def numeric(expr):
        expr = sympy.sympify(expr)
        for function, owner in functions.items():
            if owner is not None:
                expr = expr.replace(function, lambda x, f=function, o=owner: concrete(f, o, x))
        return expr.subs(constants)

    args = [*der.state, der.y_prev, der.current, sympy.Symbol(cell.neuron_param or "_param", real=True)]
    modules = [{"Max": np.maximum, "sigmoid": NUMPY.sigmoid, "spike": lambda x: NUMPY.heaviside(x, None)}, "numpy"]
    d = cell.state_size

    def compile_(exprs):
        return sympy.lambdify(args, [numeric(e) for e in exprs], modules=modules)

    at_previous = compile_([*(der.state_decay[i][j] for i in range(d) for j in range(d)), *der.reset_path,
                            *der.adaptation_path, *der.input_gain,
                            *(der.ds_dneuron_param or [sympy.Integer(0)] * d)])
    at_new = compile_([*der.output_gain, der.dy_dneuron_param])

    def derivatives(state_prev, y_prev, current, state, y, neuron_param=None):
        shape = np.shape(state[0])
        param = 0.0 if neuron_param is None else neuron_param
        values = [np.broadcast_to(np.asarray(v, dtype=np.float64), shape)
                  for v in at_previous(*state_prev, y_prev, current, param)]
        gains = [np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in at_new(*state, y, current, param)]
        stack = lambda items: np.stack(items, axis=-1)  # noqa: E731
        decay = stack(values[:d * d]).reshape(shape + (d, d))
        k = d * d
        return LocalDerivatives(
            state_decay=decay,
            reset_path=stack(values[k:k + d]),
            adaptation_path=stack(values[k + d:k + 2 * d]),
            input_gain=stack(values[k + 2 * d:k + 3 * d]),
            output_gain=stack(gains[:d]),
            ds_dneuron_param=stack(values[k + 3 * d:k + 4 * d]),
            dy_dneuron_param=np.array(gains[d]),
        )

    return derivatives
