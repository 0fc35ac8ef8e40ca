"""The task interface: a :class:`Trial` is ``(x, target, mask)``; a :class:`Task` makes
the trials of each training iteration and scores a model's outputs (see
:mod:`ostl.tasks` for the synthetic tasks and :mod:`ostl.datatasks` for real data)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Trial:
    x: np.ndarray
    target: np.ndarray
    mask: np.ndarray


class Task:
    name = None
    readout_activation = "linear"
    metric_name = "loss"
    #: lower metric is better?
    metric_lower_is_better = True

    #: trained in epochs over a fixed training set, scored on a test set (ostl.datatasks)
    has_epochs = False

    def trial(self, iteration, index):
        raise NotImplementedError

    def training_trials(self, iteration, batch_size):
        """The trials of training iteration ``iteration``."""
        return [self.trial(iteration, j) for j in range(batch_size)]

    def metric(self, outputs, trials):
        raise NotImplementedError

    def spec(self):
        raise NotImplementedError

    def data_provenance(self):
        """What a result records of the task's data (``ostl train --summary-json``'s ``data``):
        None for tasks generated from their seed; tasks on real data sets return their data
        set's ``{"name", "sha256", "versions", "parameters"}`` (:mod:`ostl.datasets`)."""
        return None

    def _rng(self, iteration, index):
        return np.random.default_rng([self.seed, iteration, index])
