"""pyNN.spiNNaker (sPyNNaker 1!7.4.1) translation of the ostl types: the same PyNN script maps on
SpiNNaker's tools -- on sPyNNaker's virtual board here (no hardware), placements, routing and
synaptic matrices included.

What each declaration becomes (:mod:`pyNN_ostl.standardmodels` validates every argument, as
for the other simulators; sPyNNaker is extended only through its subclass hooks):

* :class:`LIF`, :class:`ALIF`, :class:`SNU`, :class:`SoftResetSNU`, :class:`Readout`: sPyNNaker
  neuron models (``AbstractPyNNNeuronModelStandard``) whose binaries are our kernels
  (``ostl_lif.aplx``, ``ostl_alif.aplx``, ``ostl_snu.aplx``, ``ostl_soft_snu.aplx``,
  ``ostl_readout.aplx``; built from ``ostl/hardware/spinnaker/c``) and whose parameter structs
  hold the s16.15 constants the kernels read (decays, ``1/v_th``, ...) as the host encodes them
  (:func:`ostl.hardware.spinnaker.network.encode_cell`: what does not fit is refused before
  mapping). Their vertices choose the ring-buffer shift the way our numerics do (one shift
  for both synapse types of a population, from ``headroom`` times the largest row sum of
  ``|w|`` of its learning projections), so the words sPyNNaker writes are ours.
* :class:`OSTLSynapse`, :class:`EPropSynapse`, :class:`ReadoutSynapse`: static synapse dynamics
  whose rows carry signed weights -- each connection's sign selects its synapse type
  (excitatory or inhibitory), its magnitude is the 16-bit word -- so a signed matrix is one
  projection, and ``Projection.get("weight")`` returns the signed quantised weights of
  :class:`~ostl.hardware.spinnaker.network.FixedPointNetwork`. The recurrent receptor maps on
  the same two synapse types.
* :class:`LearningSignalConnection`: the readout's outgoing partition, whose packets carry the
  learning signal as their 32-bit payload (the readout's error or masked target in s16.15); its
  rows hold ``B`` at the hidden population's scale (random feedback; with symmetric feedback
  the readout weights are used and these rows are ignored).

The kernels learn with plain SGD (``optimizer='sgd'``). :func:`run` checks every population's
DTCM footprint (:mod:`ostl.hardware.spinnaker.resources`), sets the neurons per core it allows
(a population is split over as many cores as it needs; a neuron whose synapses alone exceed a
core is refused, naming the limit), then calls ``sim.run``. :func:`placements` lists chips, cores,
DTCM and SDRAM per core afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyNN.spiNNaker as sim
from spinn_front_end_common.interface.ds import DataType
from spynnaker.pyNN.data import SpynnakerDataView
from spynnaker.pyNN.models.defaults import default_initial_values, default_parameters
from spynnaker.pyNN.models.neuron import AbstractPyNNNeuronModelStandard, PopulationVertex
from spynnaker.pyNN.models.neuron.input_types import InputTypeCurrent
from spynnaker.pyNN.models.neuron.neuron_models import NeuronModel
from spynnaker.pyNN.models.neuron.synapse_dynamics import SynapseDynamicsStatic
from spynnaker.pyNN.models.neuron.synapse_types import SynapseTypeDelta
from spynnaker.pyNN.models.neuron.threshold_types import AbstractThresholdType
from spynnaker.pyNN.utilities.struct import Struct
from spynnaker.pyNN.utilities.utility_calls import get_n_bits

from ostl.errors import ParameterError
from ostl.hardware.spinnaker import resources
from ostl.hardware.spinnaker.network import encode_cell
from ostl.hardware.spinnaker.numerics import ONE, ring_buffer_shift

from . import standardmodels as declared
from .structure import spike_times as _spike_sequences

__all__ = ["SNU", "SoftResetSNU", "LIF", "ALIF", "Readout", "OSTLSynapse", "EPropSynapse", "ReadoutSynapse",
           "LearningSignalConnection", "setup", "run", "placements", "spike_times", "connection_list", "HEADROOM",
           "report_directory"]

#: the ring buffers' room for growing weights (as ``ostl train --backend spinnaker``)
HEADROOM = 2.0
S1615 = DataType.S1615


# -- neuron models ---------------------------------------------------------------------------------
class _Constants(NeuronModel):
    """A neuron struct of s16.15 values: user parameters, the constants derived from them on the
    host (not user-visible) and state variables."""

    def __init__(self, parameters, derived, state, units):
        names = list(state) + list(parameters) + list(derived)
        super().__init__([Struct([(S1615, name) for name in names])], units)
        self.__parameters, self.__derived, self.__state = parameters, derived, state

    def add_parameters(self, parameters):
        for name, value in {**self.__parameters, **self.__derived}.items():
            parameters[name] = self._convert(value)

    def add_state_variables(self, state_variables):
        for name, value in self.__state.items():
            state_variables[name] = self._convert(value)


class _Threshold(AbstractThresholdType):
    """The per-neuron threshold-like parameter (``v_th``, the SNU's ``bias``, the soft-reset
    SNU's ``threshold``) as sPyNNaker's threshold component."""

    def __init__(self, name, value):
        super().__init__([Struct([(S1615, name)])], {name: ""})
        self.__name, self.__value = name, value

    def add_parameters(self, parameters):
        parameters[self.__name] = self._convert(self.__value)

    def add_state_variables(self, state_variables):
        pass


class _Receptors(SynapseTypeDelta):
    """sPyNNaker's two delta synapse types; our ``recurrent`` receptor maps on them too (each
    connection's sign chooses its type, see :class:`_SignedSynapse`)."""

    TARGETS = {"excitatory": 0, "inhibitory": 1, "recurrent": 0}

    def get_synapse_id_by_target(self, target):
        return self.TARGETS.get(target)

    def get_synapse_targets(self):
        return tuple(self.TARGETS)


class _Vertex(PopulationVertex):
    """A population of our neurons: ring-buffer shifts from our numerics (one for both synapse
    types, from the learning projections' weights; see the module docstring)."""

    def get_ring_buffer_shifts(self):
        sums = np.zeros(self.n_atoms)
        for projection in self.incoming_projections:
            dynamics = projection._synapse_information.synapse_dynamics   # read as PopulationVertex does
            if isinstance(dynamics, _SignedSynapse) and not dynamics.is_learning_signal:
                sums += dynamics.row_sums(projection, self.n_atoms)
        try:
            shift = ring_buffer_shift(HEADROOM * float(sums.max()) if sums.size else 0.0)
        except ParameterError as exc:
            raise ParameterError(f"population {self.label!r}: {exc}") from None
        return [shift] * self.neuron_impl.get_n_synapse_types()


class _OSTLModel(AbstractPyNNNeuronModelStandard):
    """Common part of our sPyNNaker models: the vertex class, the declaration they translate."""

    #: the validated declaration (:mod:`pyNN_ostl.standardmodels`) and the reference-engine cell
    declaration = ostl_cell = None

    def _build(self, kind, parameters, derived, state, threshold, isyn_exc, isyn_inh, units):
        super().__init__(model_name=f"ostl_{kind}", binary=f"ostl_{kind}.aplx",
                         neuron_model=_Constants(parameters, derived, state, units),
                         input_type=InputTypeCurrent(), synapse_type=_Receptors(isyn_exc, isyn_inh),
                         threshold_type=_Threshold(*threshold))

    def create_vertex(self, n_neurons, label, *, spikes_per_second=None, ring_buffer_sigma=None,
                      max_expected_summed_weight=None, incoming_spike_buffer_size=None, drop_late_spikes=None,
                      splitter=None, seed=None, n_colour_bits=None, n_steps_per_timestep=1, neurons_per_core=None,
                      n_synapse_cores=None, allow_delay_extensions=None):
        self._model.n_steps_per_timestep = n_steps_per_timestep
        if neurons_per_core is None:
            neurons_per_core = self.get_model_max_atoms_per_dimension_per_core()
        vertex = _Vertex(
            n_neurons=n_neurons, label=label, max_atoms_per_core=neurons_per_core,
            n_synapse_cores=n_synapse_cores if n_synapse_cores is not None else self.get_model_n_synapse_cores(),
            allow_delay_extensions=allow_delay_extensions if allow_delay_extensions is not None
            else self.get_model_allow_delay_extensions(),
            spikes_per_second=spikes_per_second, ring_buffer_sigma=ring_buffer_sigma,
            max_expected_summed_weight=max_expected_summed_weight,
            incoming_spike_buffer_size=incoming_spike_buffer_size, neuron_impl=self._model, pynn_model=self,
            drop_late_spikes=drop_late_spikes or False, splitter=splitter, seed=seed, n_colour_bits=n_colour_bits)
        vertex.ostl_model = self   # our model: its footprint and parameters
        return vertex

    def footprint(self, leak=0.0, keep_reset_path=True):
        cell = self.ostl_cell
        return resources.hidden_footprint(cell.kind, leak, table=cell.pseudo.name != "piecewise_linear",
                                          keep_reset_path=keep_reset_path)


def _encode(declaration, neuron_param=None):
    """The reference cell of a validated declaration and its s16.15 constants (as values)."""
    cell = declaration.ostl_cell()
    encoded = encode_cell(cell, keep_reset_path=False, neuron_param=neuron_param)
    return cell, encoded


def _options(**options):
    return {k: v for k, v in options.items() if v is not None}


class LIF(_OSTLModel):
    """LIF on sPyNNaker: :class:`pyNN_ostl.standardmodels.LIF` (its docstring is this class's)."""

    __doc__ = declared.LIF.__doc__

    @default_parameters({"tau_m", "v_th"})
    @default_initial_values({"v", "isyn_exc", "isyn_inh"})
    def __init__(self, tau_m=20.0, v_th=0.6, v=0.0, isyn_exc=0.0, isyn_inh=0.0, pseudo=None):
        self.declaration = declared.LIF(tau_m=tau_m, v_th=v_th, **_options(pseudo=pseudo))
        self.ostl_cell, e = _encode(self.declaration)
        self._build("lif", {"tau_m": tau_m}, {"alpha": e.alpha / ONE, "inv_v_th": e.inv_v_th / ONE,
                                              "pseudo_gamma": e.pseudo_gamma / ONE}, {"v": v}, ("v_th", v_th),
                    isyn_exc, isyn_inh, {"v": "", "tau_m": "ms"})


class ALIF(_OSTLModel):
    """ALIF on sPyNNaker: :class:`pyNN_ostl.standardmodels.ALIF` (its docstring is this class's)."""

    __doc__ = declared.ALIF.__doc__

    @default_parameters({"tau_m", "tau_a", "beta", "v_th"})
    @default_initial_values({"v", "a", "isyn_exc", "isyn_inh"})
    def __init__(self, tau_m=20.0, tau_a=200.0, beta=1.8, v_th=0.6, v=0.0, a=0.0, isyn_exc=0.0, isyn_inh=0.0,
                 pseudo=None):
        self.declaration = declared.ALIF(tau_m=tau_m, tau_a=tau_a, beta=beta, v_th=v_th, **_options(pseudo=pseudo))
        self.ostl_cell, e = _encode(self.declaration)
        self._build("alif", {"tau_m": tau_m, "tau_a": tau_a, "beta": beta},
                    {"alpha": e.alpha / ONE, "rho": e.rho / ONE, "inv_v_th": e.inv_v_th / ONE,
                     "pseudo_gamma": e.pseudo_gamma / ONE}, {"v": v, "a": a}, ("v_th", v_th), isyn_exc, isyn_inh,
                    {"v": "", "a": "", "tau_m": "ms", "tau_a": "ms", "beta": ""})


class SNU(_OSTLModel):
    """SNU on sPyNNaker: :class:`pyNN_ostl.standardmodels.SNU` (its docstring is this class's)."""

    __doc__ = declared.SNU.__doc__

    @default_parameters({"decay", "bias"})
    @default_initial_values({"s", "isyn_exc", "isyn_inh"})
    def __init__(self, decay=0.8, bias=0.0, s=0.0, isyn_exc=0.0, isyn_inh=0.0, activation=None, output=None,
                 pseudo=None, learn_bias=False):
        if learn_bias:
            raise ParameterError("SNU: on SpiNNaker the bias is a constant of the neuron (learn_bias=False)")
        self.declaration = declared.SNU(decay=decay, bias=bias, learn_bias=False,
                                        **_options(activation=activation, output=output, pseudo=pseudo))
        self.ostl_cell, e = _encode(self.declaration, np.atleast_1d(bias))
        self._build("snu", {"decay": decay}, {"decay_bits": e.decay / ONE}, {"s": s}, ("bias", bias), isyn_exc,
                    isyn_inh, {"s": "", "decay": ""})


class SoftResetSNU(_OSTLModel):
    """SoftResetSNU on sPyNNaker: :class:`pyNN_ostl.standardmodels.SoftResetSNU` (its docstring is this class's)."""

    __doc__ = declared.SoftResetSNU.__doc__

    @default_parameters({"decay", "threshold"})
    @default_initial_values({"s", "isyn_exc", "isyn_inh"})
    def __init__(self, decay=0.9, threshold=1.0, s=0.0, isyn_exc=0.0, isyn_inh=0.0, output=None, pseudo=None,
                 learn_threshold=False):
        if learn_threshold:
            raise ParameterError("SoftResetSNU: on SpiNNaker the threshold is a constant of the neuron "
                                 "(learn_threshold=False)")
        self.declaration = declared.SoftResetSNU(decay=decay, threshold=threshold, learn_threshold=False,
                                                 **_options(output=output, pseudo=pseudo))
        self.ostl_cell, e = _encode(self.declaration, np.atleast_1d(threshold))
        self._build("soft_snu", {"decay": decay}, {"decay_bits": e.decay / ONE}, {"s": s},
                    ("threshold", threshold), isyn_exc, isyn_inh, {"s": "", "decay": ""})


class Readout(_OSTLModel):
    """Readout on sPyNNaker: :class:`pyNN_ostl.standardmodels.Readout` (its docstring is this class's)."""

    __doc__ = declared.Readout.__doc__

    @default_parameters({"leak", "bias"})
    @default_initial_values({"potential", "isyn_exc", "isyn_inh"})
    def __init__(self, leak=0.0, bias=0.0, potential=0.0, isyn_exc=0.0, isyn_inh=0.0, activation="linear",
                 learn_bias=True, target=None, loss_mask=None):
        self.declaration = declared.Readout(activation=activation, learn_bias=learn_bias, leak=leak, bias=bias,
                                            **_options(target=target, loss_mask=loss_mask))
        self.activation = activation
        self.leak = float(np.ravel(leak)[0])
        self._build("readout", {"leak": leak}, {"kappa_bits": float(np.round(self.leak * ONE)) / ONE},
                    {"potential": potential}, ("bias", bias), isyn_exc, isyn_inh, {"potential": "", "leak": ""})

    def footprint(self, leak=0.0, keep_reset_path=True):
        """The readout's DTCM footprint (:mod:`ostl.hardware.spinnaker.resources`)."""
        return resources.readout_footprint(self.activation, self.leak)


# -- synapse dynamics ---------------------------------------------------------------------------------
class _SignedSynapse(SynapseDynamicsStatic):
    """Static rows whose connections carry their sign in their synapse type (0 excitatory, 1
    inhibitory) and their magnitude in the 16-bit word. The weights arrive from sPyNNaker's
    connector, signed and scaled: a number, or per connection from a ``FromListConnector``
    (:func:`connection_list` makes one from a ``(pre, post)`` array: sPyNNaker's all-to-all
    connector takes no weight arrays, and the rows it hands to synapse dynamics number their
    targets within a core, so an array cannot be looked up there)."""

    is_learning_signal = False

    def __init__(self, declaration):
        self.declaration = declaration
        weight = declaration.parameter_space["weight"].base_value
        delay = declaration.parameter_space["delay"].base_value
        if callable(weight) or hasattr(weight, "next"):
            raise ParameterError(f"{type(declaration).__name__}: on SpiNNaker give weights as a number or a "
                                 "(pre, post) array")
        weight = np.asarray(weight, dtype=float)
        if weight.ndim:
            raise ParameterError(f"{type(declaration).__name__}: sPyNNaker's connectors take weight arrays only as a "
                                 "list: connect with sim.FromListConnector(ostl.connection_list(weights)) and leave "
                                 "weight out of the synapse type")
        super().__init__(weight=float(weight), delay=float(np.ravel(delay)[0]))

    def row_sums(self, projection, n_post):
        """``sum_i |w_ij|`` for every postsynaptic neuron of ``projection``."""
        connector = projection._synapse_information.connector   # read as sPyNNaker's own statistics do
        sums = np.zeros(n_post)
        conn_list = getattr(connector, "conn_list", None)
        if conn_list is not None and len(conn_list):
            conn_list = np.asarray(conn_list, dtype=float)
            weights = np.abs(conn_list[:, 2]) if conn_list.shape[1] > 2 else np.full(len(conn_list), abs(self.weight))
            np.add.at(sums, conn_list[:, 1].astype(int), weights)
            return sums
        return sums + abs(float(self.weight)) * projection.pre.size

    def generate_on_machine(self):
        return False   # the rows are made on the host, where the signs are known

    def get_static_synaptic_data(self, connections, connection_row_indices, n_rows, n_synapse_types,
                                 max_n_synapses, max_atoms_per_core):
        signed = connections.copy()
        value = signed["weight"]
        signed["synapse_type"] = np.where(value < 0, 1, 0)
        signed["weight"] = np.abs(value)
        if np.any(np.rint(signed["weight"]) > 0xFFFF):
            raise ParameterError(f"{type(self.declaration).__name__}: a weight does not fit 16 bits at its "
                                 "population's ring-buffer shift")
        return super().get_static_synaptic_data(signed, connection_row_indices, n_rows, n_synapse_types,
                                                max_n_synapses, max_atoms_per_core)

    def read_static_synaptic_data(self, n_synapse_types, ff_size, ff_data, max_atoms_per_core):
        connections = super().read_static_synaptic_data(n_synapse_types, ff_size, ff_data, max_atoms_per_core)
        data = np.concatenate(ff_data) if len(ff_data) else np.zeros(0, dtype=np.uint32)
        types = (data >> get_n_bits(max_atoms_per_core)) & ((1 << get_n_bits(n_synapse_types)) - 1)
        connections["weight"] = np.where(types == 1, -connections["weight"], connections["weight"])
        return connections

    def is_same_as(self, synapse_dynamics):
        return isinstance(synapse_dynamics, _SignedSynapse)


def _plastic(declaration_class, doc):
    class Plastic(_SignedSynapse):
        __doc__ = doc

        def __init__(self, **parameters):
            declaration = declaration_class(**parameters)
            if declaration.optimizer_name != "sgd":
                raise ParameterError(f"{declaration_class.__name__}: the SpiNNaker kernels write plain SGD updates "
                                     f"back (optimizer='sgd'), got {declaration.optimizer_name!r}")
            if declaration.mode != "deferred":
                raise ParameterError(f"{declaration_class.__name__}: the SpiNNaker kernels write weights back at "
                                     "the end of each trial (mode='deferred')")
            if declaration.pcm_config is not None:
                raise ParameterError(f"{declaration_class.__name__}: PCM synapses are not available on SpiNNaker")
            self.rule = declaration.rule
            super().__init__(declaration)

    Plastic.__name__ = Plastic.__qualname__ = declaration_class.__name__
    return Plastic


OSTLSynapse = _plastic(declared.OSTLSynapse, declared.OSTLSynapse.__doc__)
EPropSynapse = _plastic(declared.EPropSynapse, declared.EPropSynapse.__doc__)


class ReadoutSynapse(_SignedSynapse):
    """ReadoutSynapse on sPyNNaker: :class:`pyNN_ostl.standardmodels.ReadoutSynapse` (its docstring is this class's)."""

    __doc__ = declared.ReadoutSynapse.__doc__

    def __init__(self, synapses=None, **parameters):
        if synapses is not None:
            raise ParameterError("ReadoutSynapse: PCM synapses are not available on SpiNNaker")
        super().__init__(declared.ReadoutSynapse(**parameters))


class LearningSignalConnection(_SignedSynapse):
    """LearningSignalConnection on sPyNNaker: :class:`pyNN_ostl.standardmodels.LearningSignalConnection`
    (its docstring is this class's)."""

    __doc__ = declared.LearningSignalConnection.__doc__
    is_learning_signal = True

    def __init__(self, feedback="symmetric", **parameters):
        declaration = declared.LearningSignalConnection(feedback=feedback, **parameters)
        self.feedback = declaration.feedback
        super().__init__(declaration)


# -- set-up, run, placements -------------------------------------------------------------------------
def connection_list(weights, delay=1.0, skip_zeros=False):
    """``[(pre, post, weight, delay), ...]`` of a ``(pre, post)`` weight array, for
    ``sim.FromListConnector`` (``skip_zeros``: leave out zero weights, e.g. absent autapses)."""
    weights = np.asarray(weights, dtype=float)
    pre, post = np.nonzero(weights != 0) if skip_zeros else np.indices(weights.shape).reshape(2, -1)
    return [(int(i), int(j), float(weights[i, j]), float(delay)) for i, j in zip(pre, post)]


def spike_times(x):
    """Spike times (ms) of each input neuron from a (T, n) array of 0/1, as lists (sPyNNaker's
    SpikeSourceArray takes lists, not PyNN Sequences); see :func:`pyNN_ostl.structure.spike_times`."""
    return [[float(t) for t in np.asarray(s.value)] for s in _spike_sequences(x)]


def report_directory():
    """Where :func:`setup` lets sPyNNaker write its reports by default:
    ``$OSTL_CACHE_DIR/spinnaker/reports`` (default ``~/.cache/ostl/spinnaker/reports``)."""
    root = Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl"))
    return root / "spinnaker" / "reports"


def setup(timestep=1.0, report_dir=None, **kwargs):
    """``sim.setup``; the kernels step in 1 ms.

    sPyNNaker writes its mapping reports (placements, routing, provenance) into a ``reports``
    folder of the current directory unless its configuration's ``[Reports]
    default_report_file_path`` names another place. So that a script run from a source tree
    leaves nothing in it, the set-up runs in ``report_dir`` (default :func:`report_directory`):
    with the default configuration the reports go there; a configured path still wins."""
    if float(timestep) != 1.0:
        raise ParameterError(f"timestep must be 1.0 ms (the kernels' step), got {timestep}")
    directory = Path(report_dir) if report_dir is not None else report_directory()
    directory.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    os.chdir(directory)
    try:
        return sim.setup(timestep=timestep, **kwargs)
    finally:
        os.chdir(previous)


def _our_populations():
    for vertex in SpynnakerDataView.iterate_vertices():
        if isinstance(vertex, _Vertex):
            yield vertex


def _fan_in(vertex):
    fan_in = 0
    for projection in vertex.incoming_projections:
        dynamics = projection._synapse_information.synapse_dynamics
        if isinstance(dynamics, _SignedSynapse) and not dynamics.is_learning_signal:
            fan_in += projection.pre.size
    return fan_in


def _keeps_reset_path(vertex):
    """Whether the rules of the population's learning projections keep the reset path."""
    rules = [projection._synapse_information.synapse_dynamics.rule for projection in vertex.incoming_projections
             if hasattr(projection._synapse_information.synapse_dynamics, "rule")]
    return any(rule.keep_reset_path for rule in rules) if rules else True


def _footprint(vertex, leak):
    return vertex.ostl_model.footprint(leak=leak, keep_reset_path=_keeps_reset_path(vertex))


def core_plan():
    """``{label: (neurons, fan_in, neurons_per_core, footprint)}`` for our populations; a
    ParameterError naming the DTCM limit if a neuron does not fit a core."""
    plan = {}
    readout_leak = max((v.ostl_model.leak for v in _our_populations() if isinstance(v.ostl_model, Readout)),
                       default=0.0)
    for vertex in _our_populations():
        footprint = _footprint(vertex, readout_leak)
        fan_in = _fan_in(vertex)
        try:
            per_core = footprint.neurons_per_core(fan_in)
        except ParameterError as exc:
            raise ParameterError(f"population {vertex.label!r}: {exc}") from None
        plan[vertex.label] = (vertex.n_atoms, fan_in, per_core, footprint)
    return plan


def run(simtime, callbacks=None):
    """Fit every population of ours into cores by its DTCM footprint (split over several cores, or
    refused with the limit it breaks), then ``sim.run``."""
    for vertex in _our_populations():
        per_core = core_plan()[vertex.label][2]
        vertex.set_max_atoms_per_dimension_per_core(per_core)   # as Population.set_max_atoms_per_core
    return sim.run(simtime, callbacks=callbacks) if callbacks else sim.run(simtime)


def placements():
    """After :func:`run`: one row per core of our populations -- chip ``(x, y)``, core ``p``, the
    population and its neuron slice, DTCM (our footprint) and SDRAM (sPyNNaker's) in bytes."""
    plan = {}
    for vertex in _our_populations():
        plan[vertex.label] = (_fan_in(vertex), vertex)
    rows = []
    n_steps = SpynnakerDataView.get_plan_n_timestep()
    readout_leak = max((v.ostl_model.leak for _, v in plan.values() if isinstance(v.ostl_model, Readout)),
                       default=0.0)
    for placement in SpynnakerDataView.iterate_placemements():
        vertex = placement.vertex
        app = getattr(vertex, "app_vertex", None)
        if app is None or app.label not in plan:
            continue
        fan_in, our_vertex = plan[app.label]
        footprint = _footprint(our_vertex, readout_leak)
        n = vertex.vertex_slice.n_atoms
        dtcm = (footprint.per_core + fan_in * footprint.per_presynaptic
                + n * (footprint.per_neuron + fan_in * footprint.per_synapse) + resources.RUNTIME_RESERVE)
        rows.append({"x": placement.x, "y": placement.y, "p": placement.p, "population": app.label,
                     "neurons": (vertex.vertex_slice.lo_atom, vertex.vertex_slice.hi_atom),
                     "binary": vertex.get_binary_file_name(), "dtcm": int(dtcm),
                     "sdram": int(vertex.sdram_required.get_total_sdram(n_steps))})
    return rows
