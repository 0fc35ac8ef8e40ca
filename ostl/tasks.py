"""Training tasks, generated deterministically from a seed (no downloads).

* :class:`PatternGeneration` -- e-prop's pattern generation (Bellec et al. 2020,
  Fig. 1; NEST's ``eprop_supervised_regression_sine-waves``): ``n_out`` target
  signals, each a sum of four sines with 1, 2, 3 and 5 cycles per sequence, random
  amplitudes U(0.5, 2) and phases U(0, 2 pi), shifted to start at 0 and scaled to
  max |1|; input is frozen Poisson noise. Linear readout, MSE.
* :class:`StoreRecall` -- e-prop's store-recall (Fig. 2): input groups
  ``value 0 / value 1 / store / recall``; a random bit value is shown in every
  period (distractors), the one shown together with STORE must be reported during
  RECALL. Softmax readout, cross-entropy only in the recall period.
* :class:`EvidenceAccumulation` -- NEST's
  ``eprop_supervised_classification_evidence-accumulation_bsshslm_2020``: left/right
  cues, a delay with background noise, a recall cue; the label is the side with more
  cues. Softmax readout, cross-entropy only in the recall window.

A trial is ``(x, target, mask)`` with ``x`` (T, n_in) spikes, ``target`` (T, n_out)
and ``mask`` (T,) loss weights; trial ``j`` of iteration ``i`` is drawn from
``numpy.random.default_rng([seed, i, j])`` so a resumed training run sees exactly
the data an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from .datatasks import Digits, JSBChorales, SpokenDigits
from .errors import ParameterError
from .options import Option
from .registry import Registry
from .taskbase import Task, Trial
from .validation import check_int, check_range


def superimposed_sines(rng, steps, cycles=(1, 2, 3, 5)):
    """Sum of sines with the given numbers of cycles per sequence (NEST recipe)."""
    amplitudes = rng.uniform(0.5, 2.0, size=len(cycles))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=len(cycles))
    signal = sum(a * np.sin(np.linspace(phi, phi + 2.0 * np.pi * c, steps))
                 for a, phi, c in zip(amplitudes, phases, cycles))
    signal = signal - signal[0]
    return signal / max(np.abs(signal).max(), 1e-6)


class PatternGeneration(Task):
    """e-prop's pattern generation (Bellec et al. 2020, Fig. 1): frozen Poisson input, sums of four sines as targets;
    metric: MSE."""

    name = "pattern_generation"
    summary = "e-prop's pattern generation: frozen Poisson input, sums of sines as targets"
    options = (Option("--steps", "steps", "sequence length of pattern_generation (ms)", type=int, minimum=1),)
    metric_name = "mse"

    def __init__(self, seed=0, n_in=50, n_out=3, steps=1000, input_prob=0.05):
        self.seed = check_int("seed", seed, minimum=0)
        self.n_in = check_int("n_in", n_in, minimum=1)
        self.n_out = check_int("n_out", n_out, minimum=1)
        self.steps = check_int("steps", steps, minimum=10)
        self.input_prob = check_range("input_prob", input_prob, 0.0, 1.0)
        rng = np.random.default_rng([self.seed, 0xC0FFEE])
        self._x = (rng.random((self.steps, self.n_in)) < self.input_prob).astype(np.float64)
        self._target = np.stack([superimposed_sines(rng, self.steps) for _ in range(self.n_out)], axis=1)

    def trial(self, iteration, index):
        # frozen input and target, as in e-prop and NEST's example
        """The frozen input and target."""
        return Trial(self._x.copy(), self._target.copy(), np.ones(self.steps))

    def metric(self, outputs, trials):
        """The mean squared error."""
        return float(np.mean([np.mean((o - tr.target) ** 2) for o, tr in zip(outputs, trials)]))


class _Classification(Task):
    readout_activation = "softmax"
    metric_name = "accuracy"
    metric_lower_is_better = False
    n_out = 2

    def metric(self, outputs, trials):
        hits = []
        for o, tr in zip(outputs, trials):
            window = tr.mask > 0
            predicted = int(np.argmax(o[window].sum(axis=0)))
            hits.append(predicted == int(np.argmax(tr.target[window][0])))
        return float(np.mean(hits))


class StoreRecall(_Classification):
    """e-prop's store-recall (Fig. 2): store a bit at a store cue, recall it at a recall cue; accuracy."""

    name = "store_recall"
    summary = "e-prop's store-recall: remember a bit from a store cue until a recall cue"

    def __init__(self, seed=0, n_per_group=10, period=50, n_periods=8, spike_prob=0.05):
        self.seed = check_int("seed", seed, minimum=0)
        self.n_per_group = check_int("n_per_group", n_per_group, minimum=1)
        self.period = check_int("period", period, minimum=1)
        self.n_periods = check_int("n_periods", n_periods, minimum=3)
        self.spike_prob = check_range("spike_prob", spike_prob, 0.0, 1.0)
        self.n_in = 4 * self.n_per_group
        self.steps = self.period * self.n_periods

    def trial(self, iteration, index):
        """A trial drawn from ``(seed, iteration, index)``."""
        rng = self._rng(iteration, index)
        g, p = self.n_per_group, self.period
        prob = np.zeros((self.steps, self.n_in))
        bits = rng.integers(0, 2, size=self.n_periods)
        store = int(rng.integers(0, self.n_periods - 2))
        recall = int(rng.integers(store + 1, self.n_periods))
        for k in range(self.n_periods):
            if k == recall:
                prob[k * p:(k + 1) * p, 3 * g:4 * g] = self.spike_prob
                continue
            prob[k * p:(k + 1) * p, bits[k] * g:(bits[k] + 1) * g] = self.spike_prob
            if k == store:
                prob[k * p:(k + 1) * p, 2 * g:3 * g] = self.spike_prob
        x = (rng.random(prob.shape) < prob).astype(np.float64)
        target = np.zeros((self.steps, 2))
        mask = np.zeros(self.steps)
        target[recall * p:(recall + 1) * p, bits[store]] = 1.0
        mask[recall * p:(recall + 1) * p] = 1.0
        # outside the recall window the target is irrelevant (mask 0) but must be a distribution
        target[mask == 0, bits[store]] = 1.0
        return Trial(x, target, mask)


class EvidenceAccumulation(_Classification):
    """NEST's evidence accumulation: left and right cues, then the majority recalled; accuracy."""

    name = "evidence_accumulation"
    summary = "NEST's evidence accumulation: left and right cues, the majority recalled"
    options = (
        Option("--n-cues", "n_cues", "evidence_accumulation: number of cues (odd; default 7)", type=int, minimum=1),
        Option("--cue-steps", "cue_steps", "evidence_accumulation: length of a cue (ms; default 100)", type=int,
               minimum=1),
        Option("--spacing-steps", "spacing_steps", "evidence_accumulation: pause before each cue (ms; default 50)",
               type=int, minimum=0),
        Option("--delay-steps", "delay_steps", "evidence_accumulation: delay before the recall (ms; default 1050)",
               type=int, minimum=0),
        Option("--recall-steps", "recall_steps", "evidence_accumulation: recall window (ms; default 150)", type=int,
               minimum=1),
    )

    def __init__(self, seed=0, n_cues=7, cue_steps=100, spacing_steps=50, delay_steps=1050,
                 recall_steps=150, n_per_group=10, spike_prob=0.04, prob_group=0.3):
        self.seed = check_int("seed", seed, minimum=0)
        self.n_cues = check_int("n_cues", n_cues, minimum=1)
        if self.n_cues % 2 == 0:
            raise ParameterError(f"n_cues must be odd (the majority decides the label), got {n_cues}")
        self.cue_steps = check_int("cue_steps", cue_steps, minimum=1)
        self.spacing_steps = check_int("spacing_steps", spacing_steps, minimum=0)
        self.delay_steps = check_int("delay_steps", delay_steps, minimum=0)
        self.recall_steps = check_int("recall_steps", recall_steps, minimum=1)
        self.n_per_group = check_int("n_per_group", n_per_group, minimum=1)
        self.spike_prob = check_range("spike_prob", spike_prob, 0.0, 1.0)
        self.prob_group = check_range("prob_group", prob_group, 0.0, 1.0)
        self.n_in = 4 * self.n_per_group
        self.steps = self.n_cues * (self.cue_steps + self.spacing_steps) + self.delay_steps + self.recall_steps

    def trial(self, iteration, index):
        """A trial drawn from ``(seed, iteration, index)``."""
        rng = self._rng(iteration, index)
        g = self.n_per_group
        p_right = self.prob_group if rng.random() < 0.5 else 1.0 - self.prob_group
        cues = (rng.random(self.n_cues) < p_right).astype(int)  # 1 = right
        prob = np.zeros((self.steps, self.n_in))
        for c, side in enumerate(cues):
            start = c * (self.cue_steps + self.spacing_steps) + self.spacing_steps
            prob[start:start + self.cue_steps, side * g:(side + 1) * g] = self.spike_prob
        prob[-self.recall_steps:, 2 * g:3 * g] = self.spike_prob
        prob[:, 3 * g:] = self.spike_prob / 4.0
        x = (rng.random(prob.shape) < prob).astype(np.float64)
        label = int(cues.sum() > self.n_cues // 2)
        target = np.zeros((self.steps, 2))
        target[:, label] = 1.0
        mask = np.zeros(self.steps)
        mask[-self.recall_steps:] = 1.0
        return Trial(x, target, mask)


#: the tasks, by name (the synthetic ones here, the real data sets of :mod:`ostl.datatasks`)
TASKS = Registry("task", base=Task)
for _task in (PatternGeneration, StoreRecall, EvidenceAccumulation, JSBChorales, Digits, SpokenDigits):
    TASKS.register(_task)


def make_task(spec):
    """Build a task from a name, a spec dict (``{'name': 'jsb', 'seed': 1}``) or an instance."""
    return TASKS.make(spec)
