"""pyNN_ostl extends PyNN through its own extension points: importing it (and using it)
changes nothing for a plain PyNN script, and no import hook is installed."""

import json
import subprocess
import sys

import pytest

PLAIN_NETWORK = r"""
import json, sys
use_ostl = sys.argv[2] == "with"
meta_path_before = [type(f).__name__ for f in sys.meta_path]
if use_ostl:
    import pyNN_ostl
import pyNN.{simulator} as sim
if use_ostl:
    ostl = pyNN_ostl.for_simulator(sim)   # the translated types exist, unused by the plain network
    ostl.SNU(decay=0.9), ostl.OSTLSynapse(trial_duration=10)
import numpy as np
from pyNN.parameters import Sequence
sim.setup(timestep=0.1)
source = sim.Population(5, sim.SpikeSourceArray(spike_times=[Sequence([2.0, 5.0, 9.0, 14.0])] * 5))
cells = sim.Population(4, sim.IF_curr_exp(tau_m=15.0, v_thresh=-52.0))
sim.Projection(source, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.2, delay=1.0))
cells.record("spikes")
sim.run(60.0)
trains = [np.round(np.asarray(t.magnitude), 6).tolist() for t in cells.get_data().segments[0].spiketrains]
sim.end()
print(json.dumps({{"spikes": trains, "meta_path": [type(f).__name__ for f in sys.meta_path] == meta_path_before}}))
"""


@pytest.mark.parametrize("simulator", ["brian2", "nest"])
def test_importing_pyNN_ostl_changes_nothing_in_pynn(tmp_path, simulator):
    pytest.importorskip(f"pyNN.{simulator}")
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_NETWORK.format(simulator=simulator))
    results = {}
    for mode in ("without", "with"):
        run = subprocess.run([sys.executable, str(script), simulator, mode], capture_output=True, text=True,
                             cwd=tmp_path, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        results[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    assert results["with"]["meta_path"] and results["without"]["meta_path"]   # sys.meta_path untouched
    assert sum(len(t) for t in results["without"]["spikes"]) > 0
    assert results["with"]["spikes"] == results["without"]["spikes"]


def test_the_package_installs_no_import_hook_and_replaces_no_pynn_attribute():
    """In this process: pyNN's modules and classes are the same objects before and after."""
    pytest.importorskip("pyNN.brian2")
    import pyNN.brian2
    import pyNN.brian2.simulator as b2sim

    before = (list(sys.meta_path), pyNN.brian2.Projection, type(b2sim.state).run, pyNN.brian2.Population)
    import pyNN_ostl

    pyNN_ostl.for_simulator(pyNN.brian2)
    after = (list(sys.meta_path), pyNN.brian2.Projection, type(b2sim.state).run, pyNN.brian2.Population)
    assert before == after
    try:
        import pyNN.nest
        import pyNN.nest.simulator as nsim
    except ImportError:
        return
    nest_before = (type(nsim.state).run, type(nsim.state).clear, pyNN.nest.Population._create_cells,
                   pyNN.nest.Projection.__init__, pyNN.nest.Projection._get_attributes_as_arrays)
    pyNN_ostl.for_simulator(pyNN.nest)
    nest_after = (type(nsim.state).run, type(nsim.state).clear, pyNN.nest.Population._create_cells,
                  pyNN.nest.Projection.__init__, pyNN.nest.Projection._get_attributes_as_arrays)
    assert nest_before == nest_after


@pytest.mark.parametrize("simulator", ["brian2", "nest"])
def test_every_translation_offers_the_same_interface(simulator):
    sim = pytest.importorskip(f"pyNN.{simulator}")
    import pyNN_ostl
    from pyNN_ostl.structure import TRANSLATION_API

    ostl = pyNN_ostl.for_simulator(sim)
    assert all(callable(getattr(ostl, name)) for name in TRANSLATION_API)
    for name in ("SNU", "Readout", "OSTLSynapse", "LearningSignalConnection"):
        assert issubclass(getattr(ostl, name), getattr(pyNN_ostl.standardmodels, name))


def test_for_simulator_names_what_it_supports():
    import pyNN_ostl
    from ostl.errors import ParameterError

    with pytest.raises(ParameterError,
                       match=r"translates its types for pyNN.brian2, pyNN.nest, pyNN.spiNNaker; got 'pyNN.neuron'"):
        pyNN_ostl.for_simulator("pyNN.neuron")


def test_a_readout_rate_of_its_own_is_the_readout_synapses():
    """The readout's own rate is a ReadoutSynapse parameter (SGD's readout_lr in the plastic types'
    optimiser is refused, naming it); with Adam it is refused when the network is described."""
    import pyNN_ostl.standardmodels as sm
    from ostl.errors import ParameterError
    from pyNN_ostl.structure import network_optimizer

    with pytest.raises(ParameterError, match=r"give the readout a rate of its own with ReadoutSynapse\(learning_rate"):
        sm.OSTLSynapse(optimizer={"name": "sgd", "readout_lr": 1e-5}, learning_rate=1e-4, trial_duration=10)
    with pytest.raises(ParameterError, match=r"learning_rate must be in \(0, inf\)"):
        sm.ReadoutSynapse(learning_rate=-1.0)

    class Projection:   # what network_optimizer reads of the readout projection
        synapse_type = sm.ReadoutSynapse(learning_rate=1e-5)

    sgd = sm.OSTLSynapse(optimizer={"name": "sgd"}, learning_rate=1e-4, trial_duration=10)
    assert network_optimizer(sgd, Projection).rate("readout.W") == 1e-5
    adam = sm.OSTLSynapse(optimizer="adam", learning_rate=1e-4, trial_duration=10)
    with pytest.raises(ParameterError, match="applies to optimizer 'sgd'"):
        network_optimizer(adam, Projection)


def test_declarations_know_no_simulator():
    """standardmodels declares; the translations live in the backend modules."""
    import pyNN_ostl.standardmodels as sm

    for name in ("brian2_model", "eqs", "nest_name", "variable_map", "post_synaptic_variables"):
        for cls in (sm.SNU, sm.LIF, sm.Readout, sm.OSTLSynapse, sm.LearningSignalConnection):
            assert name not in vars(cls) and not hasattr(cls, name), (cls.__name__, name)
    import ast

    for node in ast.walk(ast.parse(open(sm.__file__).read())):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for module in modules:
            assert not module.startswith(("brian2", "nest", "pyNN.brian2", "pyNN.nest", "nestml")), module


def test_signal_array_puts_the_columns_in_the_populations_order():
    """pyNN.nest under MPI gathers each process's cells in the order of the processes (channels
    [1, 0, 2] for three cells on two processes); signal_array sorts them back, and leaves a
    signal without channel indices as it is."""
    import neo
    import numpy as np
    import quantities as pq

    import pyNN_ostl

    values = np.array([[10.0, 0.0, 20.0], [11.0, 1.0, 21.0]])
    gathered = neo.AnalogSignal(values, units="mV", sampling_period=1 * pq.ms,
                                array_annotations={"channel_index": np.array([1, 0, 2])})
    np.testing.assert_array_equal(pyNN_ostl.signal_array(gathered), values[:, [1, 0, 2]])
    plain = neo.AnalogSignal(values, units="mV", sampling_period=1 * pq.ms)
    np.testing.assert_array_equal(pyNN_ostl.signal_array(plain), values)
