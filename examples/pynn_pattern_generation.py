"""Pattern generation with OSTL in PyNN: the same script runs on pyNN.brian2 and pyNN.nest
and learns the same weights on both.

A feed-forward layer of spiking SNUs learns, from frozen Poisson input, to make a leaky
readout produce three sums of sines (e-prop's pattern-generation task). Each iteration
is one trial of ``steps`` ms; the deferred OSTL update (Adam) is applied at every
trial's end, inside the simulation, so the whole training is one ``ostl.run``.

Written to be portable: the simulator is named once (``ostl = pyNN_ostl.for_simulator(sim)``
gives the ostl types translated for it, and ``ostl.setup``/``ostl.run`` do what the
simulator needs around ``sim.setup``/``sim.run``); the last ``pause`` steps of every trial
are silent (no input, loss mask 0; NEST completes each trial's update in them) and the
biases stay fixed (``learn_bias=False``: NEST's synapses learn weights only).

    .venv/bin/python examples/pynn_pattern_generation.py --simulator brian2 [--iterations 100]
    .venv/bin/python examples/pynn_pattern_generation.py --simulator nest

Prints the mean squared error of the first and last iteration and writes a plot.
"""

import argparse
import importlib

import numpy as np

from ostl import SNU as ReferenceSNU
from ostl import Layer, Network
from ostl import Readout as ReferenceReadout
from ostl.tasks import PatternGeneration


def reference_network(n_in, n_hidden, n_out):
    """The same network in the reference engine (for its initial weights and checks)."""
    return Network(n_in, [Layer(n_hidden, ReferenceSNU(decay=0.9, pseudo="tanh"))],
                   ReferenceReadout(n_out, "linear", leak=0.8))


#: silent steps at the end of every trial (pyNN_ostl.nest.TRIAL_PAUSE_STEPS)
PAUSE = 4


def task_data(steps=500, n_in=50, n_out=3, pause=PAUSE):
    """Input, target and loss mask of the one (frozen) trial: the first three input steps
    and the last ``pause`` steps are silent; the loss is not counted in the pause and in
    steps 0 and 1."""
    trial = PatternGeneration(seed=0, n_in=n_in, n_out=n_out, steps=steps).trial(0, 0)
    x = trial.x.copy()
    # a spike source reaches the layer one step later: step 0 cannot receive input, and
    # on pyNN.nest neither steps 1 and 2 (its spike sources cannot emit at 0 or 1 ms)
    x[:3] = 0.0
    x[steps - pause:] = 0.0
    mask = np.ones(steps)
    mask[steps - pause:] = 0.0
    mask[:2] = 0.0   # NEST's readout gets no target in the simulation's first two steps
    return x, trial.target, mask


def build_and_run(sim, iterations=100, steps=500, n_in=50, n_hidden=32, n_out=3, seed=1, learning_rate=0.01,
                  record_synapses=False, pause=PAUSE, threads=1, c_reg=0.0, f_target=10.0, w_min=None, w_max=None,
                  optimizer="adam", readout_learning_rate=None):
    """Build the network with ordinary PyNN calls, train, and return the results. ``c_reg`` > 0:
    firing-rate regularisation of the hidden neurons towards ``f_target`` Hz; ``w_min`` /
    ``w_max``: weight bounds; ``optimizer``: 'adam' or 'sgd'; ``readout_learning_rate``: the
    readout's own rate (with 'sgd')."""
    from pyNN.parameters import Sequence

    import pyNN_ostl

    ostl = pyNN_ostl.for_simulator(sim)
    x, target, mask = task_data(steps, n_in, n_out, pause)
    params = reference_network(n_in, n_hidden, n_out).init_params(seed=seed, weight_scale=2.0, readout_scale=1.0)

    ostl.setup(timestep=1.0, **({"threads": threads} if threads > 1 else {}))
    inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=ostl.spike_times(np.tile(x, (iterations, 1)))),
                            label="input")
    hidden = sim.Population(n_hidden, ostl.SNU(decay=0.9, bias=0.0, pseudo="tanh", learn_bias=False),
                            label="hidden")
    targets = np.tile(target, (iterations, 1))
    readout = sim.Population(n_out, ostl.Readout(leak=0.8, activation="linear", learn_bias=False,
                                                 target=[Sequence(targets[:, k]) for k in range(n_out)],
                                                 loss_mask=Sequence(np.tile(mask, iterations))),
                             label="readout")
    bounds = {key: value for key, value in (("w_min", w_min), ("w_max", w_max)) if value is not None}
    plastic = ostl.OSTLSynapse(rule="ostl", weight=params["layer0.W"].T, learning_rate=learning_rate,
                               optimizer={"name": optimizer, **bounds}, mode="deferred", trial_duration=steps,
                               c_reg=c_reg, f_target=f_target)
    input_projection = sim.Projection(inputs, hidden, sim.AllToAllConnector(), plastic, label="input->hidden")
    readout_projection = sim.Projection(hidden, readout, sim.AllToAllConnector(),
                                        ostl.ReadoutSynapse(weight=params["readout.W"].T,
                                                            learning_rate=readout_learning_rate),
                                        label="hidden->readout")
    sim.Projection(readout, hidden, sim.AllToAllConnector(), ostl.LearningSignalConnection(feedback="symmetric"),
                   label="learning signal")
    hidden.record(["spikes", "learning_signal"])
    readout.record(["output"])
    if record_synapses:
        ostl.record_synapses(input_projection, ["weight", "eligibility_vector"])
    ostl.run(iterations * steps)

    # reading is collective under MPI: every process takes part; the weights go to every process
    # (gather="all"), the recordings to the first
    W = input_projection.get("weight", format="array", gather="all").T
    W_out = readout_projection.get("weight", format="array", gather="all").T
    # ostl.get_data: the hidden signals on one time grid on every simulator (NEST records the
    # learning signal when it arrives, a step or two after its step)
    recorded, hidden_data = readout.get_data().segments[0], ostl.get_data(hidden).segments[0]
    synapses = ostl.get_synapse_data(input_projection) if record_synapses else None
    sim.end()
    if sim.rank() != 0:   # under MPI the first process holds the gathered recordings
        return None
    # the readout's step t is recorded at t + 1 ms; columns in the population's order
    output = pyNN_ostl.signal_array(recorded.filter(name="output")[0])[1:1 + iterations * steps]
    squared = (output - targets) ** 2 * np.tile(mask, iterations)[:, None]
    mse = squared.reshape(iterations, steps, n_out).sum(axis=(1, 2)) / (mask.sum() * n_out)
    loss = 0.5 * squared.reshape(iterations, steps * n_out).sum(axis=1)
    result = {
        "mse": mse, "loss": loss, "output": output, "targets": targets, "x": x, "target": target, "mask": mask,
        "initial_params": params, "W": W, "W_out": W_out, "hidden": hidden_data, "synapses": synapses,
    }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default="brian2", choices=["brian2", "nest"])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="threads per process (pyNN.nest)")
    parser.add_argument("--plot", default="pynn_pattern_generation.png")
    parser.add_argument("--save", metavar="FILE", help="write the losses and the learned weights (.npz)")
    args = parser.parse_args()
    sim = importlib.import_module(f"pyNN.{args.simulator}")
    result = build_and_run(sim, iterations=args.iterations, threads=args.threads)
    if result is None:   # under MPI (pyNN.nest), the first process reports
        return
    if args.save:
        np.savez(args.save, loss=result["loss"], W=result["W"], W_out=result["W_out"])
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
