"""The task interface: a :class:`Trial` is ``(x, target, mask)``; a :class:`Task` makes
the trials of each training iteration and scores a model's outputs (see
:mod:`ostl.tasks` for the synthetic tasks and :mod:`ostl.datatasks` for real data)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registry import Specified


@dataclass
class Trial:
    """One sequence: input ``x`` (T, n_in), ``target`` (T, n_out) and the loss ``mask`` (T,)."""

    x: np.ndarray
    target: np.ndarray
    mask: np.ndarray


class Task(Specified):
    """Base class of tasks: :meth:`trial` makes the trials of each training iteration,
    :meth:`metric` scores a model's outputs; the constructor's arguments are the spec."""

    name = None
    #: one line of help (``ostl train --help``)
    summary = ""
    #: the command-line options of ``ostl train`` this task takes (:class:`~ostl.options.Option`;
    #: each ``dest`` is a constructor argument)
    options = ()
    readout_activation = "linear"
    metric_name = "loss"
    #: lower metric is better?
    metric_lower_is_better = True

    #: trained in epochs over a fixed training set, scored on a test set (ostl.datatasks)
    has_epochs = False

    def trial(self, iteration, index):
        """The training sequence ``index`` of iteration ``iteration``."""
        raise NotImplementedError

    def training_trials(self, iteration, batch_size):
        """The trials of training iteration ``iteration``."""
        return [self.trial(iteration, j) for j in range(batch_size)]

    def metric(self, outputs, trials):
        """The task's metric of the readout ``outputs`` on ``trials``."""
        raise NotImplementedError

    def data_provenance(self):
        """What a result records of the task's data (``ostl train --summary-json``'s ``data``):
        None for tasks generated from their seed; tasks on real data sets return their data
        set's ``{"name", "sha256", "versions", "parameters"}`` (:mod:`ostl.datasets`)."""
        return None

    def _rng(self, iteration, index):
        return np.random.default_rng([self.seed, iteration, index])
