"""pyNN.spiNNaker (issue 12, item 6): a PyNN script with ``import pyNN.spiNNaker as sim`` and the
pyNN_ostl types maps on sPyNNaker's virtual board (the real sPyNNaker 1!7.4.1, no hardware); the
weights it returns equal ostl's SpiNNaker quantisation; a population larger than a core is split
and a neuron too large for a core is refused naming the limit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spynnaker", reason="sPyNNaker is not installed (pip install 'ostl[spinnaker]')")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pynn_spinnaker.py"


def run_example(tmp_path, *args):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".spynnaker.cfg").write_text("[Machine]\nvirtual_board = True\nversion = 5\n")
    env = dict(os.environ, HOME=str(home), OSTL_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_pynn_script_maps_on_the_virtual_board_with_our_quantised_weights(tmp_path):
    done = run_example(tmp_path, "--json", str(tmp_path / "summary.json"))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["weights_equal"] == {"layer0.W": True, "layer0.H": True, "readout.W": True}
    hidden = [r for r in summary["placements"] if r["population"] == "hidden"]
    readout = [r for r in summary["placements"] if r["population"] == "readout"]
    # 100 neurons with 150 learning synapses each do not fit one core's DTCM: split
    assert len(hidden) > 1 and sum(hi - lo + 1 for lo, hi in (r["neurons"] for r in hidden)) == 100
    assert len(readout) == 1 and all(r["binary"] == "ostl_lif.aplx" for r in hidden)
    assert all(r["dtcm"] <= 64 * 1024 and r["sdram"] > 0 for r in summary["placements"])
    assert summary["learning_signal_partitions"] and summary["learning_signal_partitions"][0][2] == ["hidden"]
    assert "weights equal to ostl's SpiNNaker quantisation: layer0.W yes, layer0.H yes, readout.W yes" in done.stdout
    # sPyNNaker's reports go to the cache, not into the directory the script runs in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "home", "summary.json"]
    assert any((tmp_path / "cache" / "spinnaker" / "reports").iterdir())


def test_a_neuron_too_large_for_a_core_is_refused_naming_the_limit(tmp_path):
    done = run_example(tmp_path, "--inputs", "4000", "--hidden", "10")
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("pynn_spinnaker: error")]
    assert len(error) == 1 and "needs 40205 bytes of DTCM (10 per synapse)" in error[0] and "64 KiB DTCM" in error[0]


def test_what_the_kernels_cannot_run_is_refused_before_mapping():
    import pyNN.spiNNaker as sim

    import pyNN_ostl
    from ostl.errors import ParameterError

    ostl = pyNN_ostl.for_simulator(sim)
    with pytest.raises(ParameterError, match="plain SGD"):
        ostl.EPropSynapse(rule="eprop", optimizer="adam", learning_rate=0.01, trial_duration=100)
    with pytest.raises(ParameterError, match="weight arrays only as a list"):
        ostl.ReadoutSynapse(weight=[[0.1, 0.2]])
    with pytest.raises(ParameterError, match=r"membrane decay .* rounds to 1.0"):
        ostl.LIF(tau_m=1e6)
    with pytest.raises(ParameterError, match="timestep must be 1.0 ms"):
        ostl.setup(timestep=0.1)
