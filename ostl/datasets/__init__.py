"""Real data sets, built offline from what installed packages ship, cached on disk with a manifest.

Nothing here downloads. Each builder turns a package's data into NumPy arrays once and caches
them under ``$OSTL_CACHE_DIR/datasets`` (default ``~/.cache/ostl/datasets``) beside a
*manifest*: the data set's name, the builder's version, the build parameters, the versions of
what built it (packages, Debian packages, tools) and the SHA-256 of the arrays
(:func:`array_digest`). A cached set is used only when its manifest names the same builder,
parameters and versions and its arrays still have the recorded digest; otherwise it is rebuilt.
Two results whose ``data`` entries (``ostl train --summary-json``) carry the same digest were
trained on the same arrays. A builder whose source is missing raises
:class:`~ostl.errors.DataUnavailableError` with one line saying what to install.

* :mod:`ostl.datasets.jsb` -- JSB-like Bach chorales from music21's corpus.
* :mod:`ostl.datasets.digits` -- scikit-learn's 8x8 digits; Fashion-MNIST from Debian.
* :mod:`ostl.datasets.spoken` -- SHD-like spoken digits: espeak-ng voices, a gammatone cochlea.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: version of the manifest format (see :class:`DataSet`)
MANIFEST_VERSION = 1


def cache_dir():
    """Where built data sets are kept (``$OSTL_CACHE_DIR/datasets``)."""
    root = Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl"))
    return root / "datasets"


def array_digest(arrays):
    """SHA-256 (hex) of a dict of arrays: for each key in sorted order, the key, the dtype
    (``numpy.dtype.str``, so byte order counts), the shape and the C-ordered bytes."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        header = json.dumps([key, array.dtype.str, list(array.shape)])
        digest.update(header.encode())
        digest.update(b"\0")
        digest.update(array.tobytes())
    return digest.hexdigest()


def debian_version(package):
    """The installed version of a Debian package, or None where dpkg does not know it."""
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                              capture_output=True, text=True, check=False)
    except OSError:
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


class DataSet(dict):
    """A data set's arrays (a dict) and its :attr:`manifest`.

    The manifest (also written beside the cached arrays as ``<file>.json``) is a dict:
    ``name`` (the data set), ``builder`` (the builder's version), ``parameters`` (what the
    build was asked for), ``versions`` (of everything that built it), ``sha256``
    (:func:`array_digest` of the arrays) and ``manifest`` (:data:`MANIFEST_VERSION`)."""

    def __init__(self, arrays, manifest):
        super().__init__(arrays)
        self.manifest = manifest

    def provenance(self):
        """``{"name", "sha256", "versions", "parameters"}``: what a result records of its data."""
        return {key: self.manifest[key] for key in ("name", "sha256", "versions", "parameters")}


def _cache_file(name, parameters):
    tag = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-{tag}.npz"


def _read(path, expected):
    """The cached arrays at ``path`` if their manifest matches ``expected`` (everything but
    the digest) and the arrays still have the recorded digest; else None."""
    manifest_path = path.with_suffix(".json")
    try:
        manifest = json.loads(manifest_path.read_text())
        if any(manifest.get(key) != value for key, value in expected.items()):
            return None
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, KeyError):   # missing or damaged: rebuilt
        return None
    if array_digest(arrays) != manifest.get("sha256"):
        return None
    return DataSet(arrays, manifest)


def _write_atomically(path, write):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached_arrays(name, builder, parameters, versions, build):
    """The :class:`DataSet` ``name`` built by ``build()`` (a dict of arrays) with
    ``parameters`` by builder version ``builder`` with ``versions`` of its tools: read from
    the cache when its manifest matches, else built, then written with its manifest."""
    expected = {"manifest": MANIFEST_VERSION, "name": name, "builder": builder,
                "parameters": json.loads(json.dumps(parameters)), "versions": dict(sorted(versions.items()))}
    path = _cache_file(name, expected["parameters"])
    cached = _read(path, expected)
    if cached is not None:
        return cached
    arrays = {key: np.asarray(value) for key, value in build().items()}
    manifest = dict(expected, sha256=array_digest(arrays))
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, lambda handle: np.savez_compressed(handle, **arrays))
    _write_atomically(path.with_suffix(".json"),
                      lambda handle: handle.write(json.dumps(manifest, indent=1).encode()))
    return DataSet(arrays, manifest)


def split_sequences(concatenated, lengths):
    """Cut ``concatenated`` (sum(lengths), ...) back into a list of sequences."""
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [concatenated[bounds[i]:bounds[i + 1]] for i in range(len(lengths))]
