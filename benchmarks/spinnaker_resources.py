"""Resources of the papers' networks on SpiNNaker (issue 12, item 7): each network is written with
PyNN and the pyNN_ostl types and mapped by sPyNNaker 1!7.4.1 on its virtual 48-chip board; the
table counts the cores and chips of our populations (sPyNNaker also places the spike sources and
its own monitor cores: listed apart), neurons per core (set by our DTCM footprint), DTCM (ours)
and SDRAM (sPyNNaker's) of the fullest core.

Networks: pattern generation (e-prop, 100 recurrent LIF, 50 inputs, 3 leaky readouts), JSB
(OSTTP, 150 feed-forward SNUs, 88 inputs, 88 sigmoid readouts), SHD-like (OSTTP w/o H, 450
recurrent soft-reset SNUs, 700 inputs, 20 leaky softmax readouts).

Run:  HOME=<dir with .spynnaker.cfg> .venv/bin/python benchmarks/spinnaker_resources.py [--only NAME]
(each network maps in its own process; ``--only`` maps one and prints its JSON row)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

NETWORKS = {
    "pattern generation": {"cell": ("LIF", {}), "n_in": 50, "n": 100, "recurrent": True, "n_out": 3,
                           "readout": {"leak": 0.8, "activation": "linear"}, "rule": "eprop", "feedback": "symmetric"},
    "JSB": {"cell": ("SNU", {"decay": 0.4, "pseudo": "tanh"}), "n_in": 88, "n": 150, "recurrent": False, "n_out": 88,
            "readout": {"leak": 0.0, "activation": "sigmoid"}, "rule": "osttp", "feedback": "target_projection"},
    "SHD-like": {"cell": ("SoftResetSNU", {"decay": 0.95, "threshold": 1.0}), "n_in": 700, "n": 450,
                 "recurrent": True, "n_out": 20, "readout": {"leak": 0.9, "activation": "softmax"}, "rule": "osttp",
                 "feedback": "target_projection"},
}


def map_one(name):
    import pyNN.spiNNaker as sim
    from spynnaker.pyNN.data import SpynnakerDataView

    import pyNN_ostl

    spec = NETWORKS[name]
    ostl = pyNN_ostl.for_simulator(sim)
    rng = np.random.default_rng(0)
    n_in, n, n_out = spec["n_in"], spec["n"], spec["n_out"]
    ostl.setup(timestep=1.0)
    x = (rng.random((50, n_in)) < 0.05).astype(float)
    x[:3] = 0.0
    inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=ostl.spike_times(x)), label="input")
    cell_type, cell_args = spec["cell"]
    hidden = sim.Population(n, getattr(ostl, cell_type)(**cell_args), label="hidden")
    readout = sim.Population(n_out, ostl.Readout(**spec["readout"]), label="readout")
    synapse = ostl.EPropSynapse if spec["rule"] == "eprop" else ostl.OSTLSynapse
    learning = dict(rule=spec["rule"], learning_rate=1e-4, optimizer="sgd", mode="deferred", trial_duration=50)
    w_in = rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n))
    sim.Projection(inputs, hidden, sim.FromListConnector(ostl.connection_list(w_in)), synapse(**learning))
    if spec["recurrent"]:
        w_rec = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
        np.fill_diagonal(w_rec, 0.0)
        sim.Projection(hidden, hidden, sim.FromListConnector(ostl.connection_list(w_rec, skip_zeros=True)),
                       synapse(**learning), receptor_type="recurrent")
    w_out = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n_out))
    sim.Projection(hidden, readout, sim.FromListConnector(ostl.connection_list(w_out)), ostl.ReadoutSynapse())
    b = rng.normal(0.0, 1.0, (n_out, n))
    sim.Projection(readout, hidden, sim.FromListConnector(ostl.connection_list(b)),
                   ostl.LearningSignalConnection(feedback=spec["feedback"]))
    ostl.run(50)
    rows = ostl.placements()
    others = [p for p in SpynnakerDataView.iterate_placemements()
              if getattr(p.vertex, "app_vertex", None) is not None and p.vertex.app_vertex.label == "input"]
    system = sum(1 for p in SpynnakerDataView.iterate_placemements() if p.vertex.label.startswith("SYSTEM"))
    per_population = {}
    for r in rows:
        entry = per_population.setdefault(r["population"], {"cores": 0, "neurons_per_core": 0})
        entry["cores"] += 1
        entry["neurons_per_core"] = max(entry["neurons_per_core"], r["neurons"][1] - r["neurons"][0] + 1)
    result = {"network": name, "cores": len(rows), "chips": len({(r["x"], r["y"]) for r in rows}),
              "populations": per_population, "max_dtcm": max(r["dtcm"] for r in rows),
              "max_sdram": max(r["sdram"] for r in rows), "input_cores": len(others), "system_cores": system,
              "board_chips": SpynnakerDataView.get_machine().n_chips}
    sim.end()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(NETWORKS))
    args = parser.parse_args()
    if args.only:
        print(json.dumps(map_one(args.only)))
        return 0
    results = []
    for name in NETWORKS:
        done = subprocess.run([sys.executable, __file__, "--only", name], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: mapping failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print("| network | hidden: cores x neurons/core | readout: cores x neurons/core | our cores | chips | "
          "fullest core: DTCM / SDRAM (bytes) | input cores |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        h, o = r["populations"]["hidden"], r["populations"]["readout"]
        print(f"| {r['network']} | {h['cores']} x {h['neurons_per_core']} | {o['cores']} x {o['neurons_per_core']} | "
              f"{r['cores']} | {r['chips']} | {r['max_dtcm']} / {r['max_sdram']} | {r['input_cores']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
