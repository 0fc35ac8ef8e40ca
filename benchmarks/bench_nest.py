"""NEST at scale (issue 22): time per trial, memory per synapse and build time of recurrent e-prop
LIF networks in NEST, ours beside NEST's own e-prop and beside static synapses, measured in one run.

The network: N recurrent LIF neurons (tau_m 30 ms, threshold 0.03, as NEST's e-prop examples),
all-to-all without autapses up to N = 1600 and a fixed in-degree of 160 (10 % of 1600) above,
100 Poisson inputs (5 % per 1 ms step, frozen), 10 leaky readouts, random feedback, one trial of
1000 steps, plain gradient descent at the trial's end. Rows:

* ``ours``: ``lif_neuron_learning`` + ``readout_neuron_learning`` + ``ostl_synapse`` (exact
  e-prop traces; this package's NEST module);
* ``eprop_iaf``: NEST 3.10's ``eprop_iaf`` + ``eprop_readout`` + ``eprop_synapse`` (the
  ``eprop_isi_trace_cutoff`` of NEST's examples, 100 steps: NEST's traces stop 100 steps after a
  presynaptic spike, an approximation ours does not make);
* ``bsshslm``: NEST's ``eprop_iaf_bsshslm_2020`` set (exact, the models of Bellec et al.);
* ``static``: our network with ``static_synapse`` in place of every plastic synapse (the cost of
  simulating, without learning).

``--classification`` times the classification setting instead (issue 24): softmax readouts with
cross-entropy (``N_OUT`` = 10 classes; ours exchange their potentials over
``rate_connection_delayed``, NEST's ``eprop_readout_bsshslm_2020`` with ``loss`` cross_entropy does
the same), batches of 8 (NEST's optimiser ``batch_size`` on both sides), ``ours`` beside
``bsshslm``; the time per trial is the mean over one batch of 8 trials.

Each row is a fresh process: the network is built (timed: ``build s``), one trial warms it up,
the second trial is timed (``s/trial``); ``B/syn`` is the growth of NEST's ``memory_size``
(resident memory of the process) while the plastic (or, for ``static``, the same) projections
are connected, divided by their synapse count. ``--threads 2`` adds rows with two threads; with
``.venv-mpi`` (``make nest-mpi``) rows with two MPI processes of one thread each are added.

Run:  .venv/bin/python benchmarks/bench_nest.py [--quick] [--sizes 100,400] [--kinds ours,static]
      .venv/bin/python benchmarks/bench_nest.py --classification [--sizes 100,400]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS, N_IN, N_OUT, P_IN = 1000, 100, 10, 0.05
TAU_M, V_TH = 30.0, 0.03
#: the learning rate: zero, so that every row simulates the same activity (the weights stay as drawn)
#: while every synapse does its full learning work (a rate does not change the work)
ETA = 0.0
FULL_UP_TO, IN_DEGREE = 1600, 160
#: the classification setting: trials per update (NEST's optimiser batch_size)
BATCH = 8
KINDS = ("ours", "eprop_iaf", "bsshslm", "static")
MPI_PYTHON = ROOT / ".venv-mpi" / "bin" / "python"


def _connectivity(n):
    if n <= FULL_UP_TO:
        return {"rule": "all_to_all", "allow_autapses": False}, n - 1
    return {"rule": "fixed_indegree", "indegree": IN_DEGREE, "allow_autapses": False}, IN_DEGREE


#: NEST's e-prop examples draw weights w ~ N(0, 1 / sqrt(fan-in)) and scale them by 1 - exp(-dt / tau_m)
#: for models whose spikes add the weight to the membrane (ours, eprop_iaf); the bsshslm models scale
#: every incoming spike by that factor themselves (regular_spike_arrival False): the same membrane
#: trajectories from the unscaled weights
SCALE = 1.0 - float(np.exp(-1.0 / TAU_M))


def _weights(nest, n, scaled=True):
    """Weight distributions (input, recurrent, readout) of a network of ``n`` neurons."""
    _, degree = _connectivity(n)
    factor = SCALE if scaled else 1.0
    return (nest.random.normal(0.0, factor / np.sqrt(N_IN)), nest.random.normal(0.0, factor / np.sqrt(degree)),
            nest.random.normal(0.0, factor / np.sqrt(n)))


def _memory(nest):
    return float(nest.GetKernelStatus("memory_size")) * 1024.0   # NEST reports kB


def _inputs(nest, rng, first, trials, period=STEPS + 4):
    """100 parrots driven by frozen Poisson spike generators, ``trials`` trials from ``first``,
    one every ``period`` steps."""
    generators = nest.Create("spike_generator", N_IN)
    parrots = nest.Create("parrot_neuron", N_IN)
    nest.Connect(generators, parrots, "one_to_one", {"delay": 1.0})
    spikes = rng.random((STEPS, N_IN)) < P_IN
    spikes[0] = False
    starts = first + np.arange(trials) * period
    generators.set([{"spike_times": np.concatenate([np.nonzero(spikes[:, i])[0] + s for s in starts]).astype(float)}
                    for i in range(N_IN)])
    return parrots


def _one_hot(trials, period, first):
    """Per readout: step amplitudes of a one-hot target, class ``k % N_OUT`` in trial ``k``."""
    times = np.concatenate([first + k * period + np.arange(STEPS) for k in range(trials)]).astype(float)
    labels = np.repeat(np.arange(trials) % N_OUT, STEPS)
    return times, [(labels == j).astype(float) for j in range(N_OUT)]


def build_ours(nest, n, rng, plastic=True, classify=False):
    """Our models (:mod:`nestml_models`); ``plastic=False``: static synapses everywhere; ``classify``:
    softmax readouts, batches of ``BATCH``."""
    import nestml_models
    from nestml_models.parameters import pause_steps_for
    from nestml_models.wiring import connect_softmax_readouts

    nestml_models.install()
    pause = pause_steps_for(1, softmax=classify)
    trials = BATCH + 2 if classify else 3
    geometry = {"trial_steps": STEPS, "pause_steps": pause}
    parrots = _inputs(nest, rng, 2, trials, STEPS + pause)
    hidden = nest.Create("lif_neuron_learning", n, dict(geometry, first_step=2, tau_m=TAU_M, v_th=V_TH,
                                                        pseudo="piecewise_linear", pseudo_gamma=0.3,
                                                        keep_reset_path=0.0, readout_leak=float(np.exp(-1 / TAU_M)),
                                                        readout_lag=2 if classify else 1))
    readout = nest.Create("readout_neuron_learning", N_OUT, dict(geometry, first_step=3,
                                                                  leak=float(np.exp(-1 / TAU_M)),
                                                                  activation="softmax" if classify else "linear"))
    if classify:
        connect_softmax_readouts(nest, readout)
    model = "ostl_synapse" if plastic else "static_synapse"
    if plastic:
        nest.SetDefaults("ostl_synapse", {"optimizer": {"type": "gradient_descent", "eta": ETA,
                                                        "batch_size": BATCH if classify else 1}})
    rule, _ = _connectivity(n)
    before = _memory(nest)
    syn = {"synapse_model": model, "delay": 1.0}
    w_in, w_rec, w_out = _weights(nest, n)
    nest.Connect(parrots, hidden, "all_to_all", dict(syn, weight=w_in))
    nest.Connect(hidden, hidden, rule, dict(syn, weight=w_rec))
    nest.Connect(hidden, readout, "all_to_all", dict(syn, weight=w_out))
    memory = _memory(nest) - before
    nest.Connect(readout, hidden, "all_to_all", {"synapse_model": "ostl_learning_signal_connection", "delay": 1.0,
                                                 "weight": nest.random.normal(0.0, 0.1)})
    targets = nest.Create("step_current_generator", N_OUT)
    if classify:
        times, values = _one_hot(trials, STEPS + pause, 2.0)
        targets.set([{"amplitude_times": times, "amplitude_values": v} for v in values])
    else:
        times = np.arange(0, 3 * (STEPS + 4), dtype=float) + 2.0
        targets.set(amplitude_times=times, amplitude_values=np.sin(times / 50.0))
    nest.Connect(targets, readout, "one_to_one", {"receptor_type": 0, "delay": 1.0})
    return memory, STEPS + pause, hidden


def build_eprop_iaf(nest, n, rng):
    """NEST 3.10's ``eprop_iaf`` / ``eprop_readout`` / ``eprop_synapse`` (its example's settings)."""
    parrots = _inputs(nest, rng, 1, 3)
    hidden = nest.Create("eprop_iaf", n, {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "V_th": V_TH, "t_ref": 0.0,
                                          "tau_m": TAU_M, "eprop_isi_trace_cutoff": 100, "kappa": 0.97,
                                          "surrogate_gradient_function": "piecewise_linear",
                                          "surrogate_gradient_height": 0.3 / V_TH,
                                          "surrogate_gradient_width": V_TH, "c_reg": 0.0,
                                          "flush_event_send_interval": float(STEPS)})
    readout = nest.Create("eprop_readout", N_OUT, {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "tau_m": TAU_M,
                                                   "eprop_isi_trace_cutoff": 100})
    nest.SetDefaults("eprop_synapse", {"optimizer": {"type": "gradient_descent", "batch_size": 1, "eta": ETA,
                                                     "optimize_each_step": False}})
    rule, _ = _connectivity(n)
    before = _memory(nest)
    syn = {"synapse_model": "eprop_synapse", "delay": 1.0}
    w_in, w_rec, w_out = _weights(nest, n)
    nest.Connect(parrots, hidden, "all_to_all", dict(syn, weight=w_in))
    nest.Connect(hidden, hidden, rule, dict(syn, weight=w_rec))
    nest.Connect(hidden, readout, "all_to_all", dict(syn, weight=w_out))
    memory = _memory(nest) - before
    nest.Connect(readout, hidden, "all_to_all", {"synapse_model": "eprop_learning_signal_connection", "delay": 1.0,
                                                 "weight": nest.random.normal(0.0, 0.1)})
    target = nest.Create("step_rate_generator", N_OUT)
    window = nest.Create("step_rate_generator")
    times = np.arange(0, 3 * STEPS, dtype=float) + 3.0
    target.set(amplitude_times=times, amplitude_values=np.sin(times / 50.0))
    window.set(amplitude_times=[1.0], amplitude_values=[1.0])
    nest.Connect(target, readout, "one_to_one", {"synapse_model": "rate_connection_delayed", "delay": 1.0,
                                                 "receptor_type": 2})
    nest.Connect(window, readout, "all_to_all", {"synapse_model": "rate_connection_delayed", "delay": 1.0,
                                                 "receptor_type": 1})
    return memory, STEPS, hidden


def build_bsshslm(nest, n, rng, classify=False):
    """NEST's ``eprop_iaf_bsshslm_2020`` set (the settings of nestml_models.native_eprop); ``classify``:
    cross-entropy readouts normalised over rate connections (NEST's evidence-accumulation example),
    batches of ``BATCH``."""
    nest.set(eprop_learning_window=float(STEPS), eprop_reset_neurons_on_update=True, eprop_update_interval=float(STEPS))
    trials = BATCH + 2 if classify else 3
    parrots = _inputs(nest, rng, 1, trials, STEPS if classify else STEPS + 4)
    hidden = nest.Create("eprop_iaf_bsshslm_2020", n, {"C_m": 1.0, "c_reg": 0.0, "E_L": 0.0, "I_e": 0.0,
                                                       "regular_spike_arrival": False, "t_ref": 0.0, "tau_m": TAU_M,
                                                       "V_m": 0.0, "V_th": V_TH,
                                                       "surrogate_gradient_function": "piecewise_linear",
                                                       "surrogate_gradient_height": 0.3 / V_TH,
                                                       "surrogate_gradient_width": V_TH})
    readout = nest.Create("eprop_readout_bsshslm_2020", N_OUT, {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0,
                                                                "loss": "cross_entropy" if classify
                                                                else "mean_squared_error",
                                                                "regular_spike_arrival": False, "tau_m": TAU_M,
                                                                "V_m": 0.0})
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {"optimizer": {"type": "gradient_descent",
                                                                  "batch_size": BATCH if classify else 1,
                                                                  "eta": ETA}, "average_gradient": False})
    rule, _ = _connectivity(n)
    before = _memory(nest)
    syn = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": 1.0, "tau_m_readout": TAU_M}
    w_in, w_rec, w_out = _weights(nest, n, scaled=False)
    nest.Connect(parrots, hidden, "all_to_all", dict(syn, weight=w_in))
    nest.Connect(hidden, hidden, rule, dict(syn, weight=w_rec))
    nest.Connect(hidden, readout, "all_to_all", dict(syn, weight=w_out))
    memory = _memory(nest) - before
    nest.Connect(readout, hidden, "all_to_all", {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020",
                                                 "delay": 1.0, "weight": nest.random.normal(0.0, 0.1)})
    target = nest.Create("step_rate_generator", N_OUT)
    if classify:
        times, values = _one_hot(trials, STEPS, 4.0)
        target.set([{"amplitude_times": times, "amplitude_values": v} for v in values])
        nest.Connect(readout, readout, {"rule": "all_to_all", "allow_autapses": False},
                     {"synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 1, "weight": 1.0})
    else:
        times = np.arange(0, 3 * STEPS, dtype=float) + 4.0
        target.set(amplitude_times=times, amplitude_values=np.sin(times / 50.0))
    nest.Connect(target, readout, "one_to_one", {"synapse_model": "rate_connection_delayed", "delay": 1.0,
                                                 "receptor_type": 2})
    return memory, STEPS, hidden


def worker(kind, n, threads, classify=False):
    """One row, in this process: ``{build_s, trial_s, bytes_per_synapse, synapses, spikes}``
    (``classify``: the classification setting, the time per trial over one batch)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    nest.ResetKernel()
    nest.set(resolution=1.0, local_num_threads=threads, print_time=False, rng_seed=12)
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    if kind in ("ours", "static"):
        memory, period, hidden = build_ours(nest, n, rng, plastic=kind == "ours", classify=classify)
    elif kind == "eprop_iaf":
        memory, period, hidden = build_eprop_iaf(nest, n, rng)
    else:
        memory, period, hidden = build_bsshslm(nest, n, rng, classify=classify)
    spikes = nest.Create("spike_recorder")
    nest.Connect(hidden, spikes)
    build = time.perf_counter() - started
    nest.Simulate(float(period + 4))     # first trial, with NEST's preparation
    spikes.n_events = 0
    timed = BATCH if classify else 1
    start = time.perf_counter()
    nest.Simulate(float(timed * period))
    trial = (time.perf_counter() - start) / timed
    _, degree = _connectivity(n)
    synapses = n * (N_IN + degree + N_OUT)
    row = {"build_s": build, "trial_s": trial, "synapses": synapses, "spikes": int(spikes.n_events) / timed,
           "bytes_per_synapse": memory / synapses, "processes": int(nest.NumProcesses())}
    if nest.NumProcesses() > 1:
        from mpi4py import MPI

        rows = MPI.COMM_WORLD.gather(row)
        if nest.Rank() != 0:
            return None
        row = {"build_s": max(r["build_s"] for r in rows), "trial_s": max(r["trial_s"] for r in rows),
               "synapses": synapses, "bytes_per_synapse": sum(r["bytes_per_synapse"] for r in rows),
               "spikes": sum(r["spikes"] for r in rows), "processes": len(rows)}
    return row


def _measure(kind, n, threads=1, processes=1, classify=False):
    command = [sys.executable, __file__, "--worker", kind, str(n), str(threads)] + (["--classification"] if classify
                                                                                     else [])
    env = dict(os.environ, PYNEST_QUIET="1")
    if processes > 1:
        command = ["mpirun", "-np", str(processes), "--bind-to", "none", str(MPI_PYTHON), *command[1:]]
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=7200)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 400 only")
    parser.add_argument("--sizes", help="comma-separated N (default 100,400,1600,6400,25600)")
    parser.add_argument("--kinds", help=f"comma-separated, of {','.join(KINDS)}")
    parser.add_argument("--no-parallel", action="store_true", help="no 2-thread and 2-process rows")
    parser.add_argument("--classification", action="store_true",
                        help=f"softmax readouts of {N_OUT}, batches of {BATCH}: ours beside bsshslm")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "N", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        row = worker(args.worker[0], int(args.worker[1]), int(args.worker[2]), classify=args.classification)
        if row is not None:
            print(json.dumps(row), flush=True)
        return
    sizes = [100, 400] if args.quick else [100, 400, 1600, 6400, 25600]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",") if args.kinds else (["ours", "bsshslm"] if args.classification else list(KINDS))
    layouts = [(1, 1)]
    if not args.no_parallel:
        layouts.append((2, 1))
        if MPI_PYTHON.exists():
            layouts.append((1, 2))
    setting = (f"{N_OUT} softmax readouts (cross-entropy), batches of {BATCH}, time per trial over a batch"
               if args.classification else f"{N_OUT} readouts, one trial")
    print(f"NEST 3.10, recurrent e-prop LIF, {N_IN} Poisson inputs, {setting} of {STEPS} steps; "
          f"in-degree all-to-all up to N = {FULL_UP_TO}, {IN_DEGREE} above")
    print(f"{'N':>6} {'threads x procs':>15} {'model':>10} {'s/trial':>9} {'build s':>8} {'B/syn':>7} "
          f"{'/ fastest native':>16} {'/ static':>9} {'Hz':>6}")
    for n in sizes:
        for threads, processes in layouts:
            rows = {kind: _measure(kind, n, threads, processes, args.classification) for kind in kinds}
            native = [rows[k]["trial_s"] for k in ("eprop_iaf", "bsshslm") if "trial_s" in rows.get(k, {})]
            static = rows.get("static", {}).get("trial_s")
            for kind in kinds:
                row = rows[kind]
                if "error" in row:
                    print(f"{n:>6} {f'{threads} x {processes}':>15} {kind:>10}  failed: {row['error']}")
                    continue
                versus_native = f"{row['trial_s'] / min(native):.2f}" if native else "--"
                versus_static = f"{row['trial_s'] / static:.2f}" if static else "--"
                print(f"{n:>6} {f'{threads} x {processes}':>15} {kind:>10} {row['trial_s']:>9.4f} "
                      f"{row['build_s']:>8.2f} {row['bytes_per_synapse']:>7.1f} {versus_native:>16} "
                      f"{versus_static:>9} {row['spikes'] / n / (STEPS / 1000):>6.1f}", flush=True)


if __name__ == "__main__":
    main()
