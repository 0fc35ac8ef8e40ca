"""``ostl train --backend spinnaker``: training in the SpiNNaker kernels' arithmetic on the host.

Each trial runs in the host-compiled kernels (:mod:`ostl.hardware.spinnaker.host`; the NumPy
model with ``engine='numpy'``), and its end writes the gradient back to the 16-bit weight words
(plain SGD in s16.15, residual accumulation or stochastic rounding): the backend applies the
updates itself, one trial at a time, as the chip would. The trainer's ``params`` always hold the
weights the chip holds (each a word divided by its scale); the chip's complete state (words,
residuals, shifts, trial counter, saturation counts) is part of a checkpoint, so a resumed run
continues bit for bit.
"""

from __future__ import annotations

from ...backends import Backend
from ...errors import ParameterError
from .network import COUNTER_KINDS, ENGINES, FixedPointNetwork, check_network
from .plugin import PLUGIN as SPINNAKER


class SpiNNakerBackend(Backend):
    """The SpiNNaker kernels' arithmetic on the host; plain SGD written back after each trial,
    the readout's weights and bias at their own rate (``--readout-lr``)."""

    name = "spinnaker"
    capabilities = SPINNAKER.capabilities

    @classmethod
    def trainable_parameters(cls, network):
        """The synaptic weights and the readout bias (the cells' own parameters are constants
        on the chip)."""
        names = [name for name in network.param_shapes() if name.endswith((".W", ".H"))]
        if network.readout.bias:
            names.append("readout.b")
        return names

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1,
                 rounding=None, headroom=None, engine=None, seed=0):
        check_network(network, rule)
        if optimizer is None:
            raise ParameterError("the SpiNNaker backend needs an optimizer (plain SGD, written back in s16.15)")
        super().__init__(network, rule, mode, feedback, trainable, optimizer, params, batch_size)
        allowed = set(self.trainable_parameters(network))
        weights = {name for name in allowed if name != "readout.b"}
        if trainable is not None and not weights <= set(trainable) <= allowed:
            raise ParameterError(f"the SpiNNaker backend learns the weights {', '.join(sorted(weights))} (and "
                                 f"optionally readout.b); trainable {', '.join(sorted(trainable))} differs")
        self.engine = engine or "c"
        if self.engine not in ENGINES:
            raise ParameterError(f"--spinnaker-engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        self.chip = FixedPointNetwork(network, rule, params, feedback, lr=optimizer.lr,
                                      readout_lr=optimizer.readout_lr,
                                      rounding=rounding or "residual", headroom=2.0 if headroom is None else headroom,
                                      seed=seed, learn_bias=trainable is None or "readout.b" in trainable)
        self._publish(params)   # the trainer's parameters, kept equal to what the chip holds

    def _publish(self, params):
        """The chip's weights into the trainer's ``params`` (in place)."""
        for name, value in self.chip.params().items():
            params[name][...] = value

    def run(self, params, trial):
        """One trial in the kernels, then the write-back; the chip's weights land in ``params``."""
        arrays, _ = self.chip.run_trial(trial.x, trial.target, trial.mask, engine=self.engine,
                                        record=("readout", "output"))
        result = self.chip.sequence_result(arrays, trial.x, trial.target, trial.mask)
        self.chip.learn(arrays, engine=self.engine)
        self._publish(params)
        return result

    # -- the chip's state in checkpoints and after a discarded iteration -----------------------------
    def state_dict(self):
        """The chip's state: weight words, residuals, shifts, trial counter, saturation counts."""
        return self.chip.state_dict()

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` and publish the chip's weights."""
        self.chip.load_state_dict(state)
        self._publish(self.params)

    def report(self):
        """Saturation counts of the run so far, by kind."""
        return {kind: self.chip.counters[kind] for kind in COUNTER_KINDS}
