"""Tasks on real data: fixed training and test sets, trained in epochs.

A :class:`DatasetTask` holds a list of training sequences and a list of test sequences.
Training runs in epochs: epoch ``e`` visits every training sequence once in an order
drawn from ``(seed, e)``, ``batch_size`` sequences per iteration (the last batch of an
epoch may be smaller), so the data of iteration ``i`` is a pure function of ``(seed, i,
batch_size)`` and a resumed run sees what an uninterrupted one would. At the end of
every epoch the trainer scores the test set with a forward pass of the reference engine
(:meth:`DatasetTask.test_metric`).

* :class:`JSBChorales` (``jsb``) -- next-frame prediction of Bach chorales
  (:mod:`ostl.datasets.jsb`); metric: negative log-likelihood per time step summed over
  the 88 keys (nats), the literature's convention.
* :class:`Digits` (``digits``) -- rate-coded images (scikit-learn's 8x8 digits, or
  Fashion-MNIST from Debian), pixels as Poisson spike rates (OSTL S7); accuracy.
* :class:`SpokenDigits` (``spoken_digits``) -- an SHD-like set: digits spoken in English
  and German by espeak-ng voices, spikes from brian2hears' cochlea
  (:mod:`ostl.datasets.spoken`), split by speaker; accuracy on the test speakers.
"""

from __future__ import annotations

import numpy as np

from .datasets.digits import SOURCES as DIGIT_SOURCES
from .errors import ParameterError
from .options import Option
from .taskbase import Task, Trial
from .validation import check_choice, check_int, check_range


class DatasetTask(Task):
    """Base class: ``train`` and ``test`` are lists of :class:`Trial` (built lazily)."""

    has_epochs = True
    options = (Option("--n-train", "n_train", "use the first N training sequences", type=int, minimum=1),
               Option("--n-test", "n_test", "use the first N test sequences", type=int, minimum=1))

    def _data(self):
        if getattr(self, "_cache", None) is None:
            self._cache = self.build()
        return self._cache

    def build(self):
        """``(train_trials, test_trials)``; sets :attr:`dataset` (the
        :class:`~ostl.datasets.DataSet` they come from)."""
        raise NotImplementedError

    def data_provenance(self):
        """The data set's ``{name, sha256, versions, parameters}`` (builds it if needed)."""
        self._data()
        return self.dataset.provenance()

    @property
    def train(self):
        """The training trials (built on first use)."""
        return self._data()[0]

    @property
    def test(self):
        """The test trials (built on first use)."""
        return self._data()[1]

    # -- epochs ------------------------------------------------------------------------
    def iterations_per_epoch(self, batch_size):
        """Iterations of one epoch with ``batch_size`` trials each (the last may be smaller)."""
        return -(-len(self.train) // batch_size)

    def epoch_order(self, epoch):
        """The order of the training set in epoch ``epoch`` (drawn from the seed)."""
        return np.random.default_rng([self.seed, 0xE90C, epoch]).permutation(len(self.train))

    def training_trials(self, iteration, batch_size):
        """The trials of training iteration ``iteration``: the next ``batch_size`` of the epoch's order."""
        per_epoch = self.iterations_per_epoch(batch_size)
        epoch, batch = divmod(iteration, per_epoch)
        order = self.epoch_order(epoch)[batch * batch_size:(batch + 1) * batch_size]
        return [self.train[int(k)] for k in order]

    def trial(self, iteration, index):
        """The training sequence at position ``iteration + index`` of the epoch-ordered
        stream (with one sequence per iteration, trial ``(i, 0)`` is iteration ``i``'s)."""
        return self.training_trials(iteration + index, 1)[0]

    def test_trials(self):
        """The trials the trainer scores at the end of every epoch."""
        return self.test

    def test_metric(self, results, trials):
        """The task's metric on the test set from forward results
        (:class:`ostl.network.ForwardResult`)."""
        return self.metric([r.outputs for r in results], trials)


class JSBChorales(DatasetTask):
    """Next-frame prediction on JSB-like chorales (input frame ``t``, target frame ``t+1``).

    Parameters
    ----------
    seed : int
        seeds the train/test split and the epoch order.
    n_train, n_test : int, optional
        use only the first ``n_train`` training and ``n_test`` test chorales of the
        split (CI-sized runs); default all (263 and 88).
    """

    name = "jsb"
    summary = "JSB-like Bach chorales (music21): next-frame prediction"
    readout_activation = "sigmoid"
    metric_name = "nll"
    n_in = n_out = 88

    def __init__(self, seed=0, n_train=None, n_test=None):
        self.seed = check_int("seed", seed, minimum=0)
        self.n_train = None if n_train is None else check_int("n_train", n_train, minimum=1)
        self.n_test = None if n_test is None else check_int("n_test", n_test, minimum=1)

    def build(self):
        """The chorales' trials: input frame ``t``, target frame ``t + 1``."""
        from .datasets import jsb, split_sequences

        self.dataset = jsb.load()
        rolls = split_sequences(self.dataset["rolls"], self.dataset["lengths"])
        train, test = jsb.split(len(rolls), self.seed)
        for name, limit, available in (("n_train", self.n_train, train), ("n_test", self.n_test, test)):
            if limit is not None and limit > len(available):
                raise ParameterError(f"{name} must be in [1, {len(available)}] (chorales in that part of the "
                                     f"split), got {limit}")

        def trials(indices, limit):
            out = []
            for k in indices[:limit]:
                roll = rolls[int(k)].astype(np.float64)
                out.append(Trial(roll[:-1], roll[1:], np.ones(len(roll) - 1)))
            return out

        return trials(train, self.n_train), trials(test, self.n_test)

    def metric(self, outputs, trials):
        """NLL per time step (nats, summed over keys) from the readout's probabilities."""
        total, steps = 0.0, 0
        for probability, trial in zip(outputs, trials):
            p = np.clip(probability, 1e-15, 1.0 - 1e-15)
            total -= float(np.sum(trial.target * np.log(p) + (1.0 - trial.target) * np.log1p(-p)))
            steps += len(trial.target)
        return total / max(steps, 1)

    def test_metric(self, results, trials):
        """Exact NLL per step: the readout's loss (log-sigmoid of the potentials)."""
        return float(sum(r.loss for r in results) / sum(len(t.target) for t in trials))

    def bernoulli_baseline(self):
        """Test NLL per step of independent per-key Bernoulli probabilities fitted on the
        training frames (add-one smoothing): what a model that ignores time scores."""
        frames = np.concatenate([t.target for t in self.train])
        p = (frames.sum(axis=0) + 1.0) / (len(frames) + 2.0)
        test = np.concatenate([t.target for t in self.test])
        return float(-np.sum(test * np.log(p) + (1 - test) * np.log1p(-p)) / len(test))


class Digits(DatasetTask):
    """Rate-coded digit images (OSTL S7): each pixel drives one input with a Poisson
    (Bernoulli per step) spike train of probability ``max_rate * intensity`` for
    ``steps`` steps; the class is read from the softmax readout summed over the last
    ``readout_steps`` steps (the loss acts there).

    Parameters
    ----------
    source : 'sklearn' (1797 8x8 digits, scikit-learn) or 'fashion_mnist' (Debian
        ``dataset-fashion-mnist``, 60000 + 10000 images of 28x28)
    n_train, n_test : int, optional -- first images of the split
    steps, readout_steps, max_rate : encoding (defaults 20 steps as N_s = 20 in OSTL S7)
    """

    name = "digits"
    summary = "rate-coded 8x8 digits (scikit-learn) or Fashion-MNIST (--source fashion_mnist)"
    options = DatasetTask.options + (
        Option("--source", "source", "images of the digits task", choices=tuple(DIGIT_SOURCES)),)
    readout_activation = "softmax"
    metric_name = "accuracy"
    metric_lower_is_better = False
    n_out = 10

    def __init__(self, seed=0, source="sklearn", n_train=None, n_test=None, steps=20, readout_steps=10,
                 max_rate=0.5):
        self.seed = check_int("seed", seed, minimum=0)
        self.source = check_choice("source", source, set(DIGIT_SOURCES))
        self.n_train = None if n_train is None else check_int("n_train", n_train, minimum=1)
        self.n_test = None if n_test is None else check_int("n_test", n_test, minimum=1)
        self.steps = check_int("steps", steps, minimum=1)
        self.readout_steps = check_int("readout_steps", readout_steps, minimum=1)
        if self.readout_steps > self.steps:
            raise ParameterError(f"readout_steps must be in [1, steps={self.steps}], got {readout_steps}")
        self.max_rate = check_range("max_rate", max_rate, 0.0, 1.0, low_closed=False)
        self.n_in = DIGIT_SOURCES[self.source]

    def build(self):
        """The images' trials, each encoded as Poisson spike trains."""
        from .datasets import digits

        self.dataset = digits.images(self.source)
        (x_train, y_train), (x_test, y_test) = digits.split(self.dataset, self.seed)
        parts = []
        for part, (x, y), limit in (("train", (x_train, y_train), self.n_train),
                                    ("test", (x_test, y_test), self.n_test)):
            if limit is not None and limit > len(x):
                raise ParameterError(f"n_{part} must be in [1, {len(x)}] (images in the {part} set), got {limit}")
            parts.append([self._encode(x[k], int(y[k]), part, k) for k in range(len(x) if limit is None else limit)])
        return parts[0], parts[1]

    def _encode(self, image, label, part, index):
        rng = np.random.default_rng([self.seed, 0xD161, part == "test", index])
        spikes = (rng.random((self.steps, image.size)) < self.max_rate * image.ravel()).astype(np.float64)
        target = np.zeros((self.steps, self.n_out))
        target[:, label] = 1.0
        mask = np.zeros(self.steps)
        mask[-self.readout_steps:] = 1.0
        return Trial(spikes, target, mask)

    def metric(self, outputs, trials):
        """Accuracy: the class with the largest summed readout over the loss window."""
        hits = [int(np.argmax(o[tr.mask > 0].sum(axis=0))) == int(np.argmax(tr.target[0]))
                for o, tr in zip(outputs, trials)]
        return float(np.mean(hits))


class _LazyTrials:
    """A sequence of trials made on access (a data set too large to hold as dense arrays)."""

    def __init__(self, indices, make):
        self.indices, self.make = list(indices), make

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self.make(k) for k in self.indices[position]]
        return self.make(self.indices[position])

    def __iter__(self):
        return (self.make(k) for k in self.indices)


class SpokenDigits(DatasetTask):
    """SHD-like spoken digits (20 classes: 0-9 in English, then German), 700 input channels
    of spike counts in bins of ``bin_ms``; the label is read from the softmax readout summed
    over the last ``readout_ms`` (the loss acts there). Test speakers never occur in training.

    Parameters
    ----------
    seed : int -- voices, repetitions, split and epoch order
    speakers : int -- use the first ``speakers`` of :data:`ostl.datasets.spoken.SPEAKERS`
        (2..20, default all 20; a quarter of them, at least one, are test speakers)
    repetitions : int -- clips per speaker and class (default 8)
    bin_ms, duration_ms, readout_ms : time bins (10 ms), window (800 ms: the words end after
        350-700 ms) and loss window (default the whole window), in ms
    n_train, n_test : int, optional -- first clips of each part (after a seeded shuffle)
    """

    name = "spoken_digits"
    summary = "SHD-like digits (espeak-ng voices, a gammatone cochlea)"
    options = DatasetTask.options + (
        Option("--speakers", "speakers", "spoken_digits: the first N of its 20 voices (a quarter test)", type=int,
               minimum=2, maximum=20),
        Option("--repetitions", "repetitions", "spoken_digits: clips per speaker and digit (default 8)", type=int,
               minimum=1))
    readout_activation = "softmax"
    metric_name = "accuracy"
    metric_lower_is_better = False
    n_out = 20
    n_in = 700

    def __init__(self, seed=0, speakers=20, repetitions=8, bin_ms=10, duration_ms=800, readout_ms=None,
                 n_train=None, n_test=None):
        self.seed = check_int("seed", seed, minimum=0)
        self.speakers = check_int("speakers", speakers, minimum=2, maximum=20)
        self.repetitions = check_int("repetitions", repetitions, minimum=1)
        self.bin_ms = check_int("bin_ms", bin_ms, minimum=1)
        self.duration_ms = check_int("duration_ms", duration_ms, minimum=self.bin_ms)
        self.readout_ms = self.duration_ms if readout_ms is None else check_int(
            "readout_ms", readout_ms, minimum=self.bin_ms, maximum=self.duration_ms)
        self.n_train = None if n_train is None else check_int("n_train", n_train, minimum=1)
        self.n_test = None if n_test is None else check_int("n_test", n_test, minimum=1)
        self.steps = self.duration_ms // self.bin_ms

    def split(self):
        """``(train clip indices, test clip indices, test speakers)``."""
        from .datasets import spoken

        speakers = spoken.SPEAKERS[:self.speakers]
        data = self.clips()
        held_out = spoken.test_speakers(self.seed, speakers)
        is_test = np.isin(data["speakers"], held_out)
        rng = np.random.default_rng([self.seed, 0x5B11])
        train = rng.permutation(np.flatnonzero(~is_test))
        test = rng.permutation(np.flatnonzero(is_test))
        return train, test, held_out

    def clips(self):
        """The spikes of every clip (built once, cached; :func:`ostl.datasets.spoken.load`)."""
        if getattr(self, "_clips", None) is None:
            from .datasets import spoken

            self._clips = spoken.load(self.seed, spoken.SPEAKERS[:self.speakers], self.repetitions, progress=True)
        return self._clips

    def build(self):
        """The clips' trials, binned on access."""
        from .datasets import spoken

        train, test, _ = self.split()
        self.dataset = self.clips()
        for name, limit, available in (("n_train", self.n_train, train), ("n_test", self.n_test, test)):
            if limit is not None and limit > len(available):
                raise ParameterError(f"{name} must be in [1, {len(available)}] (clips in that part), got {limit}")
        data = self.clips()
        readout_steps = self.readout_ms // self.bin_ms

        def make(index):
            target = np.zeros((self.steps, self.n_out))
            target[:, int(data["labels"][index])] = 1.0
            mask = np.zeros(self.steps)
            mask[-readout_steps:] = 1.0
            return Trial(spoken.binned(data, index, self.bin_ms, self.steps), target, mask)

        return _LazyTrials(train[:self.n_train], make), _LazyTrials(test[:self.n_test], make)

    metric = Digits.metric
