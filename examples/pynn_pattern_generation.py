"""Pattern generation with OSTL in PyNN: the same script runs on pyNN.brian2 (and, with
the NEST plugin, on pyNN.nest).

A feed-forward layer of spiking SNUs learns, from frozen Poisson input, to make a leaky
readout produce three sums of sines (e-prop's pattern-generation task). Each iteration
is one trial of ``steps`` ms; the deferred OSTL update (Adam) is applied at every
trial's end, inside the simulation, so the whole training is one ``sim.run``.

    .venv/bin/python examples/pynn_pattern_generation.py --simulator brian2 [--iterations 100]

Prints the mean squared error of the first and last iteration and writes a plot.
"""

import argparse
import importlib

import numpy as np

from ostl import SNU as ReferenceSNU
from ostl import Layer, Network, Readout as ReferenceReadout
from ostl.tasks import PatternGeneration


def reference_network(n_in, n_hidden, n_out):
    """The same network in the reference engine (for its initial weights and checks)."""
    return Network(n_in, [Layer(n_hidden, ReferenceSNU(decay=0.9, pseudo="tanh"))],
                   ReferenceReadout(n_out, "linear", leak=0.8))


def build_and_run(sim, iterations=100, steps=500, n_in=50, n_hidden=32, n_out=3, seed=1, learning_rate=0.01,
                  record_synapses=False):
    """Build the network with ordinary PyNN calls, train, and return the results."""
    from pyNN.parameters import Sequence

    import pyNN_ostl as ostl

    task = PatternGeneration(seed=0, n_in=n_in, n_out=n_out, steps=steps)
    trial = task.trial(0, 0)
    x = trial.x.copy()
    x[0] = 0.0  # a spike source reaches the layer one step later: step 0 cannot receive input
    params = reference_network(n_in, n_hidden, n_out).init_params(seed=seed, weight_scale=2.0, readout_scale=1.0)

    sim.setup(timestep=1.0)
    inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=ostl.spike_times(np.tile(x, (iterations, 1)))),
                            label="input")
    hidden = sim.Population(n_hidden, ostl.SNU(decay=0.9, bias=0.0, pseudo="tanh"), label="hidden")
    targets = np.tile(trial.target, (iterations, 1))
    readout = sim.Population(n_out, ostl.Readout(leak=0.8, activation="linear",
                                                 target=[Sequence(targets[:, k]) for k in range(n_out)]),
                             label="readout")
    plastic = ostl.OSTLSynapse(rule="ostl", weight=params["layer0.W"].T, learning_rate=learning_rate,
                               optimizer="adam", mode="deferred", trial_duration=steps)
    input_projection = sim.Projection(inputs, hidden, sim.AllToAllConnector(), plastic, label="input->hidden")
    readout_projection = sim.Projection(hidden, readout, sim.AllToAllConnector(),
                                        ostl.ReadoutSynapse(weight=params["readout.W"].T), label="hidden->readout")
    sim.Projection(readout, hidden, sim.AllToAllConnector(), ostl.LearningSignalConnection(feedback="symmetric"),
                   label="learning signal")
    hidden.record(["spikes", "learning_signal"])
    readout.record(["output"])
    if record_synapses:
        ostl.record_synapses(input_projection, ["weight", "eligibility_vector"])
    sim.run(iterations * steps)

    output = np.asarray(readout.get_data().segments[0].filter(name="output")[0])[1:]  # drop the initial value
    mse = ((output - targets) ** 2).reshape(iterations, steps, n_out).mean(axis=(1, 2))
    loss = 0.5 * ((output - targets) ** 2).reshape(iterations, steps * n_out).sum(axis=1)
    result = {
        "mse": mse, "loss": loss, "output": output, "targets": targets, "x": x, "target": trial.target,
        "initial_params": params,
        "W": input_projection.get("weight", format="array").T,
        "W_out": readout_projection.get("weight", format="array").T,
        "hidden": hidden.get_data().segments[0],
        "synapses": ostl.get_synapse_data(input_projection) if record_synapses else None,
    }
    sim.end()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default="brian2", choices=["brian2", "nest"])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--plot", default="pynn_pattern_generation.png")
    args = parser.parse_args()
    sim = importlib.import_module(f"pyNN.{args.simulator}")
    result = build_and_run(sim, iterations=args.iterations)
    print(f"pyNN.{args.simulator}: mse {result['mse'][0]:.4f} (iteration 1) -> {result['mse'][-1]:.4f} "
          f"(iteration {args.iterations}); loss {result['loss'][0] / result['loss'][-1]:.1f}x lower")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["target"].shape[0]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), constrained_layout=True)
    a.semilogy(np.arange(1, len(result["loss"]) + 1), result["loss"])
    a.set_xlabel("iteration")
    a.set_ylabel("loss")
    a.set_title(f"OSTL pattern generation on pyNN.{args.simulator}")
    for k in range(result["target"].shape[1]):
        b.plot(result["target"][:, k], color=f"C{k}", lw=2, alpha=0.35)
        b.plot(result["output"][-steps:, k], color=f"C{k}", lw=1)
    b.set_xlabel("time step (ms), last iteration")
    fig.savefig(args.plot, dpi=100)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
