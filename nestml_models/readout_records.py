"""What :class:`nestml_models.network.NestNetwork` reads of its readout: every trial's loss and, when
asked, the outputs of a trial.

Two multimeters on the readout neurons: one records each neuron's running ``loss`` at every trial
end (a trial's loss is its increase), the other ``output_value`` at every update (for metrics, and
always for a softmax readout, whose neurons record their potentials: its outputs and losses are
computed here from them with the reference engine's formulas, ``ostl.ops``). Readout update ``u`` is
recorded at ``u + 1`` ms; step ``r`` of trial ``k`` is update ``first_step + k period + r``.
"""

from __future__ import annotations

import numpy as np

from . import parallel


class ReadoutRecords:
    """The readout's recorders of a NestNetwork and the losses read from them.

    ``readout``: the readout neurons; ``steps``, ``period``: a trial's steps and its steps with the
    pause; ``first_step``: the readout's update of the first trial's step 0; ``softmax``: the
    readouts normalise (losses from the potentials); ``outputs``: record the output of every step."""

    def __init__(self, nest, readout, steps, period, first_step, softmax, outputs):
        self.nest, self.readout = nest, readout
        self.steps, self.period, self.first_step, self.softmax = steps, period, first_step, softmax
        # the readout's summed loss at the end of every trial (constant through the pause)
        self.loss_recorder = nest.Create("multimeter", {"record_from": ["loss"], "interval": float(period),
                                                        "offset": float(first_step + steps)})
        nest.Connect(self.loss_recorder, readout)
        self.output_recorder = None
        if outputs or softmax:
            self.output_recorder = nest.Create("multimeter", {"record_from": ["output_value"], "interval": 1.0})
            nest.Connect(self.output_recorder, readout)
        #: every trial's loss so far, and each readout neuron's running loss at the last trial end
        self.losses, self._loss_last = [], np.zeros(len(readout))
        #: softmax: each scheduled trial's (target, mask) until its loss is computed; outputs by trial
        self._scheduled, self._outputs = {}, {}

    def schedule(self, trial, target, mask):
        """A softmax readout's loss needs the trial's target and mask (kept until it is read)."""
        if self.softmax:
            self._scheduled[trial] = (target, mask)

    def _recorded_outputs(self):
        """The output recorder's events since the last read, as ``(trial, step, readout index,
        value)`` arrays (steps of the pause and before the first trial dropped)."""
        events = parallel.recorded_events(self.nest, self.output_recorder, ("times", "senders", "output_value"))
        self.output_recorder.n_events = 0
        updates = np.asarray(events["times"]).round().astype(int) - 1 - self.first_step
        trials, steps = updates // self.period, updates % self.period
        readouts = np.asarray(events["senders"]) - self.readout[0].global_id
        keep = (updates >= 0) & (steps < self.steps)
        values = np.asarray(events["output_value"])
        return trials[keep], steps[keep], readouts[keep], values[keep]

    def _read_losses(self):
        """Append the losses of the trials recorded since the last read: each readout neuron's
        running loss at every trial end (on the process that owns the neuron)."""
        events = parallel.recorded_events(self.nest, self.loss_recorder, ("times", "senders", "loss"))
        self.loss_recorder.n_events = 0
        trials = np.rint((events["times"] - (self.first_step + self.steps)) / self.period).astype(int)
        neurons = np.asarray(events["senders"]) - self.readout[0].global_id
        for k in sorted(set(trials.tolist())):
            if k < len(self.losses):
                continue
            now = self._loss_last.copy()
            now[neurons[trials == k]] = events["loss"][trials == k]
            self.losses.append(float(np.sum(now - self._loss_last)))
            self._loss_last = now

    def _read_softmax(self, trials_done):
        """Softmax readout: the recorded potentials of the trials up to ``trials_done`` give their
        outputs ``softmax(a^t)`` and losses ``-sum_t m^t sum_k y*_k log softmax(a^t)_k``
        (ostl.network.Readout; the readouts normalised the same way for their errors)."""
        from ostl.ops import NumpyOps

        trials, steps, readouts, values = self._recorded_outputs()
        for k in range(len(self.losses), trials_done):
            chosen = trials == k
            potentials = np.zeros((self.steps, len(self.readout)))
            potentials[steps[chosen], readouts[chosen]] = values[chosen]
            target, mask = self._scheduled.pop(k)
            step_losses = -np.sum(target * NumpyOps.log_softmax(potentials), axis=1)
            self.losses.append(float(np.sum(mask * step_losses)))
            self._outputs[k] = NumpyOps.softmax(potentials)

    def trial_losses(self, trials_done):
        """The loss of every trial simulated so far (``trials_done`` of them)."""
        if self.softmax:
            self._read_softmax(trials_done)
        else:
            self._read_losses()
        return np.array(self.losses)

    def trial(self, k, outputs=True):
        """``(loss, outputs (T, n_out) or None)`` of trial ``k``, the last simulated."""
        if self.softmax:
            self._read_softmax(k + 1)
            return self.losses[k], self._outputs.pop(k) if outputs else None
        self._read_losses()
        out = None
        if outputs and self.output_recorder is not None:
            trials, steps, readouts, values = self._recorded_outputs()
            chosen = trials == k
            out = np.zeros((self.steps, len(self.readout)))
            out[steps[chosen], readouts[chosen]] = values[chosen]
        return self.losses[k], out

    def forget_outputs(self):
        """Drop the outputs recorded so far (trials run without reading them)."""
        if self.output_recorder is not None:
            self.output_recorder.n_events = 0
        self._outputs.clear()
