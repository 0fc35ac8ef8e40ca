"""``ostl train --backend spinnaker``: training in the SpiNNaker kernels' arithmetic on the host.

Each trial runs in the host-compiled kernels (:mod:`ostl.hardware.spinnaker_host`; the NumPy
model with ``engine='numpy'``), and its end writes the gradient back to the 16-bit weight words
(plain SGD in s16.15, residual accumulation or stochastic rounding): the backend applies the
updates itself, one trial at a time, as the chip would. The trainer's ``params`` always hold the
weights the chip holds (each a word divided by its scale); the chip's complete state (words,
residuals, shifts, trial counter, saturation counts) is part of a checkpoint, so a resumed run
continues bit for bit.
"""

from __future__ import annotations

from ..errors import ParameterError
from .spinnaker_network import COUNTER_KINDS, ENGINES, FixedPointNetwork, check_network


class SpiNNakerBackend:
    name = "spinnaker"
    default_batch_size = 1
    #: the chip writes plain SGD updates back
    default_optimizer = "sgd"
    applies_updates = True
    #: the readout's weights and bias are written back at their own rate (``--readout-lr``)
    supports_readout_lr = True

    @classmethod
    def trainable_parameters(cls, network):
        """The synaptic weights and the readout bias (the cells' own parameters are constants
        on the chip)."""
        names = [name for name in network.param_shapes() if name.endswith((".W", ".H"))]
        if network.readout.bias:
            names.append("readout.b")
        return names

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, rounding=None,
                 headroom=None, engine=None, seed=0):
        check_network(network, rule)
        if mode != "deferred":
            raise ParameterError("the SpiNNaker backend writes weights back at the end of each trial: mode must be "
                                 f"'deferred', got {mode!r}")
        if optimizer is None or optimizer.name != "sgd" or optimizer.clip is not None or optimizer.decay is not None:
            got = "none" if optimizer is None else ", ".join(f"{k} {v}" for k, v in optimizer.spec().items()
                                                              if v is not None)
            raise ParameterError(f"the SpiNNaker backend writes plain SGD updates back in s16.15 (--optimizer sgd, "
                                 f"no clipping, no decay), got {got}")
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
        #: the trainer's parameters, kept equal to what the chip holds
        self.params = params
        self._publish(params)

    def _publish(self, params):
        """The chip's weights into the trainer's ``params`` (in place)."""
        for name, value in self.chip.params().items():
            params[name][...] = value

    def run(self, params, trial):
        arrays, _ = self.chip.run_trial(trial.x, trial.target, trial.mask, engine=self.engine,
                                        record=("readout", "output"))
        result = self.chip.sequence_result(arrays, trial.x, trial.target, trial.mask)
        self.chip.learn(arrays, engine=self.engine)
        self._publish(params)
        return result

    # -- the chip's state in checkpoints and after a discarded iteration -----------------------------
    def state_dict(self):
        return self.chip.state_dict()

    def load_state_dict(self, state):
        self.chip.load_state_dict(state)
        self._publish(self.params)

    def report(self):
        """Saturation counts of the run so far, by kind."""
        return {kind: self.chip.counters[kind] for kind in COUNTER_KINDS}
