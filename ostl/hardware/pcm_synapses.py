"""Synapse arrays on PCM devices, updated with mixed precision (issue 11, item 2).

A weight matrix lives on ``k`` devices per synapse:

* ``k = 2`` (a single pair): ``W = scale (G+ - G-)``;
* ``k = 4`` (the OSTTP paper's differential unit cell): ``W = scale ((GA+ + GB+) - (GA- + GB-)) / 2``.

``scale`` converts conductance (uS) to weight units. Updates (Nandakumar et al. 2020,
Front. Neurosci. 14:406): every requested change is added to a high-precision
accumulator ``chi`` (in uS of effective conductance); while ``|chi| >= eps`` one SET pulse
goes to a device on the side of ``chi``'s sign -- taking turns (round robin) among the
devices of equal significance (A and B) -- and ``chi`` loses ``eps``: changes smaller than
``eps`` are kept, not lost. A pulse can only raise a conductance, so devices saturate; a
synapse whose device exceeds ``refresh_level * gmax`` is refreshed: its weight is read,
its devices are RESET and the weight is programmed back through ``chi`` (a weight beyond
what one side can hold below the refresh level saturates there, and is counted). ``chi``
is kept in uS of one device: a pulse of ``eps`` moves the weight by ``scale eps / (k/2)``.
Counts of pulses, RESETs, refreshes and saturations are kept.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..validation import check_choice, check_positive, check_range
from .pcm import PCMDevices


class PCMSynapses:
    """A matrix of ``shape`` on PCM devices (see the module docstring).

    Parameters
    ----------
    shape : tuple
    devices_per_synapse : 2 or 4
    scale : weight per uS of effective conductance
    eps : update granularity in uS (about one pulse's mean increment; default 0.75)
    refresh_level : refresh a synapse when one of its devices exceeds this fraction of gmax
    seed, gmax, drift, read_noise, programming_noise, ideal_step : of :class:`PCMDevices`
    """

    def __init__(self, shape, devices_per_synapse=4, scale=0.1, eps=0.75, refresh_level=0.9, seed=0, gmax=20.0,
                 drift="constant", read_noise="simple", programming_noise=True, ideal_step=None, t=0.0):
        self.shape = tuple(int(s) for s in shape)
        self.size = int(np.prod(self.shape))
        self.k = check_choice("devices per synapse", devices_per_synapse, {2, 4})
        self.scale = check_positive("scale (weight per uS)", scale)
        self.eps = check_positive("eps (uS)", eps)
        self.refresh_level = check_range("refresh_level", refresh_level, 0.0, 1.0, low_closed=False)
        self.devices = PCMDevices(self.size * self.k, seed=seed, gmax=gmax, drift=drift, read_noise=read_noise,
                                  programming_noise=programming_noise, ideal_step=ideal_step)
        self.chi = np.zeros(self.size)
        self.turn = np.zeros(self.size, dtype=np.int64)   # round robin among A and B (k = 4)
        self.refreshes = np.zeros(self.size, dtype=np.int64)
        self.clipped = np.zeros(self.size, dtype=np.int64)   # refreshes that had to saturate the weight
        self.devices.reset(t)

    # device layout: synapse j, role r (k = 2: +, -; k = 4: A+, B+, A-, B-) is device j*k + r
    def _plus(self):
        return self.k // 2

    def effective(self, G):
        """Effective conductance (uS) of every synapse from device conductances
        (``(synapses * k,)`` in the device layout)."""
        G = G.reshape(-1, self.k)
        half = self._plus()
        return (G[:, :half].sum(axis=1) - G[:, half:].sum(axis=1)) / half

    def weights(self, t, noisy=True):
        """The weights at time ``t`` (drifted; with read noise if ``noisy``)."""
        G = self.devices.read(t) if noisy else self.devices.conductance(t)
        return self.scale * self.effective(G).reshape(self.shape)

    def program(self, W, t):
        """Program the weights ``W`` from the RESET state (through ``chi``)."""
        W = np.asarray(W, dtype=np.float64)
        if W.shape != self.shape:
            raise ParameterError(f"weights must have shape {self.shape}, got {W.shape}")
        self.update(W - self.weights(t, noisy=False), t)

    def update(self, dW, t):
        """Request the weight change ``dW``; apply whole pulses of ``eps`` now."""
        dW = np.asarray(dW, dtype=np.float64)
        if dW.shape != self.shape:
            raise ParameterError(f"update must have shape {self.shape}, got {dW.shape}")
        half = self._plus()
        self.chi += dW.ravel() * half / self.scale   # in uS of one device: a pulse moves W by scale eps / half
        while True:
            due = np.flatnonzero(np.abs(self.chi) >= self.eps)
            if due.size == 0:
                break
            positive = self.chi[due] > 0
            # one pulse per due synapse: A or B in turn, on the + or - side
            role = np.where(positive, 0, half) + (self.turn[due] % half)
            self.devices.set_pulse(t, due * self.k + role)
            self.turn[due] += 1
            self.chi[due] -= np.where(positive, self.eps, -self.eps)
            self._refresh(t)

    def _refresh(self, t):
        G = self.devices.G.reshape(self.size, self.k)
        full = np.flatnonzero(np.any(G > self.refresh_level * self.devices.gmax, axis=1))
        if full.size == 0:
            return
        indices = (full[:, None] * self.k + np.arange(self.k)[None, :]).ravel()
        stored = self.effective(self.devices.read(t, indices))      # read the weight (with read noise)
        # what one side can hold below the refresh level; beyond it the weight saturates
        limit = self.refresh_level * self.devices.gmax - 0.1 - self.eps
        self.clipped[full] += np.abs(stored) > limit
        stored = np.clip(stored, -limit, limit)
        self.devices.reset(t, indices)
        after = self.effective(self.devices.G[indices])
        self.chi[full] += (stored - after) * self._plus()           # and program it back through chi
        self.refreshes[full] += 1

    def counts(self):
        return {"pulses": int(self.devices.pulses.sum()), "resets": int(self.devices.resets.sum()),
                "refreshes": int(self.refreshes.sum()), "saturated": int(self.clipped.sum())}
