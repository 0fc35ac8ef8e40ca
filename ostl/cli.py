"""Command line: ``ostl train``, ``ostl grad``, ``ostl compare``, ``ostl make-problem``.

Errors in the input (bad option values, malformed files) print one line to stderr and
exit with status 2 before anything is simulated; set ``OSTL_DEBUG=1`` to see the
traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

from .backends import get_plugin, plugins
from .errors import DivergenceError, OSTLError, ParameterError
from .rules import FEEDBACK_KINDS, RULE_NAMES, TRACE_KINDS

EXIT_USAGE = 2
EXIT_DIVERGED = 3   # training stopped at a non-finite loss, gradient, weight or state


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _fail(message, code=EXIT_USAGE):
    sys.stderr.write(f"ostl: error: {message}\n")
    return code


# ---------------------------------------------------------------------------------------
def cmd_grad(args):
    from .problem import load_problem, problem_gradients

    check_integer_options("grad", args)
    problem = load_problem(args.problem)
    loss, grads = problem_gradients(problem, args.rule, seed=args.seed)
    np.savez(args.out, loss=np.array(loss), **grads)
    print(f"loss {loss:.12g}; gradients of rule {args.rule} written to {args.out}")
    return 0


def cmd_compare(args):
    from .problem import COMPARED_RULES, GRAD_KEYS, load_problem, problem_gradients, relative_deviation

    check_integer_options("compare", args)
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
    from .problem import random_problem, save_problem

    check_integer_options("make-problem", args)
    problem = random_problem(seed=args.seed, T=args.steps, n_in=args.n_in, n=args.n, n_out=args.n_out,
                             decay=args.decay, output=args.output, pseudo=args.pseudo)
    save_problem(args.out, **problem)
    print(f"problem written to {args.out}")
    return 0


def cmd_pcm_sim(args):
    from .hardware.pcm import simulate

    check_integer_options("pcm-sim", args)
    read_times = ()
    if args.read_times:
        try:
            read_times = [float(t) for t in args.read_times.split(",")]
        except ValueError:
            raise ParameterError(f"--read-times must be comma-separated seconds, e.g. 1,3600; got "
                                 f"{args.read_times!r}") from None
    if not np.isfinite(args.gmax) or args.gmax <= 0.1:
        raise ParameterError(f"--gmax (uS) must be in (0.1, inf), got {args.gmax}")
    out = simulate(args.devices, args.pulses, seed=args.seed, gmax=args.gmax, read_times=read_times)
    np.savez(args.out, **out)
    print(f"{args.devices} devices, RESET then {args.pulses} SET pulses: mean G {out['G'][-1].mean():.3f} uS "
          f"after the last; written to {args.out}" + (f" (G_read at {len(read_times)} times)" if read_times else ""))
    return 0


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
    Runs with PCM synapses add ``synapses``: ``config``, ``counts`` (pulses, RESETs, refreshes, saturated; ``total``
    and per array) and ``device_time`` (s). Written atomically."""
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
        summary["synapses"] = {"config": trainer.synapses.config.spec(), "counts": trainer.synapses.counts(),
                               "device_time": trainer.synapses.clock}
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


# ---------------------------------------------------------------------------------------
#: PCM synapse options of ``ostl train`` and the PCMConfig field each sets
_PCM_OPTIONS = {"pcm_devices": "devices", "pcm_eps": "eps", "pcm_gmax": "gmax", "pcm_drift": "drift",
                "pcm_read_noise": "read_noise", "pcm_read": "read", "pcm_feedback": "feedback",
                "pcm_step_time": "step_time", "pcm_headroom": "headroom", "pcm_update_verify": "update_verify"}


def _synapses(args):
    """The PCM configuration of ``--synapses pcm`` and its ``--pcm-*`` options (None: float)."""
    given = [o for o in _PCM_OPTIONS if getattr(args, o) is not None]
    if (args.synapses or "float") == "float":
        if given:
            raise ParameterError(f"--{given[0].replace('_', '-')} needs --synapses pcm")
        return None
    from .hardware.pcm_loop import make_pcm_config

    spec = {}
    for option in given:
        value = getattr(args, option)
        if option == "pcm_drift":
            value = {"on": "constant"}.get(value, value)
        elif option == "pcm_feedback":
            value = value == "on"
        spec[_PCM_OPTIONS[option]] = value
    return make_pcm_config(spec).spec()


_NETWORK_OPTIONS = ("task", "rule", "feedback", "traces", "cell", "hidden", "recurrent", "steps", "batch_size",
                    "optimizer", "lr", "mode", "seed", "clip", "n_train", "n_test", "source", "speakers",
                    "repetitions", "synapses", "lr_decay", "lr_decay_every") + tuple(_PCM_OPTIONS)
#: task options of the command line, and the tasks that take them
_TASK_OPTIONS = {"steps": ("pattern_generation",), "n_train": ("jsb", "digits", "spoken_digits"),
                 "n_test": ("jsb", "digits", "spoken_digits"), "source": ("digits",),
                 "speakers": ("spoken_digits",), "repetitions": ("spoken_digits",),
                 **{name: ("evidence_accumulation",) for name in ("n_cues", "cue_steps", "spacing_steps",
                                                                  "delay_steps", "recall_steps")}}


def _build_trainer(args):
    from . import presets
    from .tasks import make_task
    from .training import Trainer

    task_spec = {"name": args.task or "pattern_generation", "seed": args.seed or 0}
    for option, tasks in _TASK_OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            if task_spec["name"] not in tasks:
                raise ParameterError(f"--{option.replace('_', '-')} applies to {', '.join(tasks)} only")
            task_spec[option] = value
    task = make_task(task_spec)
    defaults = presets.TASK_DEFAULTS[task.name]
    from .rules import make_rule

    traces = args.traces
    if traces is None and args.rule not in ("eprop", "bptt") and "traces" in defaults:
        traces = defaults["traces"]   # e.g. w/o H on the task's large recurrent layer (see ostl.presets)
    rule = make_rule(args.rule or "ostl", traces=traces, feedback=args.feedback)
    cell = json.loads(args.cell) if args.cell and args.cell.lstrip().startswith("{") else args.cell
    network = presets.build_network(task, rule, cell=cell, hidden=args.hidden, recurrent=args.recurrent)
    backend = args.backend or "reference"
    capabilities = get_plugin(backend).capabilities   # its defaults (the trainer checks the request)
    optimizer = {"name": args.optimizer or capabilities.default_optimizer or defaults.get("optimizer", "adam"),
                 "lr": args.lr if args.lr is not None else defaults["lr"]}
    if args.clip is not None:
        optimizer["clip"] = args.clip
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
                   synapses=_synapses(args))


#: integer options and their smallest value (checked before anything is built; --hidden is
#: checked as the layer size it is)
INTEGER_OPTIONS = {
    "train": {"batch_size": 1, "steps": 1, "iterations": 0, "epochs": 0, "seed": 0, "checkpoint_every": 1,
              "n_train": 1, "n_test": 1, "speakers": 2, "repetitions": 1, "lr_decay_every": 1,
              "n_cues": 1, "cue_steps": 1, "spacing_steps": 0, "delay_steps": 0, "recall_steps": 1},
    "make-problem": {"steps": 1, "n_in": 1, "n": 1, "n_out": 1, "seed": 0},
    "grad": {"seed": 0},
    "pcm-sim": {"devices": 1, "pulses": 0, "seed": 0},
    "compare": {"seed": 0},
}


def check_integer_options(command, args):
    """Every integer option of ``command`` within its range, named as on the command line."""
    from .validation import check_int

    for name, minimum in INTEGER_OPTIONS.get(command, {}).items():
        value = getattr(args, name, None)
        if value is not None:
            check_int("--" + name.replace("_", "-"), value, minimum=minimum)


def _backend_options(args):
    """The options of the chosen backend; an option of another backend is refused."""
    backend = args.backend or "reference"
    values = vars(args)
    for plugin in plugins().values():
        given = [o.flag for o in plugin.options if values.get(o.dest) is not None]
        if given and plugin.name != backend:
            raise ParameterError(f"{given[0]} needs --backend {plugin.name}")
    return get_plugin(backend).options_from(values) or None


def _iterations(args, trainer, resumed=False):
    """The total number of iterations to train to: --iterations, or --epochs times the
    iterations of one epoch (tasks on real data), or the task's default."""
    from . import presets

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
    from .plotting import plot_training
    from .training import Trainer

    check_integer_options("train", args)
    if args.resume:
        conflicting = [f"--{o.replace('_', '-')}" for o in _NETWORK_OPTIONS if getattr(args, o) is not None]
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
        if args.summary_json:
            write_summary(args.summary_json, trainer, checkpoint, time.perf_counter() - started, "diverged", str(exc))
        return _fail(str(exc), EXIT_DIVERGED)
    except KeyboardInterrupt:
        sys.stderr.write(f"ostl: interrupted at iteration {trainer.iteration}; state saved to {checkpoint} "
                         f"(continue with: ostl train --resume {checkpoint})\n")
        return 130
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
            from .plotting import plot_conductances

            plot += ", " + plot_conductances(os.path.join(out, "conductances.png"), trainer.synapses)
    print(f"final: iteration {trainer.iteration}, loss {last['loss']:.6g} (initial {first['loss']:.6g}, "
          f"{first['loss'] / max(last['loss'], 1e-300):.1f}x lower), {metric} {last[metric]:.6g}")
    if trainer.epochs:
        print(f"test: epoch {trainer.epochs[-1]['epoch']}, {metric} {trainer.epochs[-1]['test_' + metric]:.6g}")
    if args.summary_json:
        write_summary(args.summary_json, trainer, checkpoint, time.perf_counter() - started, "completed")
    if trainer.synapses is not None:
        counts = trainer.synapses.counts()["total"]
        print(f"pcm: {counts['pulses']} pulses, {counts['resets']} RESETs, {counts['refreshes']} refreshes "
              f"({counts['saturated']} saturated), device time {trainer.synapses.clock:.6g} s")
    if trainer.skipped:
        print(f"skipped: {len(trainer.skipped)} diverged iterations (updates discarded): "
              f"{', '.join(map(str, trainer.skipped[:10]))}{' ...' if len(trainer.skipped) > 10 else ''}")
    print(f"state: {checkpoint}" + (f"\nplot: {plot}" if plot else ""))
    return 0


# ---------------------------------------------------------------------------------------
def make_parser():
    parser = _Parser(prog="ostl", description="Online spatio-temporal learning for spiking networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a network on a task (the main job)")
    p.add_argument("--task", choices=["pattern_generation", "store_recall", "evidence_accumulation", "jsb", "digits",
                                      "spoken_digits"],
                   help="jsb: JSB-like Bach chorales (music21); digits: rate-coded 8x8 digits (scikit-learn) or "
                        "Fashion-MNIST (--source fashion_mnist); spoken_digits: SHD-like digits (espeak-ng voices, "
                        "brian2hears cochlea)")
    backends = plugins()
    p.add_argument("--backend", default=None, choices=sorted(backends),
                   help="; ".join(f"{name}: {plugin.summary}" for name, plugin in sorted(backends.items())))
    for plugin in backends.values():
        for option in plugin.options:
            option.add_to(p)
    p.add_argument("--rule", choices=list(RULE_NAMES), help="bptt: the autodiff gradient (PyTorch), same trainer")
    p.add_argument("--feedback", choices=FEEDBACK_KINDS, help="override the rule's learning-signal kind")
    p.add_argument("--traces", choices=TRACE_KINDS, help="override the rule's eligibility-trace kind")
    p.add_argument("--cell", help="snu, soft_snu, lif, alif, lstm, gru, or a JSON spec like "
                                  "'{\"kind\": \"snu\", \"decay\": 0.8}'")
    p.add_argument("--hidden", type=int, help="number of hidden neurons")
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--recurrent", dest="recurrent", action="store_const", const=True, default=None)
    rec.add_argument("--feedforward", dest="recurrent", action="store_const", const=False)
    p.add_argument("--steps", type=int, help="sequence length of pattern_generation (ms)")
    p.add_argument("--n-cues", type=int, help="evidence_accumulation: number of cues (odd; default 7)")
    p.add_argument("--cue-steps", type=int, help="evidence_accumulation: length of a cue (ms; default 100)")
    p.add_argument("--spacing-steps", type=int, help="evidence_accumulation: pause before each cue (ms; default 50)")
    p.add_argument("--delay-steps", type=int, help="evidence_accumulation: delay before the recall (ms; default 1050)")
    p.add_argument("--recall-steps", type=int, help="evidence_accumulation: recall window (ms; default 150)")
    p.add_argument("--iterations", type=int, help="total number of training iterations")
    p.add_argument("--epochs", type=int, help="total number of epochs (tasks with a training set)")
    p.add_argument("--n-train", type=int, help="use the first N training sequences (jsb, digits)")
    p.add_argument("--n-test", type=int, help="use the first N test sequences (jsb, digits)")
    p.add_argument("--source", choices=["sklearn", "fashion_mnist"], help="images of the digits task")
    p.add_argument("--speakers", type=int, help="spoken_digits: the first N of its 20 voices (a quarter test)")
    p.add_argument("--repetitions", type=int, help="spoken_digits: clips per speaker and digit (default 8)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--readout-lr", type=float,
                   help="SGD: the readout's own learning rate (default: --lr); reference, spinnaker, brainscales2")
    p.add_argument("--clip", type=float, help="clip the global gradient norm")
    p.add_argument("--lr-decay", type=float, metavar="F", help="multiply the learning rate by F every "
                   "--lr-decay-every epochs")
    p.add_argument("--lr-decay-every", type=int, metavar="N")
    p.add_argument("--mode", choices=["deferred", "online"])
    hw = p.add_argument_group("PCM synapses (weights on phase-change memory, ostl.hardware.pcm_loop)")
    hw.add_argument("--synapses", choices=["float", "pcm"], help="pcm: weight matrices on PCM arrays, read by the "
                    "forward pass, updated by pulses (default float)")
    hw.add_argument("--pcm-devices", type=int, choices=[2, 4], help="devices per synapse (default 4)")
    hw.add_argument("--pcm-eps", type=float, metavar="uS", help="update granularity (default 0.75 uS)")
    hw.add_argument("--pcm-gmax", type=float, metavar="uS", help="device saturation (default 20 uS)")
    hw.add_argument("--pcm-drift", choices=["on", "off", "ibm"], help="conductance drift: on (nu = 0.04, default), "
                    "ibm (nu per device), off")
    hw.add_argument("--pcm-read-noise", choices=["simple", "1/f", "off"], help="default simple")
    hw.add_argument("--pcm-read", choices=["trial", "step"], help="read the arrays once per trial (default) or at "
                    "every step (reference backend)")
    hw.add_argument("--pcm-feedback", choices=["on", "off"], help="the random feedback matrices on PCM arrays "
                    "(default on; reference backend)")
    hw.add_argument("--pcm-step-time", type=float, metavar="S", help="device seconds per step (default 0.01)")
    hw.add_argument("--pcm-headroom", type=float, metavar="X", help="a matrix's largest initial weight times X "
                    "maps to the largest conductance (default 3): room to grow against a finer weight step")
    hw.add_argument("--pcm-update-verify", type=int, metavar="N", help="write and verify every update in up to N "
                    "rounds of read, compare, pulse (default 0: open-loop mixed precision; reference, brian2)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="output directory (default: ostl-run, or that of --resume)")
    p.add_argument("--resume", metavar="STATE", help="continue a saved run exactly")
    p.add_argument("--checkpoint-every", type=int, default=10, metavar="K")
    p.add_argument("--summary-json", metavar="FILE",
                   help="write the final metrics and the learning curve as JSON (also when training diverges)")
    p.add_argument("--on-divergence", choices=["stop", "skip"], default="stop",
                   help="at a non-finite loss, gradient or weight: stop (exit 3, the last checkpoint kept) or "
                        "skip the iteration's update and go on")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("grad", help="gradients of one rule on a problem file")
    p.add_argument("problem")
    p.add_argument("--rule", required=True, choices=RULE_NAMES)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0, help="seed of random feedback matrices")
    p.set_defaults(func=cmd_grad)

    p = sub.add_parser("compare", help="every rule's deviation from BPTT on a problem file")
    p.add_argument("problem")
    p.add_argument("--seed", type=int, default=0, help="seed of random feedback matrices")
    p.set_defaults(func=cmd_compare)

    for plugin in backends.values():   # sub-commands of the backends (e.g. build-nest)
        for command in plugin.commands:
            p = sub.add_parser(command.name, help=command.help)
            for option in command.options:
                option.add_to(p)
            p.set_defaults(func=command.run)

    p = sub.add_parser("pcm-sim", help="simulate PCM devices: RESET, SET pulses, drifted noisy reads")
    p.add_argument("--devices", type=int, required=True)
    p.add_argument("--pulses", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gmax", type=float, default=20.0, help="saturation conductance (uS)")
    p.add_argument("--read-times", metavar="T1,T2,...", help="reads at these seconds after the last pulse")
    p.add_argument("--out", required=True, help="output .npz: G (pulses + 1, devices) [, G_read]")
    p.set_defaults(func=cmd_pcm_sim)

    p = sub.add_parser("make-problem", help="write a random problem file")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--n-in", type=int, default=4)
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--n-out", type=int, default=2)
    p.add_argument("--decay", type=float, default=0.8)
    p.add_argument("--output", choices=["step", "sigmoid"], default="step")
    p.add_argument("--pseudo", choices=["tanh", "fast_sigmoid"], default="tanh")
    p.set_defaults(func=cmd_make_problem)
    return parser


def main(argv=None):
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
