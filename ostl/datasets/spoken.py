"""Spoken digits, an SHD-like data set synthesised offline.

The Spiking Heidelberg Digits (SHD; Cramer et al. 2020) are recordings of 12 speakers
saying the digits 0-9 in English and German, passed through a cochlear model into 700
spiking channels. No package ships SHD (tonic downloads it). This builder makes the same
kind of data from what Debian and PyPI ship, deterministically from a seed:

1. **Voices.** Debian's ``espeak-ng`` speaks every digit word in English (``zero`` ..
   ``nine``, classes 0-9) and German (``null`` .. ``neun``, classes 10-19). A
   *speaker* is an espeak-ng voice variant (``m1`` .. ``m8``, ``f1`` .. ``f5``, ``klatt``
   ..., :data:`SPEAKERS`) with its own speaking rate and pitch drawn from the seed; each
   repetition varies rate (+-10 %) and pitch (+-8) around them. The voices' breath and
   frication noise has a fixed seed (:mod:`ostl.datasets.espeak` says why the ``espeak-ng``
   command could not promise that).
2. **Cochlea**: a 700-channel gammatone filterbank with centre frequencies ERB-spaced from
   50 Hz to 8 kHz (SHD: 700 channels) -- Slaney's fourth-order gammatone as four biquads per
   channel, the coefficients from ``brian2hears`` (Brian2's auditory toolbox), applied by
   ``scipy.signal.sosfilt`` -- then inner-hair-cell transduction: half-wave rectification and
   cube-root compression, averaged over 1 ms. (brian2hears' own filtering runs Cython code it
   compiles with Brian2's ``-march=native -ffast-math`` when a test compilation succeeds and
   NumPy otherwise, which differ by up to 3e-12: the spikes would depend on the machine. SciPy's
   filter is one fixed code path, and 14x faster.)
3. **Spikes.** One integrate-and-fire unit per channel integrates the hair-cell output
   (gain :data:`GAIN`) and emits a spike each time it reaches 1 (subtracting 1): spike
   counts follow the compressed envelope, about 7,000 spikes per clip (SHD: a few thousand).
4. **Time bins.** Spikes are counted in bins of ``bin_ms`` (default 10 ms) over a fixed
   window of ``duration_ms`` (default 800 ms; the last spike of a word comes after 350 to
   700 ms), so an example is an (80, 700) array of spike counts.

Split by speaker, as SHD's test set holds speakers the training set does not: a seeded
quarter of the speakers are test speakers. The cache holds the spikes (sparse) and a manifest
(:mod:`ostl.datasets`): the versions of espeak-ng, brian2hears, Brian2, NumPy and SciPy, the
build parameters and the arrays' SHA-256.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataUnavailableError
from . import cached_arrays, espeak

#: version of this builder (2: seeded voice noise, SciPy's filtering of the gammatone bank)
BUILDER_VERSION = 2
WORDS = {"en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
         "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")}
LANGUAGES = ("en", "de")
N_CLASSES = 20
N_CHANNELS = 700
#: espeak-ng voice variants used as speakers
SPEAKERS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "croak", "grandpa", "norbert")
SAMPLE_RATE = espeak.SAMPLE_RATE
LOW_HZ, HIGH_HZ = 50.0, 8000.0
#: integrate-and-fire gain on the compressed hair-cell output (per 1 ms)
GAIN = 0.5


def _brian2hears():
    try:
        import brian2hears
    except ImportError:
        raise DataUnavailableError("the spoken-digits task's cochlear model is brian2hears: "
                                   "pip install 'brian2hears==0.9.2' (the 'data' extra)") from None
    return brian2hears


def speaker_voice(seed, speaker):
    """``(rate in words per minute, pitch 0..99)`` of a speaker."""
    rng = np.random.default_rng([seed, 0x5BEA, SPEAKERS.index(speaker)])
    return float(rng.uniform(130, 200)), float(rng.uniform(25, 75))


def synthesise(language, word, speaker, rate, pitch):
    """espeak-ng's waveform (float64 in [-1, 1), 22.05 kHz) of ``word`` (voice noise seeded:
    :func:`ostl.datasets.espeak.synthesise`)."""
    samples = espeak.synthesise(f"{language}+{speaker}", int(round(rate)), int(round(pitch)), word)
    return samples.astype(np.float64) / 32768.0


def gammatone_sections():
    """``(700, 4, 6)``: each channel's gammatone filter as four second-order sections
    (``b0 b1 b2 a0 a1 a2``, SciPy's layout), from brian2hears' Slaney gammatone."""
    _brian2hears()
    from brian2 import Hz
    from brian2hears import Gammatone, Sound, erbspace

    centre = erbspace(LOW_HZ * Hz, HIGH_HZ * Hz, N_CHANNELS)
    bank = Gammatone(Sound(np.zeros((1, 1)), samplerate=SAMPLE_RATE * Hz), centre)
    b, a = np.asarray(bank.filt_b), np.asarray(bank.filt_a)     # (channels, 3, sections)
    return np.ascontiguousarray(np.concatenate([b.transpose(0, 2, 1), a.transpose(0, 2, 1)], axis=2))


def cochlea(signal, sections=None):
    """Hair-cell output (ms, 700): gammatone filterbank, half-wave rectification, cube-root
    compression, mean over 1 ms."""
    from scipy.signal import sosfilt

    sections = gammatone_sections() if sections is None else sections
    filtered = np.empty((N_CHANNELS, len(signal)))
    for channel in range(N_CHANNELS):
        filtered[channel] = sosfilt(sections[channel], signal)
    filtered = np.ascontiguousarray(filtered.T)
    # cbrt(max(x, 0)) evaluated only where x > 0 (cbrt(0) = 0): the same values, 2-3x faster
    hair = np.zeros_like(filtered)
    np.cbrt(filtered, out=hair, where=filtered > 0.0)
    per_ms = SAMPLE_RATE // 1000   # 22 samples: a 0.998 ms grid
    steps = len(hair) // per_ms
    return hair[:steps * per_ms].reshape(steps, per_ms, N_CHANNELS).mean(axis=1)


def spike_times(hair):
    """``(times_ms, channels)`` of the integrate-and-fire encoding of the hair-cell output."""
    charge = np.cumsum(GAIN * hair, axis=0)
    counts = np.diff(np.floor(charge), axis=0, prepend=0.0).astype(np.int64)   # spikes in each ms
    times, channels = np.nonzero(counts)
    repeat = counts[times, channels]
    return np.repeat(times, repeat), np.repeat(channels, repeat)


def clip_list(seed, speakers, repetitions, classes=None):
    """Every clip: ``(speaker, language, class, repetition, rate, pitch)``."""
    clips = []
    for speaker in speakers:
        base_rate, base_pitch = speaker_voice(seed, speaker)
        for label in range(N_CLASSES) if classes is None else classes:
            language = LANGUAGES[label // 10]
            for repetition in range(repetitions):
                rng = np.random.default_rng([seed, 0xC11B, SPEAKERS.index(speaker), label, repetition])
                rate = base_rate * rng.uniform(0.9, 1.1)
                pitch = float(np.clip(base_pitch + rng.uniform(-8, 8), 0, 99))
                clips.append((speaker, language, label, repetition, rate, pitch))
    return clips


def _build(clips, progress):
    sections = gammatone_sections()
    times, channels, offsets = [], [], [0]
    iterator = clips
    if progress:
        from tqdm import tqdm

        iterator = tqdm(clips, desc="spoken digits (espeak-ng + gammatone cochlea, cached)", unit="clip")
    for speaker, language, label, _, rate, pitch in iterator:
        t, c = spike_times(cochlea(synthesise(language, WORDS[language][label % 10], speaker, rate, pitch), sections))
        times.append(t.astype(np.uint16))
        channels.append(c.astype(np.uint16))
        offsets.append(offsets[-1] + len(t))
    return {"times_ms": np.concatenate(times), "channels": np.concatenate(channels),
            "offsets": np.array(offsets, dtype=np.int64),
            "labels": np.array([clip[2] for clip in clips], dtype=np.int64),
            "speakers": np.array([clip[0] for clip in clips]),
            "rates": np.array([clip[4] for clip in clips]), "pitches": np.array([clip[5] for clip in clips])}


def versions():
    """The versions of everything that builds the spikes (the data set's manifest)."""
    import brian2
    import scipy

    return {**espeak.versions(), "brian2hears": _brian2hears().__version__, "brian2": brian2.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__}


def load(seed=0, speakers=SPEAKERS, repetitions=8, classes=None, progress=False):
    """The spikes of every clip (built once, cached; a :class:`~ostl.datasets.DataSet` with
    its manifest): ``times_ms``, ``channels`` (concatenated), ``offsets`` (clip ``k`` is
    ``offsets[k]:offsets[k+1]``), ``labels``, ``speakers``, ``rates``, ``pitches``.
    ``classes`` (default all 20) builds a subset of the classes."""
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown:
        raise DataUnavailableError(f"unknown speakers {', '.join(unknown)}; known: {', '.join(SPEAKERS)}")
    if classes is not None:
        classes = sorted({int(c) for c in classes})
        if not classes or classes[0] < 0 or classes[-1] >= N_CLASSES:
            raise DataUnavailableError(f"classes must be in [0, {N_CLASSES - 1}], got {classes}")
    parameters = {"seed": int(seed), "speakers": list(speakers), "repetitions": int(repetitions), "classes": classes}
    clips = clip_list(seed, speakers, repetitions, classes)
    return cached_arrays("spoken_digits", BUILDER_VERSION, parameters, versions(), lambda: _build(clips, progress))


def test_speakers(seed, speakers=SPEAKERS):
    """The seeded quarter of ``speakers`` (at least one) held out for testing."""
    order = np.random.default_rng([seed, 0x7E57]).permutation(len(speakers))
    n_test = max(1, len(speakers) // 4)
    return tuple(sorted(speakers[k] for k in order[:n_test]))


def binned(data, index, bin_ms, steps):
    """Clip ``index`` as spike counts (steps, 700) in bins of ``bin_ms``."""
    start, stop = data["offsets"][index], data["offsets"][index + 1]
    bins = data["times_ms"][start:stop].astype(np.int64) // bin_ms
    keep = bins < steps
    counts = np.zeros((steps, N_CHANNELS))
    np.add.at(counts, (bins[keep], data["channels"][start:stop][keep].astype(np.int64)), 1.0)
    return counts

