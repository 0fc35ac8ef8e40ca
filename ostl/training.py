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

import json
import os
import tempfile

import numpy as np

from .backends import make_backend
from .errors import ParameterError, ProblemFileError
from .network import Network
from .online import OnlineLearner
from .optim import make_optimizer
from .rules import make_rule
from .tasks import make_task
from .validation import check_choice, check_int

CHECKPOINT_FORMAT = "ostl-checkpoint-1"


class ReferenceBackend:
    """Runs trials on the NumPy reference engine."""

    name = "reference"
    default_batch_size = None

    @classmethod
    def trainable_parameters(cls, network):
        """Every parameter of the network learns."""
        return None

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None):
        self.learner = OnlineLearner(network, rule, params, mode=mode, optimizer=optimizer,
                                     feedback=feedback, trainable=trainable)

    def run(self, params, trial):
        self.learner.params = params  # the trainer's dict: online updates land in it
        return self.learner.run(trial.x, trial.target, trial.mask)


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
    """

    def __init__(self, task, network, rule, optimizer, mode="deferred", batch_size=1, seed=0,
                 backend="reference", init=None, trainable=None, params=None, feedback=None,
                 backend_options=None):
        self.task = make_task(task)
        self.network = network if isinstance(network, Network) else Network.from_spec(network)
        if self.network.n_in != self.task.n_in:
            raise ParameterError(f"network n_in ({self.network.n_in}) must equal the task's input size "
                                 f"({self.task.n_in})")
        if self.network.n_out != self.task.n_out:
            raise ParameterError(f"readout size ({self.network.n_out}) must equal the task's output size "
                                 f"({self.task.n_out})")
        self.rule = make_rule(rule)
        if self.rule.is_bptt:
            raise ParameterError("rule 'bptt' is the gradient oracle, not a training rule; choose one of "
                                 "ostl, ostl_no_h, ostl_rnd, osttp, eprop")
        self.optimizer = make_optimizer(optimizer)
        self.mode = check_choice("mode", mode, {"deferred", "online"})
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.init = dict(init or {})
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        self.trainable = None if trainable is None else sorted(trainable)
        if params is None:
            params = self.network.init_params(seed=self.seed, **self.init)
        self.params = self.network.check_params(params)
        if feedback is None:
            feedback = self.rule.make_feedback(self.network, seed=self.seed + 1)
        self.feedback = self.rule.check_feedback(self.network, feedback)
        self.iteration = 0
        self.history = []
        self.backend = make_backend(backend, network=self.network, rule=self.rule, mode=self.mode,
                                    feedback=self.feedback, trainable=self.trainable,
                                    optimizer=self.optimizer, params=self.params, **self.backend_options)
        # a backend that applies the optimiser inside its simulation (NEST) learns trial by trial
        self.backend_applies_updates = getattr(self.backend, "applies_updates", False)
        if self.backend_applies_updates and self.batch_size != 1:
            raise ParameterError(f"batch_size must be 1 on the {backend} backend (its synapses update after every "
                                 f"trial), got {self.batch_size}")

    # -- configuration -------------------------------------------------------------------
    def config(self):
        return {"task": self.task.spec(), "network": self.network.spec(), "rule": self.rule.spec(),
                "optimizer": self.optimizer.spec(), "mode": self.mode, "batch_size": self.batch_size,
                "seed": self.seed, "backend": self.backend_name, "backend_options": self.backend_options,
                "init": self.init, "trainable": self.trainable}

    # -- training ------------------------------------------------------------------------
    def run_iteration(self):
        trials = [self.task.trial(self.iteration, j) for j in range(self.batch_size)]
        results = [self.backend.run(self.params, trial) for trial in trials]
        if self.mode == "deferred" and not self.backend_applies_updates:
            grads = {k: sum(r.grads[k] for r in results) / self.batch_size for k in results[0].grads}
            self.optimizer.step(self.params, grads)
        loss = float(np.mean([r.loss for r in results]))
        metric = self.task.metric([r.outputs for r in results], trials)
        self.history.append({"iteration": self.iteration, "loss": loss, self.task.metric_name: metric})
        self.iteration += 1
        return self.history[-1]

    def train(self, iterations, progress=False, checkpoint=None, checkpoint_every=None):
        """Train until ``self.iteration == iterations`` (a total, so a resumed run
        continues where it stopped). Saves to ``checkpoint`` every
        ``checkpoint_every`` iterations, at the end, and on KeyboardInterrupt."""
        iterations = check_int("iterations", iterations, minimum=0)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=iterations, initial=min(self.iteration, iterations), unit="it",
                       desc=f"{self.task.name} [{self.rule.name}, {self.backend_name}]", dynamic_ncols=True)
        try:
            while self.iteration < iterations:
                record = self.run_iteration()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{record['loss']:.4g}",
                                    **{self.task.metric_name: f"{record[self.task.metric_name]:.4g}"})
                if checkpoint and checkpoint_every and self.iteration % checkpoint_every == 0:
                    self.save(checkpoint)
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
        """Write the complete training state atomically to ``path`` (``.npz``)."""
        arrays = {"format": np.array(CHECKPOINT_FORMAT), "config": np.array(json.dumps(self.config())),
                  "history": np.array(json.dumps(self.history)), "iteration": np.array(self.iteration)}
        arrays.update({f"params/{k}": v for k, v in self.params.items()})
        arrays.update({f"feedback/{k}": v for k, v in self.feedback.items()})
        arrays.update({f"optimizer/{k}": v for k, v in self.optimizer.state_dict().items()})
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path, backend=None, backend_options=None):
        """Restore a trainer saved with :meth:`save` (optionally on another backend)."""
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise ProblemFileError(f"checkpoint {path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise ProblemFileError(f"checkpoint {path} is not a readable .npz file ({exc})") from None
        with data:
            if "format" not in data.files or str(data["format"]) != CHECKPOINT_FORMAT:
                raise ProblemFileError(f"{path} is not an ostl training checkpoint")
            config = json.loads(str(data["config"]))
            params = {k[7:]: data[k] for k in data.files if k.startswith("params/")}
            feedback = {k[9:]: data[k] for k in data.files if k.startswith("feedback/")}
            opt_state = {k[10:]: data[k] for k in data.files if k.startswith("optimizer/")}
            history = json.loads(str(data["history"]))
            iteration = int(data["iteration"])
        try:
            trainer = cls(config["task"], config["network"], _rule_from_spec(config["rule"]),
                          config["optimizer"], mode=config["mode"], batch_size=config["batch_size"],
                          seed=config["seed"], backend=backend or config["backend"], init=config["init"],
                          trainable=config["trainable"], params=params, feedback=feedback,
                          backend_options=backend_options if backend else config.get("backend_options"))
        except ParameterError as exc:
            raise ProblemFileError(f"checkpoint {path} is inconsistent: {exc}") from None
        trainer.optimizer.load_state_dict(opt_state)
        trainer.history = history
        trainer.iteration = iteration
        return trainer


def _rule_from_spec(spec):
    return make_rule(spec["name"], traces=spec.get("traces"), feedback=spec.get("feedback"),
                     feedback_scale=spec.get("feedback_scale", 1.0))
