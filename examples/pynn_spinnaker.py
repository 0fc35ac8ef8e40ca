"""An e-prop network written with PyNN and the pyNN_ostl types, mapped by sPyNNaker onto a
SpiNNaker board -- its virtual board here (no hardware): 100 recurrent LIF neurons, 50 inputs,
3 leaky readouts (e-prop's pattern generation).

sPyNNaker needs a user configuration file; for the virtual board ``~/.spynnaker.cfg`` holds::

    [Machine]
    virtual_board = True
    version = 5

(a 48-chip board). The script prints where every core of our populations went (chip, core,
neurons, binary, DTCM and SDRAM), the learning-signal partition (readout -> hidden, payload
packets), and checks that ``Projection.get("weight")`` returns the weights of ostl's SpiNNaker
numerics (:class:`ostl.hardware.spinnaker.network.FixedPointNetwork`).

    .venv/bin/python examples/pynn_spinnaker.py [--hidden 100] [--inputs 50] [--json summary.json]

A network whose neurons do not fit a core's DTCM is refused with one line (exit 2).
"""

import argparse
import json
import sys

import numpy as np


def build(sim, ostl, n_in, n_hidden, n_out, steps, seed):
    from ostl import Layer, Network
    from ostl import Readout as ReferenceReadout
    from ostl.cells import LIF as ReferenceLIF

    network = Network(n_in, [Layer(n_hidden, ReferenceLIF(tau_m=20.0, v_th=0.6), recurrent=True)],
                      ReferenceReadout(n_out, "linear", leak=0.8))
    params = network.init_params(seed=seed)
    x = (np.random.default_rng(seed).random((steps, n_in)) < 0.05).astype(float)
    x[:3] = 0.0   # a spike source reaches the layer one step later

    ostl.setup(timestep=1.0)
    inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=ostl.spike_times(x)), label="input")
    hidden = sim.Population(n_hidden, ostl.LIF(tau_m=20.0, v_th=0.6), label="hidden")
    readout = sim.Population(n_out, ostl.Readout(leak=0.8, activation="linear"), label="readout")
    learning = dict(rule="eprop", learning_rate=2e-5, optimizer="sgd", mode="deferred", trial_duration=steps)
    projections = {
        "input": sim.Projection(inputs, hidden, sim.FromListConnector(ostl.connection_list(params["layer0.W"].T)),
                                ostl.EPropSynapse(**learning)),
        "recurrent": sim.Projection(hidden, hidden, sim.FromListConnector(
            ostl.connection_list(params["layer0.H"].T, skip_zeros=True)), ostl.EPropSynapse(**learning),
            receptor_type="recurrent"),
        "readout": sim.Projection(hidden, readout, sim.FromListConnector(
            ostl.connection_list(params["readout.W"].T)), ostl.ReadoutSynapse()),
        "learning signal": sim.Projection(readout, hidden, sim.AllToAllConnector(),
                                          ostl.LearningSignalConnection(feedback="symmetric")),
    }
    return network, params, projections


def learning_signal_partitions():
    """(pre, partition id, [post, ...]) of the readout's outgoing partitions."""
    from spynnaker.pyNN.data import SpynnakerDataView

    out = []
    for partition in SpynnakerDataView.iterate_partitions():
        if partition.pre_vertex.label == "readout":
            out.append((partition.pre_vertex.label, partition.identifier,
                        sorted({edge.post_vertex.label for edge in partition.edges})))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--inputs", type=int, default=50)
    parser.add_argument("--readouts", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write a summary (placements, weights check) to this file")
    args = parser.parse_args()

    import pyNN.spiNNaker as sim

    import pyNN_ostl
    from ostl.errors import ParameterError
    from ostl.hardware.spinnaker.network import FixedPointNetwork
    from ostl.rules import make_rule

    ostl = pyNN_ostl.for_simulator(sim)
    try:
        network, params, projections = build(sim, ostl, args.inputs, args.hidden, args.readouts, args.steps,
                                             args.seed)
        ostl.run(args.steps)
    except ParameterError as exc:
        print(f"pynn_spinnaker: error: {exc}", file=sys.stderr)
        return 2
    rows = ostl.placements()
    chips = sorted({(r["x"], r["y"]) for r in rows})
    print(f"{len(rows)} cores on {len(chips)} chip(s) for our populations:")
    print(f"  {'chip':<8}{'core':>5}  {'population':<10}{'neurons':>10}  {'binary':<18}{'DTCM':>8}{'SDRAM':>9}")
    for r in rows:
        lo, hi = r["neurons"]
        print(f"  {str((r['x'], r['y'])):<8}{r['p']:>5}  {r['population']:<10}{f'{lo}-{hi}':>10}  "
              f"{r['binary']:<18}{r['dtcm']:>8}{r['sdram']:>9}")
    partitions = learning_signal_partitions()
    for pre, identifier, posts in partitions:
        print(f"learning-signal partition: {pre} --{identifier}--> {', '.join(posts)} (32-bit payload: the error)")

    chip = FixedPointNetwork(network, make_rule("eprop"), params, {}, lr=2e-5)
    expected = chip.params()
    got = {"layer0.W": projections["input"].get("weight", format="array").T,
           "layer0.H": np.nan_to_num(projections["recurrent"].get("weight", format="array")).T,
           "readout.W": projections["readout"].get("weight", format="array").T}
    equal = {name: bool(np.array_equal(got[name], expected[name])) for name in got}
    print("weights equal to ostl's SpiNNaker quantisation: "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in equal.items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"placements": rows, "chips": len(chips), "cores": len(rows), "weights_equal": equal,
                       "learning_signal_partitions": partitions, "shifts": [chip.shift, chip.readout_shift]},
                      handle, indent=1)
    sim.end()
    return 0 if all(equal.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
