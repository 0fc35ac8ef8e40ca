"""Training loop with exact checkpoints.

A :class:`Trainer` owns everything a run needs -- task, network, rule, optimiser,
parameters, fixed feedback matrices, iteration counter and learning curve -- and
saves all of it to one ``.npz`` file (:meth:`Trainer.save`). :meth:`Trainer.load`
restores it so that ``train(n); save; load; train(m)`` gives bit-identical weights to
``train(n + m)``: the data of iteration ``i`` is a pure function of ``(seed, i)``, and
the optimiser state (Adam moments and step) is saved with the weights.

Backends run one trial and return the rule's gradient (deferred mode) or update the
weights as they go (online mode). The reference engine is the default backend; the
simulator plugins are found through entry points (:mod:`ostl.backends`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from .backends import check_request
from .errors import DivergenceError, ParameterError, ProblemFileError
from .network import Network
from .online import MODES
from .optim import make_optimizer
from .regularisation import FiringRateRegularisation
from .rules import make_rule
from .synapses import plugin_for
from .taskbase import Trial
from .tasks import make_task
from .validation import check_choice, check_int

CHECKPOINT_FORMAT = "ostl-checkpoint"
#: the layout this ostl writes; it reads this one and 1 (the first, without a checksum)
CHECKPOINT_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: what to do when an iteration produces a non-finite loss, gradient, weight or state
ON_DIVERGENCE = ("stop", "skip")
#: testing hook: ``OSTL_INJECT_NAN="ITERATION:STEP"`` makes the loss and readout output of
#: that step of that iteration's first trial NaN, as a backend would report a diverged
#: trial (every backend's result passes the same guard), to exercise the divergence guard
INJECT_NAN_VARIABLE = "OSTL_INJECT_NAN"


class Trainer:
    """Train ``network`` on ``task`` with ``rule``.

    Parameters
    ----------
    task, network, rule, optimizer : objects or specs
    mode : 'deferred' (apply the summed gradient after each batch) or 'online'
        (apply each step's ``L e`` immediately).
    batch_size : trials per iteration (deferred mode averages their gradients).
    seed : seeds the initial weights and the feedback matrices.
    init : dict of keyword arguments for :meth:`Network.init_params`.
    on_divergence : 'stop' (default) or 'skip'. An iteration whose loss, readout output,
        gradient or resulting weights are not finite is undone (weights and optimiser state
        as before it); 'stop' raises :class:`~ostl.errors.DivergenceError` naming the
        iteration, the step and the quantity, 'skip' counts it (:attr:`skipped`) and goes on
        with the next iteration's data.
    synapses : None (float weights) or a synapse configuration (a dict whose ``kind`` names a
        synapse plugin, :mod:`ostl.synapses`; without a kind, the one installed; or a
        configuration object): the weight matrices live on hardware devices, the forward pass
        reads them, updates are programmed into them (e.g. PCM: :mod:`ostl.hardware.pcm.loop`).
    synapse_state : the saved device state to restore (used by :meth:`load`).
    regularisation : firing-rate regularisation (:mod:`ostl.regularisation`; a
        :class:`~ostl.regularisation.FiringRateRegularisation` or ``{"c_reg": ..., "f_target":
        spikes per step}``); backends that cannot run it refuse it. Its mean value per trial is
        the history's ``regularisation_loss`` (``loss`` is the task's).
    """

    def __init__(self, task, network, rule, optimizer, mode="deferred", batch_size=1, seed=0,
                 backend="reference", init=None, trainable=None, params=None, feedback=None,
                 backend_options=None, on_divergence="stop", synapses=None, synapse_state=None, regularisation=None):
        self.task = make_task(task)
        self.network = network if isinstance(network, Network) else Network.from_spec(network)
        if self.network.n_in != self.task.n_in:
            raise ParameterError(f"network n_in ({self.network.n_in}) must equal the task's input size "
                                 f"({self.task.n_in})")
        if self.network.n_out != self.task.n_out:
            raise ParameterError(f"readout size ({self.network.n_out}) must equal the task's output size "
                                 f"({self.task.n_out})")
        self.rule = make_rule(rule)
        self.optimizer = make_optimizer(optimizer)
        self.mode = check_choice("mode", mode, set(MODES))
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.init = dict(init or {})
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        #: the firing-rate regulariser (:mod:`ostl.regularisation`), or None
        self.regularisation = FiringRateRegularisation.make(regularisation)
        plugin = check_request(backend, rule=self.rule, network=self.network, optimizer=self.optimizer,
                               mode=self.mode, batch_size=self.batch_size,
                               synapses=None if synapses is None else plugin_for(synapses).name,
                               regularisation=self.regularisation)
        #: what the backend can train (declared by its plugin, checked above before it is loaded)
        self.capabilities = plugin.capabilities
        backend_class = plugin.load()
        if trainable is None:
            trainable = backend_class.trainable_parameters(self.network)
        self.trainable = None if trainable is None else sorted(trainable)
        if params is None:
            params = self.network.init_params(seed=self.seed, **self.init)
        self.params = self.network.check_params(params)
        if feedback is None:
            feedback = self.rule.make_feedback(self.network, seed=self.seed + 1)
        self.feedback = self.rule.check_feedback(self.network, feedback)
        self.on_divergence = check_choice("on_divergence", on_divergence, set(ON_DIVERGENCE))
        self.iteration = 0
        self.history = []
        #: one record per completed epoch (tasks on real data): epoch, iteration, train and test metric
        self.epochs = []
        #: iterations whose update was discarded (``on_divergence='skip'``)
        self.skipped = []
        #: ``(path, iteration)`` of the last checkpoint written
        self.last_checkpoint = None
        extra = {} if self.regularisation is None else {"regularisation": self.regularisation}
        self.backend = backend_class(network=self.network, rule=self.rule, mode=self.mode, feedback=self.feedback,
                                     trainable=self.trainable, optimizer=self.optimizer, params=self.params,
                                     batch_size=self.batch_size, **self.backend_options, **extra)
        #: the weight matrices on hardware (a :class:`~ostl.synapses.HardwareWeights`), or None: float
        self.synapses = None
        if synapses is not None:
            self._place_on_hardware(synapses, synapse_state)

    def _place_on_hardware(self, synapses, state):
        weights_class = plugin_for(synapses).load()
        config = weights_class.make_config(synapses)
        weights_class.check(config, self.backend_name, self.capabilities, self.mode, self.feedback)
        self.synapses = weights_class(self.network, self.params, self.feedback, config, seed=self.seed, state=state)
        for name, value in self.synapses.nominal().items():
            self.params[name][...] = value
        if self.capabilities.applies_updates:   # its synapses hold the devices (NEST: ostl_pcm_synapse)
            self.backend.attach_synapses(self.synapses)

    # -- configuration -------------------------------------------------------------------
    def config(self):
        """Everything that defines the run (saved in checkpoints)."""
        return {"task": self.task.spec(), "network": self.network.spec(), "rule": self.rule.spec(),
                "optimizer": self.optimizer.spec(), "mode": self.mode, "batch_size": self.batch_size,
                "seed": self.seed, "backend": self.backend_name, "backend_options": self.backend_options,
                "init": self.init, "trainable": self.trainable,
                "synapses": None if self.synapses is None else self.synapses.config.spec(),
                "regularisation": None if self.regularisation is None else self.regularisation.spec()}

    # -- training ------------------------------------------------------------------------
    def run_iteration(self):
        """One iteration (a batch of trials and its update). Returns its history record,
        or ``None`` if it diverged and was skipped (``on_divergence='skip'``)."""
        trials = self.task.training_trials(self.iteration, self.batch_size)
        before = self._snapshot()
        if self.synapses is None or self.capabilities.applies_updates:
            results = [self.backend.run(self.params, trial) for trial in trials]
            self.backend.end_batch()
        else:
            results = [self.synapses.run_trial(self.backend, self.params, trial) for trial in trials]
        self._inject_nan(results)
        problem = self._non_finite_result(results)
        if problem is None and self.mode == "deferred" and not self.capabilities.applies_updates:
            grads = {k: sum(r.grads[k] for r in results) / len(results) for k in results[0].grads}
            problem = _non_finite_arrays(grads, "gradient")
            if problem is None:
                if self.synapses is None:
                    self.optimizer.step(self.params, grads)
                else:   # computed in float, programmed as pulses
                    self.synapses.apply(self.optimizer, self.params, grads)
        if problem is None:
            problem = _non_finite_arrays(self.params, "weight")
        if problem is not None:
            return self._diverged(before, *problem)
        loss = float(np.mean([r.loss for r in results]))
        metric = self.task.metric([r.outputs for r in results], trials)
        self.history.append({"iteration": self.iteration, "loss": loss, self.task.metric_name: metric})
        if self.regularisation is not None:
            self.history[-1]["regularisation_loss"] = float(np.mean([r.regularisation_loss for r in results]))
        self.iteration += 1
        record = self.history[-1]
        self._maybe_end_epoch()
        return record

    # -- epochs (tasks on real data) -----------------------------------------------------
    @property
    def iterations_per_epoch(self):
        """Iterations of one epoch (tasks with a fixed training set), else None."""
        return self.task.iterations_per_epoch(self.batch_size) if self.task.has_epochs else None

    def _maybe_end_epoch(self):
        per_epoch = self.iterations_per_epoch
        if per_epoch is None or self.iteration % per_epoch:
            return
        epoch = self.iteration // per_epoch
        self.optimizer.set_epoch(epoch)   # the learning-rate schedule, if any
        recent = [r for r in self.history if r["iteration"] >= self.iteration - per_epoch]
        metric = self.task.metric_name
        self.epochs.append({
            "epoch": epoch, "iteration": self.iteration,
            "train_loss": float(np.mean([r["loss"] for r in recent])) if recent else None,
            f"train_{metric}": float(np.mean([r[metric] for r in recent])) if recent else None,
            f"test_{metric}": self.test_score()})

    def test_score(self):
        """The task's metric on its test set with the current weights (a forward pass of the
        reference engine, no learning)."""
        params = self.params
        if self.synapses is not None:   # the weights as the hardware reads them now
            params = self.synapses.current_params(self.params)
        results, scored = [], []
        for t in self.task.test_trials():   # one pass: a lazy test set makes each trial once
            results.append(self.network.forward(params, t.x, t.target, t.mask, record=False))
            scored.append(Trial(None, t.target, t.mask))   # what a metric reads; the input is dropped
        return self.task.test_metric(results, scored)

    # -- the divergence guard ---------------------------------------------------------------
    def _inject_nan(self, results):
        inject = os.environ.get(INJECT_NAN_VARIABLE)
        if not inject:
            return
        iteration, _, step = inject.partition(":")
        if int(iteration) != self.iteration:
            return
        result, step = results[0], int(step)
        result.outputs = np.array(result.outputs, dtype=np.float64)
        result.outputs[step] = np.nan
        if result.step_losses is not None:
            result.step_losses = np.array(result.step_losses, dtype=np.float64)
            result.step_losses[step] = np.nan
        result.loss = float("nan")

    def _snapshot(self):
        return ({k: v.copy() for k, v in self.params.items()},
                {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.optimizer.state_dict().items()},
                None if self.synapses is None else self.synapses.state_dict(), self.backend.state_dict())

    def _restore(self, snapshot):
        params, optimizer_state, synapse_state, backend_state = snapshot
        if backend_state is not None:
            self.backend.load_state_dict(backend_state)
        if synapse_state is not None:
            self.synapses.load_state_dict(synapse_state)
        for name, value in params.items():
            self.params[name][...] = value
        self.optimizer.load_state_dict(optimizer_state)
        self.backend.discard()   # a backend that keeps its own copy of the state (NEST) rebuilds it

    def _non_finite_result(self, results):
        """``(step, quantity)`` of the first non-finite loss, readout output or gradient of a
        trial's result, or None."""
        for r in results:
            losses = np.atleast_1d(r.step_losses if r.step_losses is not None else r.loss)
            outputs = np.asarray(r.outputs, dtype=np.float64)
            bad_loss = np.flatnonzero(~np.isfinite(losses)) if losses.size > 1 else []
            bad_output = np.flatnonzero(~np.all(np.isfinite(outputs.reshape(outputs.shape[0], -1)), axis=1)) \
                if outputs.ndim and outputs.size else []
            steps = [(int(s), "loss") for s in bad_loss[:1]] + [(int(s), "readout output") for s in bad_output[:1]]
            if steps:
                return min(steps)
            if not np.isfinite(r.loss):
                return None, "loss (the trial's total overflows)"
            if r.grads is not None:
                problem = _non_finite_arrays(r.grads, "gradient")
                if problem is not None:
                    return problem
        return None

    def _diverged(self, snapshot, step, quantity):
        self._restore(snapshot)
        where = f"step {step}" if step is not None else (
            "over the whole trial" if quantity.startswith("loss") else "in the update after the trial")
        layer = quantity.split(" of ")[-1].split(".")[0] if " of " in quantity else None
        optimizer = self.optimizer.spec()
        settings = ", ".join(f"{k} {v}" for k, v in optimizer.items() if v is not None)
        message = (f"training diverged at iteration {self.iteration}, {where}: non-finite {quantity} "
                   f"(rule {self.rule.name}" + (f", {layer}" if layer else "") + f", optimizer {settings}, "
                   f"mode {self.mode}, backend {self.backend_name})")
        if self.on_divergence == "stop":
            raise DivergenceError(message, self.iteration, step, quantity)
        self.skipped.append(self.iteration)
        self.iteration += 1
        self._maybe_end_epoch()
        return None

    def train(self, iterations, progress=False, checkpoint=None, checkpoint_every=None):
        """Train until ``self.iteration == iterations`` (a total, so a resumed run
        continues where it stopped). Saves to ``checkpoint`` every
        ``checkpoint_every`` iterations, at the end, and on KeyboardInterrupt."""
        iterations = check_int("iterations", iterations, minimum=0)
        bar = None
        if progress and self.backend.is_primary:
            from tqdm import tqdm

            bar = tqdm(total=iterations, initial=min(self.iteration, iterations), unit="it",
                       desc=f"{self.task.name} [{self.rule.name}, {self.backend_name}]", dynamic_ncols=True)
        try:
            while self.iteration < iterations:
                record = self.run_iteration()
                if bar is not None:
                    bar.update(1)
                    if record is not None:
                        extra = {}
                        if self.epochs:
                            extra = {"epoch": self.epochs[-1]["epoch"],
                                     "test": f"{self.epochs[-1]['test_' + self.task.metric_name]:.4g}"}
                        bar.set_postfix(loss=f"{record['loss']:.4g}",
                                        **{self.task.metric_name: f"{record[self.task.metric_name]:.4g}"}, **extra)
                    else:
                        bar.set_postfix(skipped=len(self.skipped))
                if checkpoint and checkpoint_every and self.iteration % checkpoint_every == 0:
                    self.save(checkpoint)
        except DivergenceError as exc:
            # no save: the checkpoint on disk stays the last one written, and is named
            if self.last_checkpoint is not None:
                path, iteration = self.last_checkpoint
                where = f"the last checkpoint, {path} (iteration {iteration}), is kept"
            else:
                where = "no checkpoint had been written"
            raise DivergenceError(f"{exc}; {where}", exc.iteration, exc.step, exc.quantity) from None
        except KeyboardInterrupt:
            if checkpoint:
                self.save(checkpoint)
            raise
        finally:
            if bar is not None:
                bar.close()
        if checkpoint:
            self.save(checkpoint)
        return self.history

    def evaluate(self, iteration=None, n_trials=1):
        """Forward pass (no learning) on trials of ``iteration`` (default: the next one)."""
        iteration = self.iteration if iteration is None else iteration
        trials = [self.task.trial(iteration, j) for j in range(n_trials)]
        results = [self.network.forward(self.params, t.x, t.target, t.mask) for t in trials]
        return trials, results

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path):
        """Write the complete training state atomically to ``path`` (``.npz``): a format
        name and version, and a SHA-256 checksum of every entry, so that a truncated,
        corrupted or foreign file is recognised on loading. The file appears under its
        name only once it is complete (written beside it, then renamed). A state with a
        non-finite weight or optimiser entry is never written. In a run over several processes
        (NEST under MPI) only the backend's primary process writes."""
        if not self.backend.is_primary:   # a run over several processes: one writes
            self.last_checkpoint = (path, self.iteration)
            return
        optimizer_state = self.optimizer.state_dict()
        problem = _non_finite_arrays(self.params, "weight") or _non_finite_arrays(optimizer_state, "optimiser state")
        if problem is not None:
            raise DivergenceError(f"refusing to save a non-finite state ({problem[1]}) to {path}", self.iteration,
                                  None, problem[1])
        arrays = {"format": np.array(CHECKPOINT_FORMAT), "format_version": np.array(CHECKPOINT_VERSION),
                  "config": np.array(json.dumps(self.config())), "history": np.array(json.dumps(self.history)),
                  "epochs": np.array(json.dumps(self.epochs)),
                  "skipped": np.array(self.skipped, dtype=np.int64), "iteration": np.array(self.iteration)}
        arrays.update({f"params/{k}": v for k, v in self.params.items()})
        arrays.update({f"feedback/{k}": v for k, v in self.feedback.items()})
        arrays.update({f"optimizer/{k}": v for k, v in optimizer_state.items()})
        if self.synapses is not None:
            arrays.update({f"synapses/{k}": v for k, v in self.synapses.state_dict().items()})
        backend_state = self.backend.state_dict()
        if backend_state is not None:
            arrays.update({f"backend/{k}": v for k, v in backend_state.items()})
        arrays["checksum"] = np.array(checkpoint_checksum(arrays))
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.last_checkpoint = (path, self.iteration)

    @classmethod
    def load(cls, path, backend=None, backend_options=None, on_divergence="stop"):
        """Restore a trainer saved with :meth:`save` (optionally on another backend).
        A file that is missing, truncated, corrupted, of another format version, not a
        checkpoint, or made for another network is refused with a
        :class:`~ostl.errors.ProblemFileError` saying which."""
        entries = read_checkpoint(path)
        config = entries["config"]
        params = {k[7:]: v for k, v in entries.items() if k.startswith("params/")}
        feedback = {k[9:]: v for k, v in entries.items() if k.startswith("feedback/")}
        opt_state = {k[10:]: v for k, v in entries.items() if k.startswith("optimizer/")}
        synapse_state = {k[9:]: v for k, v in entries.items() if k.startswith("synapses/")} or None
        backend_state = {k[8:]: v for k, v in entries.items() if k.startswith("backend/")} or None
        if config.get("synapses") and synapse_state is None:
            raise ProblemFileError(f"checkpoint {path} is incomplete: its run has hardware synapses but it holds no "
                                   "device state")
        _check_network(path, config, params)
        try:
            trainer = cls(config["task"], config["network"], make_rule(config["rule"]),
                          config["optimizer"], mode=config["mode"], batch_size=config["batch_size"],
                          seed=config["seed"], backend=backend or config["backend"], init=config["init"],
                          trainable=config["trainable"], params=params, feedback=feedback,
                          backend_options=backend_options if backend else config.get("backend_options"),
                          on_divergence=on_divergence, synapses=config.get("synapses"),
                          regularisation=config.get("regularisation"),
                          synapse_state=synapse_state)
        except ParameterError as exc:
            raise ProblemFileError(f"checkpoint {path} is inconsistent: {exc}") from None
        trainer.optimizer.load_state_dict(opt_state)
        if backend_state is not None and (backend or config["backend"]) == config["backend"]:
            try:   # the state the backend keeps itself, when resumed on the same backend
                trainer.backend.load_state_dict(backend_state)
            except ParameterError as exc:
                raise ProblemFileError(f"checkpoint {path} is inconsistent: {exc}") from None
        trainer.history = entries["history"]
        trainer.epochs = entries["epochs"]
        if trainer.task.has_epochs:
            trainer.optimizer.set_epoch(trainer.iteration // trainer.iterations_per_epoch)
        trainer.skipped = entries["skipped"]
        trainer.iteration = entries["iteration"]
        trainer.last_checkpoint = (path, trainer.iteration)
        return trainer


def checkpoint_checksum(arrays):
    """SHA-256 over every entry (name, dtype, shape and bytes, in name order) but the checksum."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "checksum":
            continue
        value = np.asarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(value.dtype).encode())
        digest.update(str(value.shape).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


ZIP_MAGIC = b"PK\x03\x04"


def read_checkpoint(path):
    """Every entry of a checkpoint, checked: ``config``, ``history`` (decoded), ``iteration``,
    ``skipped`` and the arrays. Raises :class:`ProblemFileError` naming what is wrong."""
    if not os.path.exists(path):
        raise ProblemFileError(f"checkpoint {path} does not exist")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != ZIP_MAGIC:
        raise ProblemFileError(f"{path} is not an ostl training checkpoint (not an .npz archive)")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ProblemFileError(f"checkpoint {path} is truncated: its archive ends early ({exc}); "
                               "use an earlier copy") from None
    try:
        with data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise ProblemFileError(f"checkpoint {path} is corrupted: an entry cannot be read ({exc}); "
                               "use an earlier copy") from None
    if "format" not in arrays or not str(arrays["format"]).startswith(CHECKPOINT_FORMAT):
        raise ProblemFileError(f"{path} is not an ostl training checkpoint")
    legacy = str(arrays["format"]) == f"{CHECKPOINT_FORMAT}-1"
    version = 1 if legacy else int(arrays.get("format_version", -1))
    if version not in READABLE_VERSIONS:
        raise ProblemFileError(f"checkpoint {path} has format version {version}; this ostl reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))} (written by another ostl version)")
    if version >= 2:
        if "checksum" not in arrays or str(arrays["checksum"]) != checkpoint_checksum(arrays):
            raise ProblemFileError(f"checkpoint {path} is corrupted: its checksum does not match its contents; "
                                   "use an earlier copy")
    try:
        entries = {k: v for k, v in arrays.items() if "/" in k}
        entries["config"] = json.loads(str(arrays["config"]))
        entries["history"] = json.loads(str(arrays["history"]))
        entries["epochs"] = json.loads(str(arrays["epochs"])) if "epochs" in arrays else []
        entries["iteration"] = int(arrays["iteration"])
        entries["skipped"] = [int(i) for i in arrays.get("skipped", np.zeros(0, dtype=np.int64))]
    except (KeyError, ValueError, TypeError) as exc:
        raise ProblemFileError(f"checkpoint {path} is incomplete: {exc}") from None
    return entries


def _check_network(path, config, params):
    """The saved weights must be those of the saved network."""
    try:
        shapes = Network.from_spec(config["network"]).param_shapes()
    except (KeyError, ParameterError) as exc:
        raise ProblemFileError(f"checkpoint {path} describes no valid network ({exc})") from None
    if set(shapes) != set(params):
        raise ProblemFileError(f"checkpoint {path} holds the weights of another network: it has "
                               f"{', '.join(sorted(params))}; its network needs {', '.join(sorted(shapes))}")
    for name, shape in shapes.items():
        if tuple(params[name].shape) != tuple(shape):
            raise ProblemFileError(f"checkpoint {path} holds the weights of another network: {name} has shape "
                                   f"{tuple(params[name].shape)}, its network needs {tuple(shape)}")


def _non_finite_arrays(arrays, kind):
    """``(None, '<kind> of <name>')`` for the first array with a non-finite entry, or None."""
    for name, value in arrays.items():
        if not np.all(np.isfinite(value)):
            return None, f"{kind} of {name}"
    return None


