"""Phase-change-memory (PCM) devices: programming, drift and read noise, with explicit time.

Statistics (conductances in uS, times in s):

* **SET pulse** (Nandakumar et al. 2018, J. Appl. Phys. 124, 152135, in the form of public
  e-prop-on-PCM code): the pulse-history factor decays first, ``P <- P exp(-1/2.6)``
  (``P = 1`` after a RESET), then the conductance changes by ``N(mu, sigma)`` with
  ``mu = -0.084 G + 0.880 + 1.40 P`` and ``sigma = 0.091 G + 0.260 + 2.15 P``, ``G`` the
  device's (drifted) conductance at the time of the pulse; the result is clipped to
  ``[G_MIN, gmax]``.
* **RESET**: ``G = N(0.1, 0.01)`` (clipped at 0), ``P = 1``.
* **Drift**: ``'constant'`` (Nandakumar et al.): ``G(t) = G_p ((t - t_p) / t0)^(-nu)`` for
  ``t - t_p > t0`` (``G_p`` at programming time ``t_p``, ``t0 = 38.6 s``, ``nu = 0.04``);
  ``'ibm'``: IBM's PCM noise model as aihwkit 1.1.0's ``PCMLikeNoiseModel`` has it,
  ``G(t) = G_p ((t - t_p + t0) / t0)^(-nu)`` with ``t0 = 20 s`` and ``nu`` drawn per device at
  every programming event from the programmed conductance: ``nu = |N(mu_nu, sigma_nu)|``,
  ``mu_nu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1)``, ``sigma_nu = clip(-0.0125 ln g - 0.0059,
  0.008, 0.045)``, ``g = G_p / 25 uS``.
* **Read noise**: ``'simple'``: ``N(0, 0.03 G + 0.13)``; ``'1/f'`` (accumulated 1/f noise of
  the IBM model, as aihwkit): ``std = |G(t)| Q sqrt(ln((t' + t_read) / (2 t_read)))``,
  ``Q = min(0.0088 / max(g_p^0.65, 1e-3), 0.2)`` of the programmed ``g_p = G_p / 25 uS``,
  ``t_read = 250 ns``, ``t' = t - t_p + 20 s`` (IBM's time origin); reads clipped at 0.

Every random number is drawn from :mod:`ostl.hardware.pcm.counter_rng`, keyed by ``(seed,
stream, device index, the device's event count)``: a device's history is the same however
operations on many devices are ordered or batched, and the counters are part of the state.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError
from ...validation import check_choice, check_int, check_positive
from . import counter_rng

G_MIN = 0.1            # uS, the conductance floor of a SET
RESET_MEAN, RESET_STD = 0.1, 0.01
PULSE_DECAY = float(np.exp(-1.0 / 2.6))
DRIFT_T0 = 38.6        # s (Nandakumar et al.)
IBM_T0 = 20.0          # s (IBM's PCM noise model)
DRIFT_NU = 0.04
IBM_G_REF = 25.0       # uS, the IBM model's normalisation
READ_T = 250e-9        # s
STREAM_RESET, STREAM_SET, STREAM_READ, STREAM_NU = 1, 2, 3, 4


def set_mean(G, P):
    """Mean conductance change (uS) of a SET pulse at conductance ``G`` and pulse history ``P`` (Nandakumar et al.
    2018)."""
    return -0.084 * G + 0.880 + 1.40 * P


def set_std(G, P):
    """Standard deviation (uS) of a SET pulse's conductance change at ``G`` and ``P`` (Nandakumar et al. 2018)."""
    return 0.091 * G + 0.260 + 2.15 * P


class PCMDevices:
    """``n`` PCM devices. Operations take device indices and the time (s) at which they
    happen; time must not run backwards for a device.

    Parameters
    ----------
    n : int
    seed : int
    gmax : float -- saturation conductance (uS), default 20
    drift : 'constant' (nu = 0.04), 'ibm' (IBM's model, nu drawn per device at each
        programming event), or 'off'
    read_noise : 'simple', '1/f' or 'off'
    programming_noise : bool -- False: a SET adds exactly ``mu`` (and RESET gives 0.1)
    ideal_step : float or None -- an idealised device whose SET adds exactly this (uS),
        noise-free (to test update schemes in isolation); None: the PCM statistics
    """

    def __init__(self, n, seed=0, gmax=20.0, drift="constant", read_noise="simple", programming_noise=True,
                 ideal_step=None):
        self.n = check_int("devices", n, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.gmax = check_positive("gmax (uS)", gmax)
        if self.gmax <= G_MIN:
            raise ParameterError(f"gmax (uS) must be in ({G_MIN}, inf), got {gmax}")
        self.drift = check_choice("drift", drift, {"constant", "ibm", "off"})
        self.read_noise = check_choice("read_noise", read_noise, {"simple", "1/f", "off"})
        self.programming_noise = bool(programming_noise)
        self.ideal_step = None if ideal_step is None else check_positive("ideal_step (uS)", ideal_step)
        self.G = np.full(self.n, RESET_MEAN)       # conductance at programming time
        self.P = np.ones(self.n)                   # pulse-history factor
        self.t_programmed = np.zeros(self.n)
        self.nu = np.full(self.n, DRIFT_NU if drift == "constant" else 0.0)
        self.events = np.zeros(self.n, dtype=np.int64)   # programming events (RNG counter)
        self.reads = np.zeros(self.n, dtype=np.int64)    # reads (RNG counter of read noise)
        self.pulses = np.zeros(self.n, dtype=np.int64)
        self.resets = np.zeros(self.n, dtype=np.int64)

    @property
    def reachable(self):
        """The conductance SET pulses drive a device towards: ``gmax`` for an idealised
        device; for the PCM statistics the mean increment ``-0.084 G + 0.880`` (pulse
        history spent) vanishes at 10.5 uS, beyond which pulses add nothing on average."""
        if self.ideal_step is not None:
            return self.gmax
        return min(self.gmax, 0.880 / 0.084)

    # -- state --------------------------------------------------------------------------
    STATE = ("G", "P", "t_programmed", "nu", "events", "reads", "pulses", "resets")

    def state_dict(self):
        """The devices' state (conductances, pulse history, drift, times, counters) for checkpoints."""
        return {name: getattr(self, name).copy() for name in self.STATE}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`; a state of another size is refused."""
        for name in self.STATE:
            value = np.asarray(state[name])
            if value.shape != (self.n,):
                raise ParameterError(f"PCM state {name} must have shape ({self.n},), got {value.shape}")
            setattr(self, name, value.astype(getattr(self, name).dtype).copy())

    # -- operations ---------------------------------------------------------------------
    def _indices(self, indices):
        if indices is None:   # every device: distinct and in range by construction
            return np.arange(self.n)
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise ParameterError(f"device indices must be in [0, {self.n - 1}]")
        # a count per device (linear time: an array is read at every step with read='step')
        if idx.size > 1 and np.bincount(idx).max() > 1:
            raise ParameterError("device indices of one operation must be distinct")
        return idx

    def _check_time(self, idx, t):
        if np.any(t < self.t_programmed[idx]):
            raise ParameterError("time must not run backwards: an operation at t precedes the device's last "
                                 "programming")

    def conductance(self, t, indices=None):
        """Drifted conductance (no read noise) at time ``t``."""
        idx = self._indices(indices)
        G, elapsed = self.G[idx], t - self.t_programmed[idx]
        if self.drift == "off":
            return G.copy()
        if self.drift == "ibm":
            return G * ((elapsed + IBM_T0) / IBM_T0) ** (-self.nu[idx])
        # no drift within t0 of programming: there the base is 1, and 1 ** x == 1 exactly
        return G * (np.maximum(elapsed, DRIFT_T0) / DRIFT_T0) ** (-self.nu[idx])

    def reset(self, t, indices=None):
        """RESET the devices ``indices`` (default all) at time ``t``: amorphous, near zero conductance."""
        idx = self._indices(indices)
        self._check_time(idx, t)
        noise = (counter_rng.normal(self.seed, STREAM_RESET, idx, self.events[idx])
                 if self.programming_noise and self.ideal_step is None else 0.0)
        self.G[idx] = np.maximum(RESET_MEAN + RESET_STD * noise, 0.0)
        self.P[idx] = 1.0
        self.t_programmed[idx] = t
        self._draw_nu(idx)
        self.events[idx] += 1
        self.resets[idx] += 1

    def _draw_nu(self, idx):
        """IBM drift: a new exponent for the newly programmed conductance (before the event
        counter advances: keyed by the programming event)."""
        if self.drift != "ibm":
            return
        g = np.maximum(np.abs(self.G[idx]) / IBM_G_REF, 1e-6)
        mu = np.clip(-0.0155 * np.log(g) + 0.0244, 0.049, 0.1)
        sigma = np.clip(-0.0125 * np.log(g) - 0.0059, 0.008, 0.045)
        self.nu[idx] = np.abs(mu + sigma * counter_rng.normal(self.seed, STREAM_NU, idx, self.events[idx]))

    def set_pulse(self, t, indices=None):
        """One SET pulse on each device of ``indices`` at time ``t``."""
        idx = self._indices(indices)
        self._check_time(idx, t)
        G = self.conductance(t, idx)
        P = self.P[idx] * PULSE_DECAY
        increment = set_mean(G, P) if self.ideal_step is None else np.full(idx.size, self.ideal_step)
        if self.programming_noise and self.ideal_step is None:
            increment = increment + set_std(G, P) * counter_rng.normal(self.seed, STREAM_SET, idx, self.events[idx])
        self.G[idx] = np.clip(G + increment, G_MIN, self.gmax)
        self.P[idx] = P
        self.t_programmed[idx] = t
        self._draw_nu(idx)
        self.events[idx] += 1
        self.pulses[idx] += 1

    def read(self, t, indices=None):
        """Noisy read of the drifted conductances at time ``t``."""
        idx = self._indices(indices)
        self._check_time(idx, t)
        G = self.conductance(t, idx)
        if self.read_noise == "off":
            return G
        if self.read_noise == "simple":
            std = 0.03 * np.abs(G) + 0.13
        else:
            g = np.abs(self.G[idx]) / IBM_G_REF
            Q = np.minimum(0.0088 / np.maximum(g ** 0.65, 1e-3), 0.2)
            since = t - self.t_programmed[idx] + IBM_T0
            std = np.abs(G) * Q * np.sqrt(np.log((since + READ_T) / (2 * READ_T)))
        noise = counter_rng.normal(self.seed, STREAM_READ, idx, self.reads[idx])
        self.reads[idx] += 1
        read = G + std * noise
        return read if self.read_noise == "simple" else np.maximum(read, 0.0)


def simulate(devices, pulses, seed=0, gmax=20.0, read_times=()):
    """``ostl pcm-sim``: RESET at t = 0, then ``pulses`` SET pulses at t = 1, 2, ... s.
    Returns ``G`` (pulses + 1, devices) -- the programmed conductances after the RESET and
    after each pulse -- and, with ``read_times`` (s after the last pulse), ``G_read``
    (len(read_times), devices): drifted, noisy reads."""
    model = PCMDevices(devices, seed=seed, gmax=gmax)
    pulses = check_int("pulses", pulses, minimum=0)
    G = np.empty((pulses + 1, model.n))
    model.reset(0.0)
    G[0] = model.G
    for k in range(1, pulses + 1):
        model.set_pulse(float(k))
        G[k] = model.G
    out = {"G": G}
    if len(read_times):
        times = np.asarray(read_times, dtype=np.float64)
        if np.any(~np.isfinite(times)) or np.any(times < 0) or np.any(np.diff(times) < 0):
            raise ParameterError("--read-times must be finite, >= 0 and increasing (s after the last pulse)")
        out["G_read"] = np.stack([model.read(float(pulses) + t) for t in times])
    return out
