r"""Firing-rate regularisation (e-prop paper, Methods, "Firing rate regularization"; NEST's
``c_reg`` and ``f_target`` of the ``eprop_*_bsshslm_2020`` models).

Over one trial of ``T`` steps every neuron ``j`` of a stateful hidden layer has the average
rate ``f_j = (1/T) sum_t y_j^t`` (spikes per step for a spiking cell). The regulariser adds

.. math::

    E_\text{reg} = \frac{c_\text{reg}}{2} \sum_j (f_j - f_\text{target})^2

to the loss. Its gradient through a neuron's output is the same at every step of the trial,

.. math::

    \frac{\partial E_\text{reg}}{\partial y_j^t} = \frac{c_\text{reg}}{T} (f_j - f_\text{target})
    =: r_j ,

so with the rules' eligibility traces (``e_ji^t``, the estimate of ``dy_j^t / d theta_ji``)
its gradient is

.. math::

    \frac{d E_\text{reg}}{d \theta_{ji}} \approx r_j \sum_t e_{ji}^t ,

exact wherever the traces are (exact OSTL on a feed-forward layer: tested against PyTorch's
autodiff). The traces here are the *unfiltered* ones: the regulariser acts on the neuron's own
output, not through the readout's leak. ``r_j`` is known only at the end of the trial, so the
learner sums ``e^t`` over the trial beside the task's gradient and adds ``r_j sum_t e^t`` at
the end: the regulariser needs deferred mode (an update per trial).

NEST's ``eprop_iaf_bsshslm_2020`` computes exactly this: ``f_av = n_spikes / T`` (spikes per
step of the update interval), ``firing_rate_reg = c_reg (f_av - f_target dt) / T`` and adds
``firing_rate_reg * sum_t e^t`` to each synapse's gradient
(``EpropArchivingNodeRecurrent::write_firing_rate_reg_to_history``,
``eprop_iaf_bsshslm_2020::compute_gradient``); ``f_target`` is given in Hz there and converted
with the step of 1 ms that every backend of ours uses (:meth:`FiringRateRegularisation.from_hz`).
``tests/test_regularisation.py`` trains the reference engine to NEST's shipped losses with
``c_reg = 300``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .validation import check_range

#: the duration of one step in ms (every backend's resolution)
STEP_MS = 1.0


@dataclass(frozen=True)
class FiringRateRegularisation:
    """``E_reg = c_reg / 2 sum_j (f_j - f_target)^2`` over the neurons of every stateful hidden
    layer, ``f_j`` the neuron's average output per step over the trial.

    Parameters
    ----------
    c_reg : float >= 0 -- the regulariser's weight (NEST's ``c_reg``)
    f_target : float in [0, 1] -- the target rate in spikes per step (``from_hz`` converts Hz)
    """

    c_reg: float
    f_target: float

    def __post_init__(self):
        """Check both values (a ParameterError naming the one out of range)."""
        object.__setattr__(self, "c_reg", check_range("c_reg", self.c_reg, 0.0))
        object.__setattr__(self, "f_target", check_range("f_target", self.f_target, 0.0, 1.0))

    @classmethod
    def from_hz(cls, c_reg, f_target_hz, step_ms=STEP_MS):
        """The regulariser with its target in Hz (spikes per second) at steps of ``step_ms``."""
        f_target_hz = check_range("f_target (Hz)", f_target_hz, 0.0, 1000.0 / step_ms)
        return cls(c_reg, f_target_hz * step_ms / 1000.0)

    @classmethod
    def make(cls, spec):
        """None, a :class:`FiringRateRegularisation`, or ``{"c_reg": ..., "f_target": ...}``
        (spikes per step); None also where ``c_reg`` is 0."""
        if spec is None or isinstance(spec, cls):
            return None if spec is None or spec.c_reg == 0 else spec
        if not isinstance(spec, dict) or set(spec) - {"c_reg", "f_target"} or "c_reg" not in spec:
            raise ParameterError(f"regularisation must be {{'c_reg': ..., 'f_target': ...}}, got {spec!r}")
        made = cls(spec["c_reg"], spec.get("f_target", 0.0))
        return None if made.c_reg == 0 else made

    @staticmethod
    def check_mode(mode):
        """The regulariser needs the trial's rates before its update: ``mode`` must be 'deferred'
        (a ParameterError otherwise)."""
        if mode != "deferred":
            raise ParameterError("firing-rate regularisation (c_reg > 0) needs the trial's rates: mode must be "
                                 "'deferred'")

    def spec(self):
        """The JSON form (checkpoints, summaries)."""
        return {"c_reg": self.c_reg, "f_target": self.f_target}

    def loss(self, rates):
        """``E_reg`` of one layer's rates (NumPy arrays, or PyTorch tensors: the autodiff oracle
        differentiates it, :meth:`ostl.network.Network.forward`)."""
        deviation = rates - self.f_target
        return 0.5 * self.c_reg * (deviation * deviation).sum()

    def penalty(self, output_sums, steps):
        """``(E_reg, r)`` of one layer from each neuron's output summed over a trial of ``steps``
        steps: its value and ``r_j = c_reg (f_j - f_target) / T``, what multiplies ``sum_t e^t``."""
        rates = np.asarray(output_sums, dtype=np.float64) / steps
        return float(self.loss(rates)), self.c_reg * (rates - self.f_target) / steps
