"""Counter-based random numbers: every draw is a pure function of ``(seed, stream, device
index, event count)``, so a device's history does not depend on how operations on many
devices are ordered or batched, and a saved state (the counters) resumes exactly.

The generator hashes the four integers with SplitMix64's finaliser (Steele, Lea and Flood
2014, as used to seed xoshiro), vectorised in NumPy's wrapping uint64 arithmetic; normal
variates come from the Box-Muller transform of two such uniforms (sub-streams 0 and 1).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _key(seed, stream, index):
    """The part of the hash that does not depend on the count or the sub-stream."""
    with np.errstate(over="ignore"):
        z = _mix(np.uint64(seed) * _GOLDEN + np.uint64(stream))
        return _mix(z ^ (np.asarray(index, dtype=np.uint64) * _GOLDEN))


def _finish(key, count, sub):
    with np.errstate(over="ignore"):
        return _mix(key ^ (np.asarray(count, dtype=np.uint64) * _GOLDEN + np.uint64(sub)))


def _hash(seed, stream, index, count, sub):
    return _finish(_key(seed, stream, index), count, sub)


def _to_unit(bits):
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)   # 53 bits


def uniform(seed, stream, index, count, sub=0):
    """Uniform variates in (0, 1), one per ``(index, count)`` pair (broadcast)."""
    return _to_unit(_hash(seed, stream, index, count, sub))


def normal(seed, stream, index, count):
    """Standard normal variates, one per ``(index, count)`` pair (Box-Muller of the uniforms
    of sub-streams 0 and 1; their common part of the hash is computed once)."""
    key = _key(seed, stream, index)
    u1 = _to_unit(_finish(key, count, 0))
    u2 = _to_unit(_finish(key, count, 1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
