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
synapse whose device exceeds ``refresh_level`` times the reachable conductance
(:attr:`PCMDevices.reachable`: ``gmax``, or 10.5 uS where the PCM statistics' mean
increment vanishes) is refreshed: its weight is read, its devices are RESET and the
weight is programmed back through ``chi``. A weight beyond what one side can hold below
that level saturates there, and so does a synapse that needs a second refresh within one
update (its remaining ``chi`` is dropped); both are counted as saturated. ``chi``
is kept in uS of one device: a pulse of ``eps`` moves the weight by ``scale eps / (k/2)``.
Counts of pulses, RESETs, refreshes and saturations are kept.

With ``update_verify = N > 0`` an update is closed-loop (write and verify, as program and
verify but on every update): the array keeps the ``intended`` effective conductance of every
synapse (what was programmed plus every request since, clipped to the range); the synapses
whose ``chi`` reached ``eps`` get up to ``N`` rounds of read, compare, pulse towards it
(within ``eps / 2``), and ``chi`` becomes the intended minus the last read. Neither a pulse's
spread nor a read's noise accumulates (the target is never taken from a read), at the price
of the reads and of more pulses.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError
from ...validation import check_choice, check_positive, check_range
from .devices import PCMDevices


class PCMSynapses:
    """A matrix of ``shape`` on PCM devices (see the module docstring).

    Parameters
    ----------
    shape : tuple
    devices_per_synapse : 2 or 4
    scale : weight per uS of effective conductance
    eps : update granularity in uS (about one pulse's mean increment; default 0.75)
    refresh_level : refresh a synapse when one of its devices exceeds this fraction of the
        reachable conductance
    seed, gmax, drift, read_noise, programming_noise, ideal_step : of :class:`PCMDevices`
    verify : program-and-verify rounds when a refresh programs a weight back (0: open loop,
        through ``chi``); either way ``chi`` keeps what the devices miss
    update_verify : write-and-verify rounds of every update (0: open loop, the default)
    """

    def __init__(self, shape, devices_per_synapse=4, scale=0.1, eps=0.75, refresh_level=0.9, seed=0, gmax=20.0,
                 drift="constant", read_noise="simple", programming_noise=True, ideal_step=None, t=0.0, verify=0,
                 present=None, update_verify=0):
        self.shape = tuple(int(s) for s in shape)
        self.size = int(np.prod(self.shape))
        self.k = check_choice("devices per synapse", devices_per_synapse, {2, 4})
        self.scale = check_positive("scale (weight per uS)", scale)
        self.eps = check_positive("eps (uS)", eps)
        self.refresh_level = check_range("refresh_level", refresh_level, 0.0, 1.0, low_closed=False)
        self.verify = int(verify)   # program-and-verify rounds of a refresh (0: open loop through chi)
        self.update_verify = int(update_verify)   # write-and-verify rounds of an update (0: open loop)
        #: the effective conductance (uS) every synapse should hold (write and verify's target)
        self.intended = np.zeros(self.size)
        #: synapses that exist (e.g. no autapse in a recurrent matrix): the others are never read
        #: or programmed and weigh 0
        self.present = None if present is None else np.asarray(present, dtype=bool).ravel().copy()
        if self.present is not None and self.present.size != self.size:
            raise ParameterError(f"present must have {self.size} entries, got {self.present.size}")
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
        if self.present is None:
            G = self.devices.read(t) if noisy else self.devices.conductance(t)
        else:
            G = np.zeros(self.size * self.k)
            indices = self._devices_of(np.flatnonzero(self.present))
            G[indices] = self.devices.read(t, indices) if noisy else self.devices.conductance(t, indices)
        W = self.scale * self.effective(G)
        if self.present is not None:
            W[~self.present] = 0.0
        return W.reshape(self.shape)

    def program(self, W, t, verify=0, tolerance=None):
        """Program the weights ``W`` (from the RESET state, or on top of what is there).

        ``verify=0``: open loop, the difference goes through ``chi`` like an update (the first
        pulses after a RESET are the largest and noisiest: about 1.8 +- 1.7 uS where ``chi``
        counts ``eps``). ``verify=N``: program and verify, up to ``N`` rounds of a (noisy)
        read, and one pulse on the side of the error for every synapse whose effective
        conductance is off by more than ``tolerance`` (uS, default ``eps / 2``); what remains
        is left (``chi`` untouched)."""
        W = np.asarray(W, dtype=np.float64)
        if W.shape != self.shape:
            raise ParameterError(f"weights must have shape {self.shape}, got {W.shape}")
        if self.present is not None:
            W = np.where(self.present.reshape(self.shape), W, 0.0)
        if not verify:
            self.update(W - self.weights(t, noisy=False), t)
            return
        self.intended = np.clip(W.ravel() / self.scale, -self.range(), self.range())
        tolerance = self.eps / 2 if tolerance is None else check_positive("tolerance (uS)", tolerance)
        synapses = np.arange(self.size) if self.present is None else np.flatnonzero(self.present)
        self._verify(synapses, W.ravel()[synapses] / self.scale, t, int(verify), tolerance)

    def _devices_of(self, synapses):
        return (synapses[:, None] * self.k + np.arange(self.k)[None, :]).ravel()

    def _verify(self, synapses, target, t, rounds, tolerance):
        """Program and verify ``synapses`` towards the effective conductances ``target`` (uS)."""
        half = self._plus()
        top = self.devices.reachable
        for _ in range(rounds):
            # a synapse within the tolerance is done (read no more): what happens to a synapse
            # never depends on the others programmed with it
            error = target - self.effective(self.devices.read(t, self._devices_of(synapses)))
            off = np.abs(error) > tolerance
            if not np.any(off):
                break
            synapses, target, error = synapses[off], target[off], error[off]
            role = np.where(error > 0, 0, half) + (self.turn[synapses] % half)
            self.devices.set_pulse(t, synapses * self.k + role)
            self.turn[synapses] += 1
            # both sides climbed (overshoot, then compensation): near the top a pulse is noise
            # rather than a step, so start such a synapse over from the RESET state
            G = self.devices.G.reshape(self.size, self.k)
            over = synapses[np.any(G[synapses] > 0.5 * top, axis=1) & (np.abs(target) < 0.25 * top)]
            if over.size:
                self.devices.reset(t, self._devices_of(over))

    def update(self, dW, t):
        """Request the weight change ``dW``; apply whole pulses of ``eps`` now."""
        dW = np.asarray(dW, dtype=np.float64)
        if dW.shape != self.shape:
            raise ParameterError(f"update must have shape {self.shape}, got {dW.shape}")
        half = self._plus()
        if self.present is not None:
            dW = np.where(self.present.reshape(self.shape), dW, 0.0)
        self.chi += dW.ravel() * half / self.scale   # in uS of one device: a pulse moves W by scale eps / half
        refreshed = np.zeros(self.size, dtype=np.int64)   # refreshes within this update
        if self.update_verify:   # (open loop leaves intended alone: NEST's synapses do not keep it)
            self.intended = np.clip(self.intended + dW.ravel() / self.scale, -self.range(), self.range())
            self._write_and_verify(t, refreshed)
            return
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
            self._refresh(t, refreshed, due)

    def _write_and_verify(self, t, refreshed):
        """The closed-loop update (``update_verify`` rounds; see the module docstring)."""
        due = np.flatnonzero(np.abs(self.chi) >= self.eps)
        if due.size == 0:
            return
        self._verify(due, self.intended[due], t, self.update_verify, self.eps / 2)
        self._refresh(t, refreshed, due)
        after = self.effective(self.devices.read(t, self._devices_of(due)))
        self.chi[due] = (self.intended[due] - after) * self._plus()

    def _level(self):
        return self.refresh_level * self.devices.reachable

    def range(self):
        """The largest effective conductance (uS) a weight keeps through a refresh."""
        return self._level() - 0.1 - self.eps

    def _refresh(self, t, refreshed, pulsed):
        """Refresh the synapses among ``pulsed`` (those that just received a pulse) whose
        device passed the refresh level."""
        G = self.devices.G.reshape(self.size, self.k)
        full = pulsed[np.any(G[pulsed] > self._level(), axis=1)]
        if full.size == 0:
            return
        # full again within one update: the request exceeds the range; refresh to the limit and drop
        # the rest of the request (saturated); full a third time (programming noise): stop there
        stop = full[refreshed[full] >= 2]
        if stop.size:
            self.clipped[stop[refreshed[stop] == 2]] += 1
            refreshed[stop] = 3
            self.chi[stop] = 0.0
            full = full[refreshed[full] < 2]
            if full.size == 0:
                return
        again = full[refreshed[full] == 1]
        self.clipped[again] += 1
        self.chi[again] = 0.0
        refreshed[full] += 1
        indices = (full[:, None] * self.k + np.arange(self.k)[None, :]).ravel()
        stored = self.effective(self.devices.read(t, indices))      # read the weight (with read noise)
        # what one side can hold below the refresh level; beyond it the weight saturates
        limit = self.range()
        self.clipped[full] += (np.abs(stored) > limit) & (refreshed[full] == 1)
        stored = np.clip(stored, -limit, limit)
        self.devices.reset(t, indices)
        if self.verify:   # program it back with program and verify; chi keeps the residual
            self._verify(full, stored, t, self.verify, self.eps / 2)
        after = self.effective(self.devices.G[indices])
        self.chi[full] += (stored - after) * self._plus()           # (open loop: program it back through chi)
        self.refreshes[full] += 1

    def counts(self):
        """Pulses, RESETs, refreshes and saturated refreshes so far."""
        return {"pulses": int(self.devices.pulses.sum()), "resets": int(self.devices.resets.sum()),
                "refreshes": int(self.refreshes.sum()), "saturated": int(self.clipped.sum())}

    # -- state --------------------------------------------------------------------------
    STATE = ("chi", "turn", "refreshes", "clipped", "intended")

    def nominal(self):
        """The programmed weights: conductances as programmed, without drift or read noise."""
        W = self.scale * self.effective(self.devices.G)
        if self.present is not None:
            W[~self.present] = 0.0
        return W.reshape(self.shape)

    def state_dict(self):
        """The array's state (devices, chi, round-robin turns, intended conductances, scale) for checkpoints."""
        state = {f"devices.{k}": v for k, v in self.devices.state_dict().items()}
        state.update({name: getattr(self, name).copy() for name in self.STATE})
        state["scale"] = np.array(self.scale)
        return state

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (a state saved before write and verify gets its intended conductances rebuilt)."""
        self.devices.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("devices.")})
        for name in self.STATE:
            if name == "intended" and name not in state:   # a state saved before write and verify existed
                state = dict(state, intended=self.effective(self.devices.G) + state["chi"] / self._plus())
            value = np.asarray(state[name])
            if value.shape != (self.size,):
                raise ParameterError(f"PCM synapse state {name} must have shape ({self.size},), got {value.shape}")
            setattr(self, name, value.astype(getattr(self, name).dtype).copy())
        self.scale = float(state["scale"])
