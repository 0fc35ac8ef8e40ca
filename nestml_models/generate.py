"""NESTML models generated from the reference engine's cells.

The files in ``models/`` are Jinja2 templates of NESTML models: each declares one model's
documentation header, parameters (with units, defaults and invariants) and state; the
cell's arithmetic -- the factors of the previous step, the state update, the spike and the
pseudo-derivatives -- is generated from :mod:`ostl.cells` by :func:`ostl.symbolic.step_statements`
and printed here as NESTML. The choices a NEST model makes at run time (the
pseudo-derivative, the SNU's input activation) are string parameters; every choice's
formula is the reference definition (:mod:`ostl.pseudo`, :mod:`ostl.activations`)
evaluated on symbols, with its numeric parameters as NESTML parameters
(``pseudo_slope``, ``pseudo_gamma``, ``activation_alpha``). ``keep_reset_path`` (OSTL 1,
e-prop 0) stays a run-time parameter.

:func:`write_models` writes the rendered ``.nestml`` files (``nestml_models.build`` does
so before every build) and :func:`choices_header` the C++ table of the choice names that
``ostl_checked.h`` enforces.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import sympy
from sympy.printing.str import StrPrinter

from ostl import symbolic
from ostl.activations import ACTIVATIONS
from ostl.cells import ALIF, LIF, SNU, SoftResetSNU
from ostl.errors import ParameterError
from ostl.pseudo import PSEUDO_DERIVATIVES

MODELS_DIR = Path(__file__).resolve().parent / "models"

#: NEST model -> the reference cell it is generated from (spiking output: NEST sends spikes)
CELL_MODELS = {
    "snu_neuron": SNU(output="step"),
    "soft_reset_snu_neuron": SoftResetSNU(output="step"),
    "lif_neuron": LIF(),
    "alif_neuron": ALIF(),
}
#: the input activations an SNU can use on NEST (those of ostl.cells.SNU)
SNU_ACTIVATIONS = ("identity", "relu", "leaky_relu")
#: reference names that NESTML reserves (``s`` is the unit second): the NEST name
NEST_NAMES = {"s": "V_m", "current": "input_current"}
#: NESTML models written by hand (not cells): copied as they are
PLAIN_MODELS = ("readout_neuron",)
#: choice parameters of every model: parameter -> allowed names (ostl_choices.h)
CHOICES = {
    "snu_neuron": {"pseudo": tuple(PSEUDO_DERIVATIVES), "activation": SNU_ACTIVATIONS},
    "soft_reset_snu_neuron": {"pseudo": tuple(PSEUDO_DERIVATIVES)},
    "lif_neuron": {"pseudo": tuple(PSEUDO_DERIVATIVES)},
    "alif_neuron": {"pseudo": tuple(PSEUDO_DERIVATIVES)},
    "readout_neuron": {"activation": ("linear", "sigmoid", "softmax")},
}


def nest_name(name):
    """The NEST name of a reference quantity (the same name unless NESTML reserves it)."""
    return NEST_NAMES.get(name, name)


class NestmlPrinter(StrPrinter):
    """Print an expression as NESTML. Abstract functions become a choice over the
    model's string parameter (``pseudo``, ``activation``) with every choice's formula."""

    def __init__(self, choices):
        super().__init__({"order": "none"})
        self.choices = choices   # abstract function -> (parameter, {name: owner object})

    def _print_Symbol(self, expr):
        return nest_name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):   # as a real: NESTML's ternaries want one type
        return repr(float(expr))

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Integer and expr.exp > 0:
            return f"{self.parenthesize(expr.base, 1000)}**{int(expr.exp)}"
        return super()._print_Pow(expr, rational)

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        first, *rest = expr.args
        out = self._print(first)
        for arg in rest:
            out = f"max({out}, {self._print(arg)})"
        return out

    def _print_Piecewise(self, expr):
        (value, condition), *rest = expr.args
        if condition is sympy.true:
            return self._print(value)
        tail = sympy.Piecewise(*rest) if rest else sympy.Integer(0)
        return f"(({self._print(condition)}) ? ({self._print(value)}) : ({self._print(tail)}))"

    def _print_Function(self, expr):
        function = type(expr)
        if function in (symbolic.spike, symbolic.sigmoid):
            raise ParameterError("NEST models send spikes: the output is printed as a spike statement")
        if function in self.choices:
            parameter, options = self.choices[function]
            (argument,) = expr.args
            names = list(options)
            out = self._print(symbolic.concrete(function, options[names[-1]], argument))
            for name in reversed(names[:-1]):
                formula = self._print(symbolic.concrete(function, options[name], argument))
                out = f'(({parameter} == "{name}") ? ({formula}) : ({out}))'
            return out
        return super()._print_Function(expr)


def _choices(cell):
    """Every choice of the model's run-time parameters, with symbolic numeric parameters."""
    pseudos = {name: symbolic.symbolic_parameters(cls(), "pseudo") for name, cls in PSEUDO_DERIVATIVES.items()}
    choices = {symbolic.pseudo_derivative: ("pseudo", pseudos)}
    if hasattr(cell, "activation"):
        activations = {name: symbolic.symbolic_parameters(ACTIVATIONS[name](), "activation")
                       for name in SNU_ACTIVATIONS}
        choices[symbolic.activation] = choices[symbolic.activation_derivative] = ("activation", activations)
    return choices


def cell_code(model):
    """The generated parts of a cell model's NESTML: ``factors`` (state declarations of
    the per-step factors), ``rest`` (the resting state at trial starts and pauses) and
    ``step`` (the statements of one step)."""
    cell = CELL_MODELS[model]
    # with the neuron parameter's own eligibility vector and trace (bias_eligibility_trace, ...), which
    # the learning neuron reads when it learns that parameter (ostl_learning_neurons.h)
    code = symbolic.step_statements(cell, sympy.Symbol("keep_reset_path", real=True),
                                    neuron_param_traces=cell.neuron_param is not None)
    printer = NestmlPrinter(_choices(cell))
    initial = {name: "1" for name in code.input_gain if isinstance(name, str)}   # g' of a resting SNU
    factors = [f"{nest_name(name)} real = {initial.get(name, '0')}"
               for name in (*code.factor_variables, *code.param_variables)]
    # rest: the state, outputs and the factors carried to the next step (input gains are
    # recomputed before they are read)
    resting = [*cell.state_names, "y", "y_prev", "input_current",
               *(name for name in code.factor_variables if name not in initial), *code.param_variables, "slope"]
    rest = [f"{nest_name(name)} = 0" for name in resting]
    step = []
    for statement in code.statements:
        if isinstance(statement.expr, symbolic.spike):
            (argument,) = statement.expr.args
            step += [f"{statement.name} = 0", f"if {printer.doprint(argument)} > 0:", f"    {statement.name} = 1",
                     "    emit_spike()"]
            continue
        declaration = " real" if statement.temporary else ""
        step.append(f"{nest_name(statement.name)}{declaration} = {printer.doprint(statement.expr)}")
    # the spike statement goes last, as NEST expects the emission at the end of the update
    return {"factors": "\n".join(factors), "rest": "\n".join(rest), "step": "\n".join(_spike_last(step))}


def _spike_last(lines):
    start = next(i for i, line in enumerate(lines) if line.startswith("y = 0"))
    return lines[:start] + lines[start + 4:] + lines[start:start + 4]


def _environment():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(MODELS_DIR)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def render(model):
    """The NESTML source of ``model``."""
    if model in PLAIN_MODELS:
        return (MODELS_DIR / f"{model}.nestml").read_text()
    return _environment().get_template(f"{model}.nestml.jinja2").render(model=model, **cell_code(model))


def model_names():
    """The NESTML models of the module: those generated from the reference cells, then the plain ones."""
    return list(CELL_MODELS) + list(PLAIN_MODELS)


def write_models(directory):
    """Write every model's ``.nestml`` into ``directory``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for model in model_names():
        path = directory / f"{model}.nestml"
        path.write_text(render(model))
        paths.append(path)
    return paths


def choices_header():
    """C++ source of ``ostl_choices.h``: the allowed names of every choice parameter, and each cell
    model's own learnable parameter (its reference cell's ``neuron_param``: the accessors of the
    value and of the eligibility trace the model computes, ``neuron_parameter``)."""
    lines = ["// ostl_choices.h -- generated by nestml_models/generate.py from the reference engine's",
             "// pseudo-derivatives, activations and cells; read by ostl_checked.h and",
             "// ostl_learning_neurons.h. Do not edit.",
             "#ifndef OSTL_CHOICES_H", "#define OSTL_CHOICES_H", "", '#include "ostl_checked.h"', ""]
    lines += [f'#include "{model}.h"' for model in dict.fromkeys([*CHOICES, *CELL_MODELS])]
    lines += ["", "namespace ostl", "{"]
    for model, choices in CHOICES.items():
        entries = ", ".join("{ \"%s\", { %s } }" % (parameter, ", ".join(f'"{n}"' for n in names))
                            for parameter, names in choices.items())
        lines += ["template <>", f"struct model_choices< {model} >", "{",
                  "  static const std::vector< Choice >&", "  get()", "  {",
                  f"    static const std::vector< Choice > choices{{ {entries} }};", "    return choices;", "  }",
                  "};", ""]
    for model, cell in CELL_MODELS.items():
        name = cell.neuron_param
        if name is None:
            continue
        lines += ["template <>", f"struct neuron_parameter< {model} >", "{",
                  "  static constexpr bool exists = true;",
                  "  static double", f"  trace( const {model}& n )", "  {",
                  f"    return n.get_{name}_eligibility_trace();", "  }",
                  "  static double", f"  get( const {model}& n )", "  {", f"    return n.get_{name}();", "  }",
                  "  static void", f"  set( {model}& n, double value )", "  {", f"    n.set_{name}( value );", "  }",
                  "};", ""]
    lines += ["}  // namespace ostl", "", "#endif", ""]
    return "\n".join(lines)
