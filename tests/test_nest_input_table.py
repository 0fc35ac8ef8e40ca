"""The step-major input table of the NEST module (issue 22): neurons added during a run.

Every D = 1 learning neuron of a thread has a column in its thread's table of input records
(``InputTable``, nestml_models/cpp/ostl_learning.h); a neuron created after a simulation has
started widens the table, and neurons built in an earlier kernel give their columns back. Both
must leave what a network learns untouched: a network that trains beside a second one, created
and connected after its first trial, learns exactly (bit for bit) the weights it learns alone,
on two threads, and a kernel reset in between changes nothing either.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nest")

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import nest
import bench_nest

def weights(nest, hidden):
    connections = nest.GetConnections(source=hidden, target=hidden, synapse_model="ostl_synapse")
    order = np.lexsort((np.array(connections.target), np.array(connections.source)))
    return np.array(connections.get("ostl_weight"))[order].tolist()

def run(joined):
    nest.ResetKernel()
    nest.set(resolution=1.0, local_num_threads=2, rng_seed=12)
    _, period, hidden = bench_nest.build_ours(nest, 30, np.random.default_rng(7))
    nest.SetDefaults("ostl_synapse", {"optimizer": {"type": "gradient_descent", "eta": 0.001}})
    nest.Simulate(float(period + 4))
    if joined:   # a second network, created now, driven by the first one's inputs
        inputs = nest.GetConnections(target=hidden[:1], synapse_model="ostl_synapse").source
        parrots = nest.NodeCollection(sorted(set(inputs) - set(hidden.tolist())))
        other = nest.Create("lif_neuron_learning", 20, {"trial_steps": bench_nest.STEPS, "pause_steps": 4,
                                                         "first_step": 2, "tau_m": 30.0, "v_th": 0.03,
                                                         "pseudo": "piecewise_linear", "pseudo_gamma": 0.3,
                                                         "readout_leak": 0.9})
        syn = {"synapse_model": "ostl_synapse", "delay": 1.0, "weight": nest.random.normal(0.0, 0.01)}
        nest.Connect(parrots, other, "all_to_all", syn)
        nest.Connect(other, other, {"rule": "all_to_all", "allow_autapses": False}, syn)
    nest.Simulate(float(period))
    return weights(nest, hidden)

alone = run(False)
joined = run(True)
again = run(False)
print(json.dumps({"alone": alone, "joined": joined, "again": again}))
"""


def test_a_network_created_during_a_run_leaves_the_first_one_exact():
    env = dict(os.environ, PYNEST_QUIET="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "benchmarks")], capture_output=True, text=True,
                          env=env, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    alone = result["alone"]
    assert len(alone) == 30 * 29
    assert max(abs(a - b) for a, b in zip(alone, result["again"])) == 0.0
    assert max(abs(a - b) for a, b in zip(alone, result["joined"])) == 0.0
