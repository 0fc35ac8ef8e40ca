"""The child process of :func:`ostl.datasets.espeak.synthesise`: one utterance of libespeak-ng
with the noise seeded (the reasons: :mod:`ostl.datasets.espeak`).

This file imports nothing but the standard library and is run as a script
(``python -I _espeak_child.py VOICE RATE PITCH TEXT``, the int16 samples on stdout): a child
that imported ``ostl`` (and NumPy) spent ~1.3 s of its ~1.4 s starting up, per clip.
"""

import ctypes
import ctypes.util
import os
import sys

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


def library_path():
    """libespeak-ng: ``$OSTL_ESPEAK_LIBRARY`` (a path) if set, else the system's; None if
    there is none."""
    path = os.environ.get("OSTL_ESPEAK_LIBRARY") or ctypes.util.find_library(_LIBRARY)
    if path is None or (os.sep in path and not os.path.exists(path)):
        return None
    return path


def speak(voice, rate, pitch, text):
    """Initialise libespeak-ng, seed the noise, synthesise; the samples' bytes."""
    path = library_path()
    if path is None:
        raise SystemExit("espeak-ng: libespeak-ng not found")
    library = ctypes.CDLL(path)
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
    sys.stdout.buffer.write(speak(_voice, int(_rate), int(_pitch), _text))
