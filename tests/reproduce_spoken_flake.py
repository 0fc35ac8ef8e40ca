"""Make the spoken-digit flake of issue 20 happen on demand, and show that it is gone.

The flake: ``tests/test_real_data.py::test_spoken_digit_generation_is_deterministic_and_shd_like``
failed in fresh clones with "espeak-ng's waveform differs between two runs". Cause (see
:mod:`ostl.datasets.espeak`): espeak-ng 1.51 draws its voices' breath noise from the C
library's unseeded ``rand()``, and its command starts PulseAudio's client library even with
``--stdout``; when PulseAudio's runtime directory does not exist yet (a new machine, a new
``HOME``, a cleaned ``/tmp``) that library draws 24 numbers from the same ``rand()`` to name
it, so the first ``espeak-ng`` of a machine speaks with other noise than every later one.

Each round here gives the synthesiser a fresh, empty ``HOME`` and ``TMPDIR`` (a new machine,
as far as PulseAudio is concerned) and speaks "sieben" with voice ``de+f2`` twice: the first
call starts PulseAudio's set-up, the second finds it done.

    python tests/reproduce_spoken_flake.py --cli          # the espeak-ng command: fails at once
    python tests/reproduce_spoken_flake.py --repeat 50    # ostl's synthesiser: passes 50 times

Exit status 1 at the first round whose two waveforms differ, 0 when all rounds agree.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def speak_with_the_command(voice, rate, pitch, text):
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
                         capture_output=True, check=True).stdout
    return np.frombuffer(wav[44:len(wav) // 2 * 2], dtype="<i2")   # after the 44-byte header


def speak_with_ostl(voice, rate, pitch, text):
    from ostl.datasets import espeak

    return espeak.synthesise(voice, rate, pitch, text)


def one_round(speak):
    saved = {key: os.environ.get(key) for key in ("HOME", "TMPDIR", "XDG_RUNTIME_DIR")}
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(HOME=home, TMPDIR=tmp)
        os.environ.pop("XDG_RUNTIME_DIR", None)
        try:
            first = speak("de+f2", 150, 40, "sieben")    # PulseAudio creates its runtime directory
            second = speak("de+f2", 150, 40, "sieben")   # and finds it
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return first, second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (default 1)")
    parser.add_argument("--cli", action="store_true", help="speak with the espeak-ng command (the old way)")
    args = parser.parse_args(argv)
    speak = speak_with_the_command if args.cli else speak_with_ostl
    for round_ in range(1, args.repeat + 1):
        first, second = one_round(speak)
        if first.shape != second.shape or not np.array_equal(first, second):
            differing = int(np.sum(first != second)) if first.shape == second.shape else "all"
            print(f"round {round_}: the two waveforms differ ({differing} of {len(first)} samples)")
            return 1
    print(f"{args.repeat} rounds: the waveforms agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
