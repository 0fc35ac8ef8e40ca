"""What the SpiNNaker kernels keep in a core's 64 KiB DTCM, per synapse and per neuron, and how
many neurons (with their incoming synapses) fit in one core.

The layout is the kernels' (``c/ostl_kernels.h``): per synapse the eligibility vector
(``d`` s16.15 values; for e-prop on LIF cells one per presynaptic neuron instead), the gradient,
the filtered trace with a leaky readout, and the 16-bit residual of the write-back (residual
rounding; none with stochastic rounding); the weight words themselves live in SDRAM in
sPyNNaker's synaptic rows (4 bytes per synapse, fetched by DMA when a spike arrives, as every
sPyNNaker model does), and so do the feedback weights of the learning-signal projection. Per
neuron: the state, the spike, the input, the four trace factors (``d`` values each), the previous
output gain, the learning signal, the ring buffers (2 synapse types x 16 delay slots x 16 bit,
sPyNNaker's default). Per core: the tables of the pseudo-derivative (and of the readout's sigmoid
and exponential), 1025 values each.

``RUNTIME_RESERVE`` is what we leave for the rest of the core's program (stack, SARK and the
spin1 API's data, sPyNNaker's input and spike buffers, recording): 16 KiB, an assumption
stated here, not a measurement on a board.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ParameterError
from .model import STATE_SIZE, TABLE_BITS

DTCM_BYTES = 64 * 1024
RUNTIME_RESERVE = 16 * 1024
RING_BUFFER_SLOTS = 16          # sPyNNaker's default delay slots (2^4)
SYNAPSE_TYPES = 2
TABLE_BYTES = (2 ** TABLE_BITS + 1) * 4
#: sPyNNaker's limit of neurons per core (POP_TABLE_MAX_ROW_LENGTH)
MAX_NEURONS_PER_CORE = 256


@dataclass(frozen=True)
class Footprint:
    """Bytes of DTCM per synapse, per neuron and per core (fixed), for one population."""

    per_synapse: int
    per_neuron: int
    per_core: int
    detail: dict
    #: bytes per presynaptic neuron kept once per core (e-prop LIF's presynaptic traces)
    per_presynaptic: int = 0

    def neurons_per_core(self, fan_in):
        """How many neurons with ``fan_in`` incoming synapses each fit in one core (at most 256);
        a ParameterError naming the limit if not even one does."""
        budget = DTCM_BYTES - RUNTIME_RESERVE - self.per_core - fan_in * self.per_presynaptic
        each = self.per_neuron + fan_in * self.per_synapse
        fit = budget // each if each else MAX_NEURONS_PER_CORE
        if fit < 1:
            raise ParameterError(f"a neuron with {fan_in} learning synapses needs {each} bytes of DTCM "
                                 f"({self.per_synapse} per synapse), more than the {max(budget, 0)} bytes a core has "
                                 f"for them (64 KiB DTCM less {RUNTIME_RESERVE} for the runtime, {self.per_core} for "
                                 f"tables and {fan_in * self.per_presynaptic} for presynaptic traces): reduce the "
                                 "fan-in")
        return int(min(fit, MAX_NEURONS_PER_CORE))

    def synapses_per_core(self, fan_in):
        """Synapses a core holds for neurons of ``fan_in`` learning synapses each."""
        return self.neurons_per_core(fan_in) * fan_in


def hidden_footprint(cell_kind, leak, rounding="residual", table=True, keep_reset_path=True):
    """The DTCM footprint of a hidden population of ``cell_kind`` (``table``: its pseudo-derivative
    is a table, i.e. not piecewise linear; ``keep_reset_path``: the rule's traces keep it -- without
    it, LIF cells share one eligibility vector per presynaptic neuron)."""
    d = STATE_SIZE[cell_kind]
    presynaptic = cell_kind == "lif" and not keep_reset_path
    per_synapse = {"gradient": 4} if presynaptic else {"eligibility vector": 4 * d, "gradient": 4}
    if leak:
        per_synapse["filtered trace"] = 4
    if rounding == "residual":
        per_synapse["residual"] = 2
    per_neuron = {"state": 4 * d, "spike": 4 + 1, "input": 4, "trace factors": 4 * 4 * d,
                  "previous output gain": 4 * d, "learning signal": 4, "neuron parameter": 4,
                  "ring buffers": SYNAPSE_TYPES * RING_BUFFER_SLOTS * 2}
    per_core = {"pseudo-derivative table": TABLE_BYTES if table else 0}
    per_presynaptic = 4 if presynaptic else 0
    return Footprint(sum(per_synapse.values()), sum(per_neuron.values()), sum(per_core.values()),
                     {"synapse": per_synapse, "neuron": per_neuron, "core": per_core,
                      "presynaptic neuron": {"presynaptic trace": per_presynaptic}}, per_presynaptic)


def readout_footprint(activation, leak, rounding="residual"):
    """The DTCM footprint of a readout population (its synapses: gradient, residual; per
    presynaptic neuron the filtered spike train ``ybar``, counted per synapse here)."""
    per_synapse = {"gradient": 4, "presynaptic trace": 4}
    if rounding == "residual":
        per_synapse["residual"] = 2
    per_neuron = {"potential": 4, "output": 4, "error": 4, "bias": 4, "bias gradient": 4, "ones trace": 4,
                  "target": 4, "ring buffers": SYNAPSE_TYPES * RING_BUFFER_SLOTS * 2}
    per_core = {"sigmoid table": TABLE_BYTES if activation == "sigmoid" else 0,
                "exp table": TABLE_BYTES if activation == "softmax" else 0}
    return Footprint(sum(per_synapse.values()), sum(per_neuron.values()), sum(per_core.values()),
                     {"synapse": per_synapse, "neuron": per_neuron, "core": per_core})


def network_report(network, rule=None, rounding="residual"):
    """Bytes per synapse and neuron, neurons and synapses per core, cores per population, for an
    ostl network of one hidden layer (as :class:`~ostl.hardware.spinnaker.network.FixedPointNetwork`
    runs it)."""
    layer = network.layers[0]
    leak = network.readout.leak
    keeps = True if rule is None else rule.keep_reset_path
    hidden = hidden_footprint(layer.cell.kind, leak, rounding, table=layer.cell.pseudo.name != "piecewise_linear",
                              keep_reset_path=keeps)
    fan_in = network.n_in + (layer.size if layer.recurrent else 0)
    readout = readout_footprint(network.readout.activation, leak, rounding)
    rows = []
    for name, footprint, n, m in (("hidden", hidden, layer.size, fan_in),
                                  ("readout", readout, network.n_out, layer.size)):
        per_core = footprint.neurons_per_core(m)
        rows.append({"population": name, "neurons": n, "fan_in": m, "bytes_per_synapse": footprint.per_synapse,
                     "bytes_per_neuron": footprint.per_neuron, "bytes_per_core_fixed": footprint.per_core,
                     "neurons_per_core": per_core, "synapses_per_core": per_core * m,
                     "cores": -(-n // per_core), "detail": footprint.detail})
    return rows
