"""JSB-like chorales: Bach's four-part chorales from music21's corpus as 88-key piano rolls.

The JSB Chorales set of Boulanger-Lewandowski et al. (2012) is a pickle of 382 chorales
(229 train / 76 validation / 77 test) that no package ships. This builder makes the same
kind of data from the Bach corpus inside music21 (PyPI ``music21``), offline:

* every chorale of ``music21.corpus.chorales.Iterator`` with exactly four parts (SATB;
  351 of 371), parsed by music21;
* an 88-key piano roll on a quarter-note grid, the JSB convention: frame ``i`` of a
  note is on when ``offset <= i < offset + duration`` (in quarter notes), column =
  MIDI pitch - 21 (A0); about 18,800 frames in all, 24 to 193 per chorale;
* a split of the 351 chorales drawn from ``seed`` into train and test in the
  proportions of the standard 229/77 split (263/88): not the original split, which
  cannot be rebuilt from the corpus, and not the original file (different edition,
  no validation set). Numbers on it are comparable to the papers' in kind, not digit
  for digit.

Licence: Bach's music is in the public domain; music21's corpus files carry their
encoders' terms, some of them for non-commercial use only (see music21's corpus
documentation). The cache holds only the derived piano rolls, with a manifest
(:mod:`ostl.datasets`: music21's version, the arrays' SHA-256).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataUnavailableError
from . import cached_arrays, split_sequences

#: version of this builder (2: the music21 version moved from the arrays to the manifest)
BUILDER_VERSION = 2
N_KEYS = 88
LOWEST_MIDI = 21            # A0, column 0
STANDARD_SPLIT = (229, 77)  # train, test chorales of the original JSB set


def _music21():
    try:
        import music21
    except ImportError:
        raise DataUnavailableError("the JSB chorales are built from music21's Bach corpus: "
                                   "pip install 'music21==10.5.1' (the 'data' extra)") from None
    return music21


def piano_roll(score, resolution=1.0):
    """88-key piano roll (frames, 88) of a music21 score on a grid of ``resolution``
    quarter notes: frame ``i`` is on for a note when ``offset <= i*res < offset + duration``."""
    frames = int(np.ceil(float(score.highestTime) / resolution - 1e-9))
    roll = np.zeros((frames, N_KEYS), dtype=np.uint8)
    for element in score.flatten().notes:
        start = float(element.offset)
        end = start + float(element.duration.quarterLength)
        first = int(np.ceil(start / resolution - 1e-9))
        last = int(np.ceil(end / resolution - 1e-9))     # exclusive
        for pitch in element.pitches:
            key = pitch.midi - LOWEST_MIDI
            if 0 <= key < N_KEYS and last > first:
                roll[first:min(last, frames), key] = 1
    return roll


def _build():
    _music21()
    from music21 import corpus

    rolls, names = [], []
    for name in corpus.chorales.Iterator(returnType="filename"):
        score = corpus.parse(name)
        if len(score.parts) != 4:
            continue
        roll = piano_roll(score)
        if roll.shape[0] < 2:
            continue
        rolls.append(roll)
        names.append(name)
    return {"rolls": np.concatenate(rolls), "lengths": np.array([len(r) for r in rolls], dtype=np.int64),
            "names": np.array(names)}


def load():
    """Every four-part chorale's piano roll, concatenated (a :class:`~ostl.datasets.DataSet`
    with its manifest): ``rolls`` (uint8, (frames, 88)), ``lengths``, ``names``, in corpus
    order. Built once (about 30 s) and cached."""
    music21 = _music21()
    return cached_arrays("jsb", BUILDER_VERSION, {"resolution": 1.0}, {"music21": music21.__version__}, _build)


def load_chorales():
    """``(names, rolls)``: each four-part chorale's name and piano roll (uint8, (frames, 88))."""
    arrays = load()
    return [str(n) for n in arrays["names"]], split_sequences(arrays["rolls"], arrays["lengths"])


def split(n, seed):
    """Indices ``(train, test)`` of a seeded split of ``n`` chorales in the proportions of
    the standard 229/77 split."""
    order = np.random.default_rng([seed, 0x15B]).permutation(n)
    n_train = int(round(n * STANDARD_SPLIT[0] / sum(STANDARD_SPLIT)))
    return np.sort(order[:n_train]), np.sort(order[n_train:])
