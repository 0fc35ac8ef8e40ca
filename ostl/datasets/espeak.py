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
import ctypes.util
import functools
import os
import subprocess
import sys

import numpy as np

from ..errors import DataUnavailableError
from . import debian_version

#: the seed of the synthesiser's noise (glibc's default seed of ``rand()``)
NOISE_SEED = 1
SAMPLE_RATE = 22050
_LIBRARY = "espeak-ng"
# espeak-ng's API constants (espeak-ng/speak_lib.h, espeak_ng.h)
_ENOUTPUT_MODE_SYNCHRONOUS = 0x0001
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_POS_CHARACTER = 1
_SYNTH_FLAGS = 0x0100 | 0x1000   # espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE: the command's default
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _library_path():
    """libespeak-ng: ``$OSTL_ESPEAK_LIBRARY`` (a path) if set, else the system's."""
    path = os.environ.get("OSTL_ESPEAK_LIBRARY") or ctypes.util.find_library(_LIBRARY)
    if path is None or (os.sep in path and not os.path.exists(path)):
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
    ``"de+f2"``), ``rate`` in words per minute and ``pitch`` 0..99, in a child process."""
    _library_path()
    done = subprocess.run([sys.executable, "-m", __name__, voice, str(int(rate)), str(int(pitch)), text],
                          capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise DataUnavailableError(f"espeak-ng could not speak {text!r} with voice {voice}: "
                                   f"{message[-1] if message else 'exit ' + str(done.returncode)}")
    return np.frombuffer(done.stdout, dtype="<i2")


def _speak(voice, rate, pitch, text):
    """The child's work: initialise libespeak-ng, seed the noise, synthesise, return the bytes."""
    library = ctypes.CDLL(_library_path())
    libc = ctypes.CDLL(None)
    chunks = []

    def collect(wav, count, _events):
        if wav and count > 0:
            chunks.append(ctypes.string_at(wav, 2 * count))
        return 0

    callback = _CALLBACK(collect)
    library.espeak_ng_InitializePath(None)
    for name, call in (("initialise", lambda: library.espeak_ng_Initialize(ctypes.byref(ctypes.c_void_p()))),
                       ("open the synchronous output",
                        lambda: library.espeak_ng_InitializeOutput(_ENOUTPUT_MODE_SYNCHRONOUS, 0, None)),
                       (f"select voice {voice}", lambda: library.espeak_ng_SetVoiceByName(voice.encode()))):
        if call() != 0:
            raise SystemExit(f"espeak-ng: cannot {name}")
    rate_hz = library.espeak_ng_GetSampleRate()
    if rate_hz != SAMPLE_RATE:
        raise SystemExit(f"espeak-ng writes {rate_hz} Hz audio; expected {SAMPLE_RATE} Hz")
    library.espeak_SetSynthCallback(callback)
    library.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
    library.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
    # the noise seed, after the audio set-up (which may draw from rand()) and before synthesis
    libc.srand(ctypes.c_uint(NOISE_SEED))
    if hasattr(library, "espeak_ng_SetRandSeed"):
        library.espeak_ng_SetRandSeed(ctypes.c_long(NOISE_SEED))
    encoded = text.encode()
    if library.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _SYNTH_FLAGS, None, None) != 0 \
            or library.espeak_ng_Synchronize() != 0:
        raise SystemExit(f"espeak-ng: cannot synthesise {text!r}")
    return b"".join(chunks)


if __name__ == "__main__":
    _voice, _rate, _pitch, _text = sys.argv[1:5]
    sys.stdout.buffer.write(_speak(_voice, int(_rate), int(_pitch), _text))
