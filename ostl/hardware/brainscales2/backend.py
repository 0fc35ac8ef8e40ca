"""``ostl train --backend brainscales2``: the emulated BrainScaleS-2 chip in the loop
(:mod:`ostl.hardware.brainscales2.chip`): each trial runs on the emulated analog core, the plasticity
processor's update is written back to the 6-bit synapses at the end of each batch (its
accumulators sum the batch's trials). The trainer's ``params`` are
the chip's weights as the host knows them; the chip's state (6-bit weights on their row pairs,
trial counter, the variation seed by construction) is part of a checkpoint."""

from __future__ import annotations

from ...backends import Backend
from ...errors import ParameterError
from .chip import AnalogChip, check_network, make_config
from .plugin import PLUGIN as BRAINSCALES2


class BrainScaleS2Backend(Backend):
    """The emulated chip; the PPU's accumulators sum a batch's trials, one write-back per batch,
    the readout's weights and bias at their own rate (``--readout-lr``)."""

    name = "brainscales2"
    capabilities = BRAINSCALES2.capabilities

    @classmethod
    def trainable_parameters(cls, network):
        """The synaptic weights and the readout bias."""
        names = [name for name in network.param_shapes() if name.endswith((".W", ".H"))]
        if network.readout.bias:
            names.append("readout.b")
        return names

    def __init__(self, network, rule, mode, feedback, trainable=None, optimizer=None, params=None, batch_size=1,
                 variation=None, noise=None, weights=None, arithmetic=None, chip_seed=None, engine=None):
        """``engine``: the PPU's lane arithmetic in C (``'compiled'``, the default where it builds)
        or the NumPy definition (``'numpy'``); equal bit for bit (:mod:`.ppu_kernel`)."""
        check_network(network, rule)
        if optimizer is None:
            raise ParameterError("the BrainScaleS-2 backend needs an optimizer (plain SGD, written back by the PPU)")
        super().__init__(network, rule, mode, feedback, trainable, optimizer, params, batch_size)
        weights_only = {n for n in self.trainable_parameters(network) if n != "readout.b"}
        if trainable is not None and not weights_only <= set(trainable) <= set(self.trainable_parameters(network)):
            raise ParameterError(f"the BrainScaleS-2 backend learns the weights {', '.join(sorted(weights_only))} "
                                 "(and optionally readout.b)")
        config = {k: v for k, v in {"variation": variation, "noise": noise, "weights": weights,
                                    "arithmetic": arithmetic}.items() if v is not None}
        self.chip = AnalogChip(network, rule, params, feedback, lr=optimizer.lr, config=make_config(config),
                               readout_lr=optimizer.readout_lr,
                               seed=0 if chip_seed is None else chip_seed,
                               learn_bias=trainable is None or "readout.b" in trainable, batch_size=batch_size,
                               engine=engine)
        self._publish()

    def _publish(self):
        for name, value in self.chip.params().items():
            self.params[name][...] = value

    def run(self, params, trial):
        """One trial on the emulated chip; its update waits in the accumulators for :meth:`end_batch`."""
        return self.chip.run_trial(trial.x, trial.target, trial.mask, continue_batch=True)[0]

    def end_batch(self):
        """Write the accumulated batch back and publish the chip's weights."""
        self.chip.end_batch()
        self._publish()

    def state_dict(self):
        """The chip's state: 6-bit weights on their row pairs, the trial counter."""
        return self.chip.state_dict()

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` and publish the chip's weights."""
        self.chip.load_state_dict(state)
        self._publish()
