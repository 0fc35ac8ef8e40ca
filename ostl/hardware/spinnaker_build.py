"""The SpiNNaker learning kernels (``ostl/hardware/spinnaker_c/*.c``) compiled for the host:
a shared library the Python side calls through ctypes, built once per source hash into
``$OSTL_CACHE_DIR/spinnaker`` (default ``~/.cache/ostl/spinnaker``). Integer-only C: the
same files are meant for the ARM968 cores (issue 12, item 3)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import BackendUnavailableError

SOURCE_DIR = Path(__file__).parent / "spinnaker_c"
HOST_FLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")


def sources():
    return sorted(SOURCE_DIR.glob("*.c")) + sorted(SOURCE_DIR.glob("*.h"))


def cache_dir():
    return Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl")) / "spinnaker"


def _compiler():
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        raise BackendUnavailableError(f"the SpiNNaker kernels need a C compiler for the host ({compiler!r} not found; "
                                      "apt-get install gcc)")
    return compiler


def host_library():
    """The kernels as a loaded shared library (built on first use)."""
    digest = hashlib.sha256()
    for path in sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(" ".join(HOST_FLAGS).encode())
    target = cache_dir() / digest.hexdigest()[:16] / "libostl_spinnaker.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            built = Path(work) / target.name
            command = [_compiler(), *HOST_FLAGS, "-I", str(SOURCE_DIR), "-o", str(built),
                       *[str(p) for p in sources() if p.suffix == ".c"]]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise BackendUnavailableError(f"building the SpiNNaker kernels failed: {done.stderr.strip()}")
            os.replace(built, target)
    return ctypes.CDLL(str(target))
