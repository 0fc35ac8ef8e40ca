"""NEST plugin benchmark (issue: NEST plugin).

For N = 100, 400, 1600 recurrent LIF neurons (100 frozen Poisson inputs at 50 Hz, one leaky
readout, random feedback, 1 s of biological time = one trial of 1000 steps), prints, measured
in one run:

* NEST wall time of one trial of our ``eprop`` network (the ``lif_neuron_learning`` /
  ``readout_neuron_learning`` models with ``ostl_synapse``);
* the same for NEST's native e-prop (``eprop_iaf_bsshslm_2020``, ``eprop_readout_bsshslm_2020``,
  ``eprop_synapse_bsshslm_2020``) on the same weights and input, mapped so that both networks
  spike identically (nestml_models/native_eprop.py; checked: equal spike counts);
* the same network as ours with ``static_synapse`` everywhere (nothing learned);
* the ratios ours / native (target: at most 1.0) and ours / static (target: at most 2.0).

Every figure is the time of ``nest.Simulate`` for the second trial (the first includes NEST's
preparation), the fastest of ``--repeats`` networks. One thread.

Run:  .venv/bin/python benchmarks/bench_nest.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nestml_models import native_eprop  # noqa: E402
from nestml_models.network import NestNetwork  # noqa: E402

STEPS = native_eprop.STEPS


def time_native(data):
    native = native_eprop.NativeNetwork(data, n_iter=3, record=False)
    recorder = native.nest.Create("spike_recorder")
    native.nest.Connect(native.rec, recorder)
    native.simulate(native.offset_gen + native.delays + STEPS)      # first trial (and preparation)
    spikes = recorder.n_events
    start = time.perf_counter()
    native.simulate(STEPS)
    elapsed = time.perf_counter() - start
    return elapsed, spikes


def time_ours(data, learning):
    net, params, scale, rule, feedback, x, target = native_eprop.reference_setup(data=data)
    lr = native_eprop.ETA * scale["layer0.W"] ** 2   # NEST's eta in the reference parametrisation
    sim = NestNetwork(net, rule, params, STEPS, feedback, {"name": "sgd", "lr": lr},
                      trainable=None if learning else [], record_outputs=False)
    recorder = sim.nest.Create("spike_recorder")
    sim.nest.Connect(sim.hidden, recorder)
    sim.run_trial(x, target)
    count = recorder.n_events
    sim._schedule([sim._check_trial(x, target, None)], sim.trial)
    start = time.perf_counter()
    sim.nest.Simulate(float(sim.period))
    elapsed = time.perf_counter() - start
    return elapsed, count


def best(fn, repeats):
    results = [fn() for _ in range(repeats)]
    return min(r[0] for r in results), results[0][1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 400 only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [100, 400] if args.quick else [100, 400, 1600]
    print(f"NEST, one thread, 1 s of biological time (1000 steps), 100 inputs, fastest of {args.repeats}")
    print(f"{'N':>6} {'ours [s]':>10} {'native [s]':>11} {'static [s]':>11} {'ours/native':>12} {'ours/static':>12}"
          f" {'spikes ours/native':>20}")
    for n in sizes:
        data = native_eprop.draw_data(seed=1, n_rec=n)
        ours, spikes_ours = best(partial(time_ours, data, True), args.repeats)
        native, spikes_native = best(partial(time_native, data), args.repeats)
        static, _ = best(partial(time_ours, data, False), args.repeats)
        print(f"{n:>6} {ours:>10.4f} {native:>11.4f} {static:>11.4f} {ours / native:>12.2f} {ours / static:>12.2f}"
              f" {spikes_ours:>10}/{spikes_native}", flush=True)


if __name__ == "__main__":
    main()
