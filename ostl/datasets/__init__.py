"""Real data sets, built offline from what installed packages ship, cached on disk.

Nothing here downloads. Each builder turns a package's data into NumPy arrays once and
caches them under ``$OSTL_CACHE_DIR/datasets`` (default ``~/.cache/ostl/datasets``), in
a file whose name carries the builder's version and the source package's version, so a
changed builder or source never serves stale data. A builder whose source is missing
raises :class:`~ostl.errors.DataUnavailableError` with one line saying what to install.

* :mod:`ostl.datasets.jsb` -- JSB-like Bach chorales from music21's corpus.
* :mod:`ostl.datasets.digits` -- scikit-learn's 8x8 digits; Fashion-MNIST from Debian.
* :mod:`ostl.datasets.spoken` -- SHD-like spoken digits: espeak-ng voices, brian2hears cochlea.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def cache_dir():
    """Where built data sets are kept (``$OSTL_CACHE_DIR/datasets``)."""
    root = Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl"))
    return root / "datasets"


def cached_arrays(name, build):
    """The arrays of data set ``name`` (a file name without extension): read from the cache,
    or ``build()`` (a dict of arrays) and write them atomically."""
    path = cache_dir() / f"{name}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError):   # a damaged cache file is rebuilt
            pass
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return arrays


def split_sequences(concatenated, lengths):
    """Cut ``concatenated`` (sum(lengths), ...) back into a list of sequences."""
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [concatenated[bounds[i]:bounds[i + 1]] for i in range(len(lengths))]
