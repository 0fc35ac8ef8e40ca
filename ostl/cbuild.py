"""C code compiled for the host on first use and loaded through ctypes.

One place for what every compiled part of ostl needs: the cache root (``$OSTL_CACHE_DIR``,
default ``~/.cache/ostl``, shared with the data sets), the host compiler (``$CC``, default
``cc``) and a build keyed by the hash of the sources and the flags, so a changed source is
rebuilt and an unchanged one is loaded from the cache. Two processes building the same library
at once each compile into a private directory and move the result into place atomically.

Used by the SpiNNaker host kernels (:mod:`ostl.hardware.spinnaker.build`) and the engine's
compiled inner loops (:mod:`ostl.compiled`)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import BackendUnavailableError


def cache_root():
    """The root of ostl's caches (``$OSTL_CACHE_DIR``, default ``~/.cache/ostl``)."""
    return Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl"))


def compiler(purpose):
    """The host C compiler (``$CC``, default ``cc``), or a clear error naming ``purpose``."""
    name = os.environ.get("CC", "cc")
    if shutil.which(name) is None:
        raise BackendUnavailableError(f"{purpose} need a C compiler for the host ({name!r} not found; "
                                      "apt-get install gcc)")
    return name


def shared_library(purpose, directory, name, sources, flags, include_dirs=()):
    """Build (once) and load a shared library.

    Parameters
    ----------
    purpose : str
        What the library is, for error messages ("the SpiNNaker kernels").
    directory : str
        Its cache directory under :func:`cache_root`.
    name : str
        The library's file name (``libostl_....so``).
    sources : dict
        ``{file name: text}`` of the C sources and headers (the ``.c`` files are compiled).
    flags : tuple of str
        Compiler flags (part of the cache key).
    include_dirs : tuple of paths
        Extra ``-I`` directories (their headers must be among ``sources`` to be in the key).
    """
    digest = hashlib.sha256()
    for file_name in sorted(sources):
        digest.update(file_name.encode())
        digest.update(sources[file_name].encode() if isinstance(sources[file_name], str) else sources[file_name])
    digest.update(" ".join(flags).encode())
    target = cache_root() / directory / digest.hexdigest()[:16] / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            work = Path(work)
            for file_name, text in sources.items():
                (work / file_name).write_bytes(text.encode() if isinstance(text, str) else text)
            built = work / name
            includes = [arg for d in (work, *include_dirs) for arg in ("-I", str(d))]
            units = [str(work / f) for f in sorted(sources) if f.endswith(".c")]
            command = [compiler(purpose), *flags, *includes, "-o", str(built), *units]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise BackendUnavailableError(f"building {purpose} failed: {done.stderr.strip()}")
            os.replace(built, target)
    return ctypes.CDLL(str(target))
