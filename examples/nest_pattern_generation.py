"""Pattern generation with e-prop in plain PyNEST: this package's NEST models, no wrapper.

A recurrent layer of e-prop LIF neurons learns, from frozen Poisson input, to make a leaky
readout produce three sums of sines (e-prop's pattern-generation task, random feedback).
Every trial of ``steps`` ms is followed by a pause of 4 steps in which the synapses
complete the trial's deferred update (Adam); the whole training is one ``nest.Simulate``.

    .venv/bin/python examples/nest_pattern_generation.py [--iterations 60] [--threads 2] [--save W.npz]

Under MPI (a NEST built with it: ``make nest-mpi``) the same script runs on several processes,
each holding its part of the network; the losses and weights are gathered, and rank 0 prints,
plots and saves:

    mpirun -np 2 .venv-mpi/bin/python examples/nest_pattern_generation.py --save W.npz

The models (built and loaded by ``nestml_models.install()``):

* ``lif_neuron_learning``: the LIF neuron of ``nestml_models/lif_neuron.nestml`` that keeps
  the short history of its per-step factors for its incoming plastic synapses;
* ``readout_neuron_learning``: leaky readout; computes its error and sends it as the
  learning signal;
* ``ostl_synapse``: plastic; each synapse keeps its eligibility vector, catches up on the
  postsynaptic history at every presynaptic spike and applies its update at trial ends;
* ``ostl_learning_signal_connection``: readout -> hidden, weighted by the feedback matrix.

Prints the loss of the first and last trial and writes a plot.
"""

import argparse

import numpy as np

STEPS, PAUSE, N_IN, N_OUT = 500, 4, 50, 3
FIRST_STEP = 2           # update of the hidden layer's first step (the readout's is one later)
TAU_M, V_TH, LEAK = 20.0, 0.6, 0.8


def initial_weights(n_rec, seed=1):
    """Weights as (post, pre) matrices (what ``nest.Connect`` takes for all_to_all)."""
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0.0, 1.0 / np.sqrt(n_rec), (n_rec, n_rec))
    np.fill_diagonal(w_rec, 0.0)
    return {"layer0.W": rng.normal(0.0, 2.0 / np.sqrt(N_IN), (n_rec, N_IN)), "layer0.H": w_rec,
            "readout.W": rng.normal(0.0, (1.0 - LEAK) / np.sqrt(n_rec), (N_OUT, n_rec)),
            "feedback": rng.normal(0.0, 1.0, (n_rec, N_OUT))}


def frozen_trial():
    """The one trial every iteration repeats: frozen Poisson input, three sums of sines."""
    from ostl.tasks import PatternGeneration

    return PatternGeneration(seed=0, n_in=N_IN, n_out=N_OUT, steps=STEPS).trial(0, 0)


def train(iterations=60, n_rec=100, learning_rate=0.003, threads=1, seed=1):
    import nest

    import nestml_models
    from nestml_models import parallel

    trial = frozen_trial()
    weights = initial_weights(n_rec, seed)
    period = STEPS + PAUSE

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nestml_models.install()   # builds the module on first use (cached), loads it
    nest.set(resolution=1.0, local_num_threads=threads, print_time=False)
    geometry = {"trial_steps": STEPS, "pause_steps": PAUSE}

    # input: spike generators through parrots (one step each)
    generators = nest.Create("spike_generator", N_IN)
    inputs = nest.Create("parrot_neuron", N_IN)
    nest.Connect(generators, inputs, "one_to_one", {"delay": 1.0})
    hidden = nest.Create("lif_neuron_learning", n_rec, dict(
        geometry, first_step=FIRST_STEP, tau_m=TAU_M, v_th=V_TH, pseudo="piecewise_linear", pseudo_gamma=0.3,
        keep_reset_path=0.0,          # e-prop's eligibility traces (OSTL's: 1.0)
        readout_leak=LEAK))           # filter the traces with the readout's leak (e-prop eq. 28)
    readout = nest.Create("readout_neuron_learning", N_OUT, dict(
        geometry, first_step=FIRST_STEP + 1, leak=LEAK, activation="linear"))

    # NEST's e-prop convention for the optimiser (Adam's other settings: the defaults)
    nest.SetDefaults("ostl_synapse", {"optimizer": {"type": "adam", "eta": learning_rate}})
    plastic = {"synapse_model": "ostl_synapse", "delay": 1.0}
    nest.Connect(inputs, hidden, "all_to_all", dict(plastic, weight=weights["layer0.W"]))
    nest.Connect(hidden, hidden, {"rule": "all_to_all", "allow_autapses": False},
                 dict(plastic, weight=weights["layer0.H"]))
    nest.Connect(hidden, readout, "all_to_all", dict(plastic, weight=weights["readout.W"]))
    nest.Connect(readout, hidden, "all_to_all", {"synapse_model": "ostl_learning_signal_connection",
                                                 "delay": 1.0, "weight": weights["feedback"]})

    # the frozen trial, repeated: input step r of trial k reaches the hidden layer at update
    # FIRST_STEP + k period + r (generator and parrot add one step each)
    starts = FIRST_STEP + period * np.arange(iterations)
    for i, generator in enumerate(generators):
        steps = np.nonzero(trial.x[:, i])[0]
        generator.spike_times = (starts[:, None] + steps[None, :] - 1.0).ravel()
    # the target reaches the readout's continuous port one step after it is set
    targets = nest.Create("step_current_generator", N_OUT)
    times = (starts[:, None] + np.arange(STEPS + 1)[None, :]).ravel().astype(float)
    for k, generator in enumerate(targets):
        generator.set(amplitude_times=times, amplitude_values=np.tile(np.append(trial.target[:, k], 0.0),
                                                                       iterations))
    nest.Connect(targets, readout, "one_to_one", {"receptor_type": 0, "delay": 1.0})
    # the summed loss, sampled after every trial
    loss = nest.Create("multimeter", {"record_from": ["loss"], "interval": float(period),
                                      "offset": float(FIRST_STEP + 1 + STEPS)})
    nest.Connect(loss, readout)
    outputs = nest.Create("multimeter", {"record_from": ["output_value"], "interval": 1.0,
                                         "start": float(starts[-1])})
    nest.Connect(outputs, readout)

    nest.Simulate(float(iterations * period + FIRST_STEP + 2))

    # every process records and holds its own neurons and their incoming connections: gathered
    recorded = parallel.recorded_events(nest, loss, ("times", "senders", "loss"))
    order = np.lexsort((recorded["senders"], recorded["times"]))
    cumulative = recorded["loss"][order].reshape(-1, N_OUT).sum(axis=1)[:iterations]
    losses = np.diff(np.concatenate([[0.0], cumulative]))

    def matrix(pre, post, shape):
        conns = nest.GetConnections(pre, post, synapse_model="ostl_synapse")
        columns = parallel.connection_columns(nest, conns, ("source", "target", "weight"))
        out = np.zeros(shape)
        out[columns["target"] - post[0].global_id, columns["source"] - pre[0].global_id] = columns["weight"]
        return out

    learned = {"layer0.W": matrix(inputs, hidden, (n_rec, N_IN)), "layer0.H": matrix(hidden, hidden, (n_rec, n_rec)),
               "readout.W": matrix(hidden, readout, (N_OUT, n_rec))}
    events = parallel.recorded_events(nest, outputs, ("times", "senders", "output_value"))
    last = np.zeros((STEPS, N_OUT))
    steps = np.asarray(events["times"]).round().astype(int) - 1 - (starts[-1] + 1)
    keep = (steps >= 0) & (steps < STEPS)
    last[steps[keep], np.asarray(events["senders"])[keep] - readout[0].global_id] = \
        np.asarray(events["output_value"])[keep]
    return {"losses": losses, "weights": learned, "initial": weights, "trial": trial, "last_output": last,
            "primary": parallel.is_primary(nest)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=100, help="recurrent LIF neurons")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", default="nest_pattern_generation.png")
    parser.add_argument("--save", metavar="FILE", help="write the losses and the learned weights (.npz)")
    args = parser.parse_args()
    result = train(iterations=args.iterations, n_rec=args.hidden, threads=args.threads)
    if not result["primary"]:   # under MPI, rank 0 reports
        return
    losses = result["losses"]
    if args.save:
        np.savez(args.save, losses=losses, **result["weights"])
    print(f"NEST e-prop: loss {losses[0]:.2f} (trial 1) -> {losses[-1]:.2f} (trial {len(losses)}); "
          f"{losses[0] / losses[-1]:.1f}x lower")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), constrained_layout=True)
    a.semilogy(np.arange(1, len(losses) + 1), losses)
    a.set_xlabel("trial")
    a.set_ylabel("loss")
    a.set_title("e-prop pattern generation in NEST")
    for k in range(N_OUT):
        b.plot(result["trial"].target[:, k], color=f"C{k}", lw=2, alpha=0.35)
        b.plot(result["last_output"][:, k], color=f"C{k}", lw=1)
    b.set_xlabel("time step (ms), last trial")
    fig.savefig(args.plot, dpi=100)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
