"""Memory per plastic synapse in NEST (issue 22): ours at most NEST 3.10's own ``eprop_synapse``.

Measured as benchmarks/bench_nest.py measures it: the growth of NEST's ``memory_size`` while the
plastic projections of a recurrent e-prop LIF network (N = 400, 100 inputs, 10 readouts: 203,600
synapses) are connected, in a fresh process per model. ``eprop_synapse`` keeps an optimiser
object per synapse on the heap besides its 128 bytes; ours (128 bytes) keeps the optimiser's settings in the
synapse model's common properties and its moments in the synapse (measured: ours 130 B,
eprop 180 B, static 34 B).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nest")

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import nest
import bench_nest
nest.ResetKernel()
nest.set(resolution=1.0, rng_seed=12)
kind, n = sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(7)
if kind == "static":
    memory, _, _ = bench_nest.build_ours(nest, n, rng, plastic=False)
else:
    memory, _, _ = getattr(bench_nest, f"build_{kind}")(nest, n, rng)
_, degree = bench_nest._connectivity(n)
print(json.dumps({"bytes_per_synapse": memory / (n * (bench_nest.N_IN + degree + bench_nest.N_OUT))}))
"""


def _bytes_per_synapse(kind, n=400):
    done = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT / "benchmarks"), kind, str(n)],
                          capture_output=True, text=True, env=dict(os.environ, PYNEST_QUIET="1"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["bytes_per_synapse"]


def test_a_plastic_synapse_takes_no_more_memory_than_nests_eprop_synapse():
    import nestml_models

    nestml_models.build()
    ours, native, static = (_bytes_per_synapse(kind) for kind in ("ours", "eprop_iaf", "static"))
    assert static < ours <= native, {"ours": ours, "eprop_synapse": native, "static": static}
    # and what NEST reports of the synapse object itself: 128 bytes, eprop_synapse's size (which
    # keeps its optimiser on the heap besides)
    import nest

    nest.ResetKernel()   # modules load only into an empty network (another test may have left one)
    nestml_models.install()
    assert nest.GetDefaults("ostl_synapse")["sizeof"] <= nest.GetDefaults("eprop_synapse")["sizeof"] == 128
