"""Hardware in the loop: a network whose weight matrices live on PCM arrays (issue 11, item 3).

The OSTTP paper's setting (paper 001, section III-B): the crossbars hold the weights and
do the matrix products, the eligibility traces and learning signals are computed in
software (float), and the updates go back to the devices as programming pulses.
:class:`PCMWeights` does this for any backend that returns the rule's gradient (the
reference engine, Brian2 in deferred mode):

* every weight matrix of the network (``*.W``, ``*.H``, gated ``W_<gate>``/``H_<gate>``,
  the readout's ``W``) is a :class:`~ostl.hardware.pcm.arrays.PCMSynapses` array;
  biases and neuron parameters stay in software. With ``feedback=True`` the rule's fixed
  random matrices ``B`` live on arrays of their own (the paper's second chip) and are read
  like the weights (drift and read noise included; programmed once, never updated);
* the initial weights (and ``B``) are programmed from the RESET state, and a refreshed
  synapse is programmed back, with program and verify (``verify`` rounds of read, compare,
  pulse; 0: open loop);
* the device clock advances ``step_time`` seconds per simulated step; each trial reads the
  arrays -- once at its start (``read='trial'``: the trial runs with those conductances)
  or at every step (``read='step'``: a fresh drifted, noisy read per step; reference
  engine only, step-by-step evaluation). With ``read='trial'`` the read for the next trial
  is taken right after the arrays are programmed (at the same device time: nothing happens
  to the devices in between) and kept with the state; this is what lets an event-driven
  simulator whose synapses update at trial ends (NEST) read every synapse once per trial,
  in the same order of device operations as here;
* after a batch the optimiser computes the new weights from the batch's gradient in
  float, and the difference to the programmed weights goes to the arrays as a requested
  change (mixed precision: ``chi`` keeps what is below one pulse);
* the trainer's parameters for the matrices are the programmed weights (conductances as
  programmed, no drift or noise); the complete device state (conductances, pulse
  history, drift exponents, programming times, random-number counters, ``chi``, round-robin
  turns) and the clock are part of a checkpoint, so a resumed run continues bit for bit.

The conductance-to-weight scale of a matrix maps ``headroom`` times its largest initial
weight to the largest effective conductance a weight keeps
(:meth:`~ostl.hardware.pcm.arrays.PCMSynapses.range`, about 8.6 uS with the default
devices): weights can grow ``headroom``-fold (default 3, what the readout of pattern
generation needs) before they saturate; the price of more headroom is a coarser weight
step per pulse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ...errors import ParameterError
from ...registry import Specified, make_dataclass
from ...synapses import HardwareWeights
from ...validation import check_choice, check_positive, check_range
from .arrays import PCMSynapses
from .devices import G_MIN

READ_SCHEDULES = ("trial", "step")


@dataclass
class PCMConfig(Specified):
    """Settings of PCM synapses (see the module docstring and :class:`PCMSynapses`)."""

    spec_key, spec_kind = "kind", "pcm"

    devices: int = 4               # per synapse: 2 (one pair) or 4 (the paper's unit cell)
    eps: float = 0.75              # uS, the update granularity (about one SET pulse)
    gmax: float = 20.0             # uS, device saturation
    drift: str = "constant"        # 'constant' (nu = 0.04), 'ibm' (nu per device) or 'off'
    read_noise: str = "simple"     # 'simple', '1/f' or 'off'
    programming_noise: bool = True
    read: str = "trial"            # read the arrays once per trial or at every step
    step_time: float = 0.01        # s of device time per simulated step
    feedback: bool = True          # the random feedback matrices B on PCM arrays of their own
    headroom: float = 3.0          # weights can grow this many times the largest initial one
    refresh_level: float = 0.9
    ideal: bool = False            # idealised devices: every SET adds exactly eps, noise-free
    verify: int = 20               # program-and-verify rounds of the initial programming (0: open loop)
    update_verify: int = 0         # write-and-verify rounds of every update (0: open loop, mixed precision)

    def __post_init__(self):
        """Check every setting's range."""
        self.devices = check_choice("pcm devices", self.devices, {2, 4})
        self.eps = check_positive("pcm eps (uS)", self.eps)
        self.gmax = check_positive("pcm gmax (uS)", self.gmax)
        if self.gmax <= G_MIN:
            raise ParameterError(f"pcm gmax (uS) must be in ({G_MIN}, inf), got {self.gmax}")
        self.refresh_level = check_range("pcm refresh level", self.refresh_level, 0.0, 1.0, low_closed=False)
        # a weight must keep more than one pulse of range through a refresh (PCMSynapses.range)
        largest = (self.refresh_level * min(self.gmax, 0.880 / 0.084) - 0.1) / 2
        if largest <= 0:
            raise ParameterError(f"pcm gmax (uS) must be in ({0.1 / self.refresh_level:g}, inf), got {self.gmax}")
        if self.eps >= largest:
            raise ParameterError(f"pcm eps (uS) must be in (0, {largest:.4g}) for gmax {self.gmax:g} uS, "
                                 f"got {self.eps}")
        self.drift = check_choice("pcm drift", self.drift, {"constant", "ibm", "off"})
        self.read_noise = check_choice("pcm read noise", self.read_noise, {"simple", "1/f", "off"})
        self.programming_noise = bool(self.programming_noise)
        self.read = check_choice("pcm read", self.read, set(READ_SCHEDULES))
        self.step_time = check_positive("pcm step time (s)", self.step_time)
        self.feedback = bool(self.feedback)
        self.ideal = bool(self.ideal)
        from ...validation import check_int

        self.verify = check_int("pcm verify (rounds)", self.verify, minimum=0)
        self.update_verify = check_int("pcm update verify (rounds)", self.update_verify, minimum=0)
        self.headroom = check_range("pcm headroom", self.headroom, 1.0, None)

def make_pcm_config(spec):
    """A :class:`PCMConfig` from itself, ``None`` (defaults) or a dict (``kind`` 'pcm' optional)."""
    return make_dataclass(PCMConfig, spec, "PCM synapse", kind="pcm")


def weight_matrices(network):
    """Names of the network's weight matrices (the parameters that go on PCM arrays)."""
    return sorted(name for name, shape in network.param_shapes().items() if len(shape) == 2)


class PCMWeights(HardwareWeights):
    """The weight matrices of ``network`` (and optionally the feedback matrices) on PCM arrays.

    Parameters
    ----------
    network : Network
    params : dict -- the weights to program (from the RESET state) at time 0
    feedback : dict -- the rule's fixed feedback matrices
    config : PCMConfig or dict
    seed : int -- every array draws from its own counter-based stream derived from it
    state : dict, optional -- a saved :meth:`state_dict` to restore instead of programming
    """

    @classmethod
    def make_config(cls, spec):
        """:func:`make_pcm_config`."""
        return make_pcm_config(spec)

    @classmethod
    def check(cls, config, backend, capabilities, mode, feedback):
        """PCM arrays are programmed after each batch (deferred mode); reads at every step and
        feedback matrices on arrays need a backend that takes weights and feedback read from
        hardware (the reference engine)."""
        if mode != "deferred":
            raise ParameterError("PCM synapses are programmed after each batch: mode must be 'deferred'")
        if not capabilities.hardware_in_the_loop:
            if config.read == "step":
                raise ParameterError("PCM reads at every step (read 'step') need the reference backend; use read "
                                     "'trial'")
            if config.feedback and feedback:
                raise ParameterError(f"feedback matrices on PCM arrays need the reference backend; on "
                                     f"{backend} keep them in software (--pcm-feedback off; "
                                     "synapses={'feedback': False})")

    def __init__(self, network, params, feedback, config=None, seed=0, state=None):
        self.config = make_pcm_config(config)
        self.network = network
        self.masks = network.masks()
        self.weight_names = weight_matrices(network)
        self.feedback_names = sorted(feedback) if self.config.feedback else []
        self.clock = 0.0
        #: the read for the next trial (read='trial'), and whether a trial has used it
        self.current, self.used = {}, False
        self.arrays, self.initial_G = {}, {}
        c = self.config
        for index, name in enumerate(self.weight_names + self.feedback_names):
            W0 = np.asarray(params[name] if name in params else feedback[name], dtype=np.float64)
            largest = float(np.max(np.abs(W0))) if W0.size else 0.0
            if largest == 0.0:   # an all-zero matrix: the scale of N(0, 1 / fan_in)
                largest = 3.0 / np.sqrt(W0.shape[1])
            array = PCMSynapses(W0.shape, devices_per_synapse=c.devices, eps=c.eps, refresh_level=c.refresh_level,
                                seed=seed * 4096 + index, gmax=c.gmax, drift=c.drift, read_noise=c.read_noise,
                                programming_noise=c.programming_noise, ideal_step=c.eps if c.ideal else None,
                                verify=c.verify, present=self.masks.get(name), update_verify=c.update_verify)
            array.scale = c.headroom * largest / array.range()
            self.arrays[name] = array
            if state is None:
                self.arrays[name].program(W0, 0.0, verify=c.verify)
                self.initial_G[name] = self.arrays[name].devices.G.copy()
        if state is not None:
            self.load_state_dict(state)
        else:
            self._read_for_next_trial()

    # -- reads --------------------------------------------------------------------------
    def _read(self, name, t):
        W = self.arrays[name].weights(t)
        return W * self.masks[name] if name in self.masks else W

    def read_weights(self, t):
        """Drifted, noisy reads of every weight matrix at time ``t``."""
        return {name: self._read(name, t) for name in self.weight_names}

    def read_feedback(self, t):
        """Reads of the feedback arrays at ``t`` (None when B stays in software)."""
        return {name: self._read(name, t) for name in self.feedback_names} or None

    def params_for_reading(self, params, t):
        """``params`` with the weight matrices replaced by their reads at ``t``."""
        run = dict(params)
        run.update(self.read_weights(t))
        return run

    def _read_for_next_trial(self):
        if self.config.read == "trial":
            self.current = {name: self._read(name, self.clock) for name in self.weight_names + self.feedback_names}
            self.used = False

    def current_params(self, params):
        """``params`` with the weight matrices as the arrays read for the next trial (what a
        forward pass on the hardware uses now; reading it consumes no random numbers)."""
        if self.config.read != "trial":
            return self.params_for_reading(params, self.clock)
        run = dict(params)
        run.update({name: self.current[name] for name in self.weight_names})
        return run

    def nominal(self):
        """The programmed weight matrices (no drift, no read noise)."""
        return {name: self.arrays[name].nominal() for name in self.weight_names}

    # -- a trial and an update ----------------------------------------------------------
    def run_trial(self, backend, params, trial):
        """Run ``trial`` on ``backend`` with the arrays' weights; advances the clock."""
        start, dt = self.clock, self.config.step_time
        extra = {}
        if self.config.read == "step":
            def params_at(step):
                time = start + step * dt
                return self.params_for_reading(params, time), self.read_feedback(time)

            extra["params_at"] = params_at
            run_params = params
        elif not self.used:   # the read taken after the last programming
            run_params = self.current_params(params)
            if self.feedback_names:
                extra["feedback"] = {name: self.current[name] for name in self.feedback_names}
            self.used = True
        else:                 # a later trial of the same batch: a fresh read at its start
            run_params = self.params_for_reading(params, start)
            if self.feedback_names:
                extra["feedback"] = self.read_feedback(start)
        result = backend.run(run_params, trial, **extra)
        self.clock = start + trial.x.shape[0] * dt
        return result

    def apply(self, optimizer, params, grads):
        """The optimiser's step computed in float, programmed into the arrays as pulses;
        ``params`` end up holding the programmed weights (matrices) and the new values of
        the software parameters."""
        target = {name: value.copy() for name, value in params.items()}
        optimizer.step(target, grads)
        for name, value in target.items():
            if name in self.arrays:
                self.arrays[name].update(value - params[name], self.clock)
                params[name][...] = self.arrays[name].nominal()
            else:
                params[name][...] = value
        self._read_for_next_trial()

    # -- state --------------------------------------------------------------------------
    def counts(self):
        """Pulses, RESETs, refreshes and saturated refreshes, per array and in total."""
        per = {name: array.counts() for name, array in self.arrays.items()}
        total = {key: sum(c[key] for c in per.values()) for key in ("pulses", "resets", "refreshes", "saturated")}
        return {"total": total, "arrays": per}

    def summary(self):
        """``config``, ``counts`` (pulses, RESETs, refreshes, saturated; ``total`` and per array)
        and ``device_time`` (s): what ``ostl train --summary-json`` records."""
        return {"config": self.config.spec(), "counts": self.counts(), "device_time": self.clock}

    def report(self):
        """The pulse, RESET and refresh counts and the device time, in one line."""
        counts = self.counts()["total"]
        return (f"pcm: {counts['pulses']} pulses, {counts['resets']} RESETs, {counts['refreshes']} refreshes "
                f"({counts['saturated']} saturated), device time {self.clock:.6g} s")

    def plot(self, directory):
        """``conductances.png``: the devices' conductances before and after training."""
        from .plotting import plot_conductances

        return plot_conductances(os.path.join(directory, "conductances.png"), self)

    def conductances(self):
        """Device conductances as programmed, per array: (initial, now)."""
        return {name: (self.initial_G.get(name), array.devices.G.copy()) for name, array in self.arrays.items()}

    def state_dict(self):
        """The arrays' state, the reads kept for the next trial and the clock, for checkpoints."""
        state = {"clock": np.array(self.clock), "used": np.array(self.used)}
        state.update({f"{name}/current": value for name, value in self.current.items()})
        for name, array in self.arrays.items():
            state.update({f"{name}/{key}": value for key, value in array.state_dict().items()})
            if name in self.initial_G:
                state[f"{name}/initial_G"] = self.initial_G[name]
        return state

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`; an inconsistent state is refused."""
        try:
            self.clock = float(state["clock"])
            self.used = bool(state.get("used", True))
            self.current = {name: np.array(state[f"{name}/current"], dtype=np.float64)
                            for name in self.arrays if f"{name}/current" in state}
            for name, array in self.arrays.items():
                prefix = f"{name}/"
                array.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
                if f"{prefix}initial_G" in state:
                    self.initial_G[name] = np.array(state[f"{prefix}initial_G"], dtype=np.float64)
        except KeyError as exc:
            raise ParameterError(f"PCM state lacks {exc}") from None
