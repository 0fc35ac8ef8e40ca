"""espeak-ng speech with a fixed noise seed: the voices of the spoken-digits data set.

Why not the ``espeak-ng`` command
---------------------------------
espeak-ng 1.51 (Debian 12) draws the breath noise of its ``f1`` .. ``f5`` voice variants (and
the Klatt voices' frication) from the C library's ``rand()``, which it never seeds. Its
command-line tool also initialises an audio device through pcaudio even with ``--stdout``,
and PulseAudio's client library, when it has to create its runtime directory (no
``~/.config/pulse/<machine-id>-runtime`` link, or the ``/tmp/pulse-*`` folder it points to is
gone: a new machine, a new ``HOME``, a cleaned ``/tmp``), names it with 24 calls of the same
``rand()``. The first ``espeak-ng`` run on a fresh machine therefore synthesised a different
waveform (same length, 70-90 % of the samples off by up to 0.05) from every later run: the
flaky determinism test, and spoken-digit data sets whose first clip depended on the machine's
history.

This module calls libespeak-ng itself, in a child process of its own per utterance (the
synthesiser keeps state between utterances), and seeds ``rand()`` with
:data:`NOISE_SEED` after the audio set-up and right before synthesis. Whatever the audio
libraries do, the noise sequence is the same. Seed 1 is glibc's default, so the waveforms equal
what ``espeak-ng -v VOICE -s RATE -p PITCH --stdout WORD`` wrote whenever PulseAudio's runtime
directory already existed (tested). espeak-ng 1.52 and newer seed their own generator from the
clock; where the library has ``espeak_ng_SetRandSeed`` it is called with the same seed.

The library is the system's ``libespeak-ng`` (Debian ``espeak-ng``), or the file named by
``$OSTL_ESPEAK_LIBRARY``.
"""

from __future__ import annotations

import ctypes
import functools
import subprocess
import sys

import numpy as np

from ..errors import DataUnavailableError
from . import _espeak_child, debian_version
from ._espeak_child import NOISE_SEED, SAMPLE_RATE  # noqa: F401 (documented here)


def _library_path():
    """libespeak-ng: ``$OSTL_ESPEAK_LIBRARY`` (a path) if set, else the system's."""
    path = _espeak_child.library_path()
    if path is None:
        raise DataUnavailableError("the spoken-digits task synthesises speech with libespeak-ng: "
                                   "apt-get install espeak-ng")
    return path


@functools.lru_cache(maxsize=1)
def versions():
    """``{"espeak-ng": the library's version, "espeak-ng-package": the Debian package's}`` (the
    package entry only where dpkg knows it)."""
    library = ctypes.CDLL(_library_path())
    library.espeak_Info.restype = ctypes.c_char_p
    found = {"espeak-ng": library.espeak_Info(None).decode()}
    package = debian_version("libespeak-ng1")
    if package is not None:
        found["espeak-ng-package"] = package
    return found


def synthesise(voice, rate, pitch, text):
    """espeak-ng's waveform of ``text`` (int16 samples at 22.05 kHz) with ``voice`` (e.g.
    ``"de+f2"``), ``rate`` in words per minute and ``pitch`` 0..99, in a child process
    (:mod:`ostl.datasets._espeak_child`, run as a standard-library-only script)."""
    _library_path()
    done = subprocess.run([sys.executable, "-I", _espeak_child.__file__, voice, str(int(rate)), str(int(pitch)), text],
                          capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise DataUnavailableError(f"espeak-ng could not speak {text!r} with voice {voice}: "
                                   f"{message[-1] if message else 'exit ' + str(done.returncode)}")
    return np.frombuffer(done.stdout, dtype="<i2")
