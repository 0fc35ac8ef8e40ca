"""Command line: ``ostl train``, ``ostl grad``, ``ostl compare``, ``ostl make-problem``, and the
sub-commands of the installed plugins (``ostl build-nest``, ``ostl spinnaker-build``,
``ostl pcm-sim``, ...).

Every option is declared once (:class:`~ostl.options.Option`: its type, range, choices and owner):
the core's here, each task's on its class (:attr:`ostl.taskbase.Task.options`), each backend's
and synapse model's in its plugin. Choices come from the registries (tasks, rules, optimisers,
backends, synapse models). Errors in the input (bad option values, malformed files) print one
line to stderr and exit with status 2 before anything is simulated; set ``OSTL_DEBUG=1`` to see
the traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

from . import presets, synapses
from .backends import get_plugin, plugins
from .cells import CELLS
from .errors import DivergenceError, OSTLError, ParameterError
from .gated import GATED_CELLS
from .online import MODES
from .optim import OPTIMIZERS
from .options import Option
from .plotting import plot_training
from .problem import (
    COMPARED_RULES,
    GRAD_KEYS,
    load_problem,
    problem_gradients,
    random_problem,
    relative_deviation,
    save_problem,
)
from .regularisation import FiringRateRegularisation
from .rules import FEEDBACK_KINDS, RULE_NAMES, TRACE_KINDS, make_rule
from .tasks import TASKS, make_task
from .training import ON_DIVERGENCE, Trainer
from .validation import check_int, check_positive, check_range

EXIT_USAGE = 2
EXIT_DIVERGED = 3   # training stopped at a non-finite loss, gradient, weight or state


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _fail(message, code=EXIT_USAGE):
    sys.stderr.write(f"ostl: error: {message}\n")
    return code


# -- the options of ``ostl train`` -----------------------------------------------------------------
#: what the run is (saved in its checkpoint: refused beside --resume), besides the task's and the
#: synapse model's options
RUN_OPTIONS = (
    Option("--task", "task", "; ".join(f"{name}: {TASKS[name].summary}" for name in TASKS), choices=tuple(TASKS)),
    Option("--rule", "rule", "bptt: the autodiff gradient (PyTorch), same trainer", choices=RULE_NAMES),
    Option("--feedback", "feedback", "override the rule's learning-signal kind", choices=FEEDBACK_KINDS),
    Option("--traces", "traces", "override the rule's eligibility-trace kind", choices=TRACE_KINDS),
    Option("--cell", "cell", f"{', '.join(CELLS.names() + GATED_CELLS.names())}, or a JSON spec like "
           "'{\"kind\": \"snu\", \"decay\": 0.8}'"),
    Option("--hidden", "hidden", "number of hidden neurons", type=int,
           validate=lambda value: check_int("layer size", value, minimum=1)),
    Option("--layers", "layers", "number of hidden layers (default: the task's)", type=int,
           validate=lambda value: check_int("--layers", value, minimum=1, maximum=16)),
    Option("--batch-size", "batch_size", type=int, minimum=1),
    Option("--optimizer", "optimizer", choices=tuple(OPTIMIZERS.names())),
    Option("--lr", "lr", "learning rate", type=float, validate=lambda value: check_positive("learning rate", value)),
    Option("--readout-lr", "readout_lr", "SGD: the readout's own learning rate (default: --lr); the backends "
           "that have it: reference, brian2, nest, spinnaker, brainscales2", type=float),
    Option("--clip", "clip", "clip the global gradient norm", type=float),
    Option("--w-min", "w_min", "lower bound of every weight after each update (NEST's Wmin)", type=float),
    Option("--w-max", "w_max", "upper bound of every weight after each update (NEST's Wmax)", type=float),
    Option("--lr-decay", "lr_decay", "multiply the learning rate by F every --lr-decay-every epochs", type=float,
           metavar="F"),
    Option("--lr-decay-every", "lr_decay_every", type=int, metavar="N", minimum=1),
    Option("--mode", "mode", choices=MODES),
    Option("--seed", "seed", type=int, minimum=0),
    Option("--c-reg", "c_reg", "firing-rate regularisation: its weight c_reg (the e-prop paper's, NEST's; 0: off; "
           "deferred mode)", type=float, validate=lambda value: check_range("--c-reg", value, 0.0)),
    Option("--f-target", "f_target", "firing-rate regularisation: the target rate in Hz (1 ms steps; default 10)",
           type=float, metavar="HZ", validate=lambda value: check_range("--f-target", value, 0.0, 1000.0)),
)
#: how the run goes (not part of its configuration)
CONTROL_OPTIONS = (
    Option("--iterations", "iterations", "total number of training iterations", type=int, minimum=0),
    Option("--epochs", "epochs", "total number of epochs (tasks with a training set)", type=int, minimum=0),
    Option("--out", "out", "output directory (default: ostl-run, or that of --resume)"),
    Option("--resume", "resume", "continue a saved run exactly", metavar="STATE"),
    Option("--checkpoint-every", "checkpoint_every", type=int, metavar="K", minimum=1, default=10),
    Option("--summary-json", "summary_json", "write the final metrics and the learning curve as JSON (also when "
           "training diverges)", metavar="FILE"),
    Option("--on-divergence", "on_divergence", "at a non-finite loss, gradient or weight: stop (exit 3, the last "
           "checkpoint kept) or skip the iteration's update and go on", choices=ON_DIVERGENCE, default="stop"),
    Option("--no-progress", "no_progress", flag_only=True),
    Option("--no-plot", "no_plot", flag_only=True),
)


def _task_options():
    """``{flag: (Option, tasks that take it)}`` from the tasks' declarations."""
    found = {}
    for name, task in TASKS.items():
        for option in task.options:
            known, owners = found.get(option.flag, (option, []))
            if known != option:
                raise RuntimeError(f"{option.flag} is declared differently by {owners[0]} and {name}")
            found[option.flag] = (option, owners + [name])
    return found


def _configuration_options():
    """Every option that sets what the run is (refused beside ``--resume``)."""
    found = list(RUN_OPTIONS) + [option for option, _ in _task_options().values()]
    found.append(_SYNAPSES)
    for plugin in synapses.plugins().values():
        found.extend(plugin.options)
    found.append(Option("--recurrent", "recurrent"))   # the --recurrent / --feedforward pair
    return found


_SYNAPSES = Option("--synapses", "synapses", "weights as plain floats (default) or on the devices of a synapse "
                   "model: " + "; ".join(f"{name}: {plugin.summary}" for name, plugin in
                                        sorted(synapses.plugins().items())), choices=synapses.kinds())


def _synapses(args):
    """The synapse configuration of ``--synapses`` and its plugin's options (None: float)."""
    values = vars(args)
    kind = args.synapses or synapses.FLOAT
    for name, plugin in synapses.plugins().items():
        given = [option.flag for option in plugin.options if values.get(option.dest) is not None]
        if given and name != kind:
            raise ParameterError(f"{given[0]} needs --synapses {name}")
    if kind == synapses.FLOAT:
        return None
    plugin = synapses.plugins()[kind]
    return plugin.load().make_config({"kind": kind, **plugin.config_from(values)}).spec()


def _task_spec(args):
    spec = {"name": args.task or "pattern_generation", "seed": args.seed or 0}
    for flag, (option, tasks) in _task_options().items():
        value = getattr(args, option.dest)
        if value is not None:
            if spec["name"] not in tasks:
                raise ParameterError(f"{flag} applies to {', '.join(tasks)} only")
            spec[option.name] = value
    return spec


def _build_trainer(args):
    task = make_task(_task_spec(args))
    defaults = presets.TASK_DEFAULTS[task.name]
    rule_name = args.rule or defaults.get("rule", "ostl")   # the task's rule where it names one (ostl.presets)
    traces = args.traces
    if traces is None and rule_name not in ("eprop", "bptt") and "traces" in defaults:
        traces = defaults["traces"]   # e.g. w/o H on the task's large recurrent layer (see ostl.presets)
    rule = make_rule(rule_name, traces=traces, feedback=args.feedback)
    cell = json.loads(args.cell) if args.cell and args.cell.lstrip().startswith("{") else args.cell
    network = presets.build_network(task, rule, cell=cell, hidden=args.hidden, recurrent=args.recurrent,
                                    layers=args.layers)
    backend = args.backend or "reference"
    capabilities = get_plugin(backend).capabilities   # its defaults (the trainer checks the request)
    optimizer = {"name": args.optimizer or capabilities.default_optimizer or defaults.get("optimizer", "adam"),
                 "lr": args.lr if args.lr is not None else defaults["lr"]}
    if args.clip is not None:
        optimizer["clip"] = args.clip
    for bound in ("w_min", "w_max"):
        if getattr(args, bound) is not None:
            optimizer[bound] = getattr(args, bound)
    if args.readout_lr is not None:
        if optimizer["name"] != "sgd":
            raise ParameterError("--readout-lr applies to --optimizer sgd")
        optimizer["readout_lr"] = args.readout_lr
    if args.lr_decay is not None or args.lr_decay_every is not None:
        if args.lr_decay is None or args.lr_decay_every is None:
            raise ParameterError("--lr-decay and --lr-decay-every go together (factor, epochs)")
        if not task.has_epochs:
            raise ParameterError("--lr-decay applies to tasks with a training set (jsb, digits, spoken_digits)")
        optimizer.update(decay=args.lr_decay, decay_every=args.lr_decay_every)
    batch_size = args.batch_size if args.batch_size is not None else (
        capabilities.default_batch_size or defaults["batch_size"])
    return Trainer(task, network, rule, optimizer, mode=args.mode or "deferred",
                   batch_size=batch_size, seed=args.seed or 0,
                   backend=backend, init=presets.init_for(task.name),
                   backend_options=_backend_options(args), on_divergence=args.on_divergence,
                   synapses=_synapses(args), regularisation=_regularisation(args, task.name, capabilities))


def _regularisation(args, task_name, capabilities):
    """``--c-reg`` and ``--f-target`` (Hz) as a regulariser; without them the task's default on the
    backends that have one (``--c-reg 0``: none), else None."""
    if args.c_reg is None:
        if args.f_target is not None:
            raise ParameterError("--f-target needs --c-reg (the regulariser's weight)")
        return presets.default_regularisation(task_name) if capabilities.rate_regularisation else None
    return FiringRateRegularisation.from_hz(args.c_reg, 10.0 if args.f_target is None else args.f_target)


def _backend_options(args):
    """The options of the chosen backend; an option of another backend is refused."""
    backend = args.backend or "reference"
    values = vars(args)
    for plugin in plugins().values():
        given = [o.flag for o in plugin.options if values.get(o.dest) is not None]
        if given and plugin.name != backend:
            raise ParameterError(f"{given[0]} needs --backend {plugin.name}")
    return get_plugin(backend).options_from(values) or None


def write_summary(path, trainer, checkpoint, seconds, status, message=None):
    """``ostl train --summary-json FILE``: the run's final metrics and learning curve.

    Keys: ``status`` ('completed' or 'diverged'), ``message`` (the divergence), ``task``,
    ``rule``, ``backend``, ``optimizer``, ``iterations`` (completed so far), ``metric`` (its
    name), ``initial`` and ``final`` (``{"loss", <metric>}`` of the first and last recorded
    iteration), ``curve`` (one ``{"iteration", "loss", <metric>}`` per iteration), ``skipped``
    (iterations whose update was discarded), ``seconds`` (wall time of this invocation) and
    ``state`` (the checkpoint). Tasks on real data add ``epochs`` (completed), ``epoch_curve``
    (one ``{"epoch", "iteration", "train_loss", "train_<metric>", "test_<metric>"}`` per
    epoch) and ``test`` (``{<metric>}`` after the last epoch, or null). ``data`` is the
    data set's ``{"name", "sha256", "versions", "parameters"}`` (:mod:`ostl.datasets`; two runs
    with the same ``sha256`` trained on the same arrays), null for tasks generated from their seed.
    Runs with hardware synapses add ``synapses`` (:meth:`ostl.synapses.HardwareWeights.summary`;
    PCM: ``config``, ``counts`` of pulses, RESETs, refreshes and saturated refreshes, ``total``
    and per array, and ``device_time`` in s). Runs with ``--c-reg`` add ``regularisation``
    (``{"c_reg", "f_target"}``, the target in spikes per 1 ms step) and each curve entry its
    ``regularisation_loss``. Written atomically."""
    metric = trainer.task.metric_name

    def pick(record):
        return None if record is None else {"loss": record["loss"], metric: record[metric]}

    summary = {
        "status": status, "message": message, "task": trainer.task.spec(), "rule": trainer.rule.spec(),
        "backend": trainer.backend_name, "optimizer": trainer.optimizer.spec(), "iterations": trainer.iteration,
        "metric": metric, "initial": pick(trainer.history[0] if trainer.history else None),
        "final": pick(trainer.history[-1] if trainer.history else None), "curve": trainer.history,
        "skipped": trainer.skipped, "seconds": seconds, "state": checkpoint,
        "data": trainer.task.data_provenance(),
    }
    if trainer.synapses is not None:
        summary["synapses"] = trainer.synapses.summary()
    if trainer.regularisation is not None:
        summary["regularisation"] = trainer.regularisation.spec()
    if trainer.task.has_epochs:
        test_key = f"test_{metric}"
        summary["epochs"] = len(trainer.epochs)
        summary["epoch_curve"] = trainer.epochs
        summary["test"] = {metric: trainer.epochs[-1][test_key]} if trainer.epochs else None
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.partial"
    with open(temporary, "w") as handle:
        json.dump(summary, handle, indent=1, default=float)
    os.replace(temporary, path)


def _iterations(args, trainer, resumed=False):
    """The total number of iterations to train to: --iterations, or --epochs times the
    iterations of one epoch (tasks on real data), or the task's default."""
    if args.epochs is not None:
        if args.iterations is not None:
            raise ParameterError("give --iterations or --epochs, not both")
        if not trainer.task.has_epochs:
            raise ParameterError(f"--epochs applies to tasks with a training set (jsb, digits, spoken_digits), not "
                                 f"{trainer.task.name}; use --iterations")
        return args.epochs * trainer.iterations_per_epoch
    if args.iterations is not None:
        return args.iterations
    default = presets.default_iterations(trainer.task, trainer.batch_size)
    return max(trainer.iteration, default) if resumed else default


def cmd_train(args):
    """``ostl train``: build or resume a run, train it, write its state, plots and summary."""
    if args.resume:
        conflicting = [option.flag for option in _configuration_options() if getattr(args, option.dest) is not None]
        if conflicting:
            raise ParameterError(f"--resume restores the saved configuration; drop {', '.join(conflicting)}")
        trainer = Trainer.load(args.resume, backend=args.backend, backend_options=_backend_options(args),
                               on_divergence=args.on_divergence)
        out = args.out or os.path.dirname(os.path.abspath(args.resume))
        iterations = _iterations(args, trainer, resumed=True)
    else:
        trainer = _build_trainer(args)
        out = args.out or "ostl-run"
        iterations = _iterations(args, trainer)
    os.makedirs(out, exist_ok=True)
    checkpoint = os.path.join(out, "state.npz")
    if args.resume and os.path.abspath(args.resume) != os.path.abspath(checkpoint):
        trainer.save(checkpoint)
    started = time.perf_counter()
    try:
        # overflow and NaN are the divergence guard's business, reported in one line
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            trainer.train(iterations, progress=not args.no_progress, checkpoint=checkpoint,
                          checkpoint_every=args.checkpoint_every)
    except DivergenceError as exc:
        if args.summary_json and trainer.backend.is_primary:
            write_summary(args.summary_json, trainer, checkpoint, time.perf_counter() - started, "diverged", str(exc))
        return _fail(str(exc), EXIT_DIVERGED)
    except KeyboardInterrupt:
        sys.stderr.write(f"ostl: interrupted at iteration {trainer.iteration}; state saved to {checkpoint} "
                         f"(continue with: ostl train --resume {checkpoint})\n")
        return 130
    if not trainer.backend.is_primary:   # a run over several processes (NEST under MPI): one reports
        return 0
    last = trainer.history[-1] if trainer.history else None
    if last is None:
        print(f"nothing to do: the run is already at iteration {trainer.iteration}")
        return 0
    first = trainer.history[0]
    metric = trainer.task.metric_name
    plot = None
    if not args.no_plot:
        plot = plot_training(os.path.join(out, "learning_curve.png"), trainer)
        if trainer.synapses is not None:
            figure = trainer.synapses.plot(out)
            plot += f", {figure}" if figure else ""
    print(f"final: iteration {trainer.iteration}, loss {last['loss']:.6g} (initial {first['loss']:.6g}, "
          f"{first['loss'] / max(last['loss'], 1e-300):.1f}x lower), {metric} {last[metric]:.6g}")
    if trainer.epochs:
        print(f"test: epoch {trainer.epochs[-1]['epoch']}, {metric} {trainer.epochs[-1]['test_' + metric]:.6g}")
    if args.summary_json:
        write_summary(args.summary_json, trainer, checkpoint, time.perf_counter() - started, "completed")
    if trainer.synapses is not None and trainer.synapses.report():
        print(trainer.synapses.report())
    if trainer.skipped:
        print(f"skipped: {len(trainer.skipped)} diverged iterations (updates discarded): "
              f"{', '.join(map(str, trainer.skipped[:10]))}{' ...' if len(trainer.skipped) > 10 else ''}")
    print(f"state: {checkpoint}" + (f"\nplot: {plot}" if plot else ""))
    return 0


# -- the other sub-commands ----------------------------------------------------------------------
def cmd_grad(args):
    """``ostl grad``: one rule's gradients on a problem file."""
    problem = load_problem(args.problem)
    loss, grads = problem_gradients(problem, args.rule, seed=args.seed)
    np.savez(args.out, loss=np.array(loss), **grads)
    print(f"loss {loss:.12g}; gradients of rule {args.rule} written to {args.out}")
    return 0


def cmd_compare(args):
    """``ostl compare``: every rule's deviation from BPTT on a problem file."""
    problem = load_problem(args.problem)
    loss, reference = problem_gradients(problem, "bptt")
    keys = list(GRAD_KEYS)
    print(f"loss {loss:.12g} (T = {problem.x.shape[0]}, n = {problem.params['layer0.W'].shape[0]})")
    print("largest relative deviation from BPTT, max|g - g_bptt| / max|g_bptt|")
    print(f"{'rule':<12}" + "".join(f"{k:>12}" for k in keys))
    for rule in COMPARED_RULES:
        _, grads = problem_gradients(problem, rule, seed=args.seed)
        print(f"{rule:<12}" + "".join(f"{relative_deviation(grads[k], reference[k]):>12.2e}" for k in keys))
    return 0


def cmd_make_problem(args):
    """``ostl make-problem``: a random problem file."""
    problem = random_problem(seed=args.seed, T=args.steps, n_in=args.n_in, n=args.n, n_out=args.n_out,
                             decay=args.decay, output=args.output, pseudo=args.pseudo)
    save_problem(args.out, **problem)
    print(f"problem written to {args.out}")
    return 0


_SEED = Option("--seed", "seed", "seed of random feedback matrices", type=int, minimum=0, default=0)
#: the core's other sub-commands: (name, help, function, options)
COMMANDS = (
    ("grad", "gradients of one rule on a problem file", cmd_grad, (
        Option("problem", "problem"), Option("--rule", "rule", choices=RULE_NAMES, required=True),
        Option("--out", "out", required=True), _SEED)),
    ("compare", "every rule's deviation from BPTT on a problem file", cmd_compare,
     (Option("problem", "problem"), _SEED)),
    ("make-problem", "write a random problem file", cmd_make_problem, (
        Option("out", "out"), Option("--seed", "seed", type=int, minimum=0, default=0),
        Option("--steps", "steps", type=int, minimum=1, default=100),
        Option("--n-in", "n_in", type=int, minimum=1, default=4), Option("--n", "n", type=int, minimum=1, default=5),
        Option("--n-out", "n_out", type=int, minimum=1, default=2),
        Option("--decay", "decay", type=float, default=0.8),
        Option("--output", "output", choices=("step", "sigmoid"), default="step"),
        Option("--pseudo", "pseudo", choices=("tanh", "fast_sigmoid"), default="tanh"))),
)


def make_parser():
    """The ``ostl`` parser, built from the declarations of the core, the tasks and the plugins."""
    parser = _Parser(prog="ostl", description="Online spatio-temporal learning for spiking networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a network on a task (the main job)")
    backends = plugins()
    Option("--backend", "backend", "; ".join(f"{name}: {plugin.summary}" for name, plugin in sorted(backends.items())),
           choices=tuple(sorted(backends))).add_to(p)
    for plugin in backends.values():
        for option in plugin.options:
            option.add_to(p)
    for option in RUN_OPTIONS:
        option.add_to(p)
    recurrence = p.add_mutually_exclusive_group()
    recurrence.add_argument("--recurrent", dest="recurrent", action="store_const", const=True, default=None)
    recurrence.add_argument("--feedforward", dest="recurrent", action="store_const", const=False)
    for option, _ in _task_options().values():
        option.add_to(p)
    group = p.add_argument_group("synapse models (weights on hardware devices)")
    _SYNAPSES.add_to(group)
    for plugin in synapses.plugins().values():
        for option in plugin.options:
            option.add_to(group)
    for option in CONTROL_OPTIONS:
        option.add_to(p)
    p.set_defaults(func=cmd_train)

    for name, help_text, function, options in COMMANDS:
        p = sub.add_parser(name, help=help_text)
        for option in options:
            option.add_to(p)
        p.set_defaults(func=function)
    for plugin in [*backends.values(), *synapses.plugins().values()]:   # e.g. build-nest, pcm-sim
        for command in plugin.commands:
            command.add_to(sub)
    return parser


def main(argv=None):
    """Run ``ostl`` with ``argv`` (default: the process's arguments); returns the exit status."""
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except OSTLError as exc:
        return _fail(str(exc))
    except MemoryError:
        return _fail("not enough memory for this network and sequence length (reduce --hidden, --steps, "
                     "--batch-size or the problem's size)")
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # one line, not a traceback (OSTL_DEBUG=1 shows it)
        if os.environ.get("OSTL_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set OSTL_DEBUG=1 for the traceback)", 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
