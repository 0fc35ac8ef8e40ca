"""Pattern generation with OSTL in plain Brian2 (no PyNN): NeuronGroups with the SNU
equations, plastic Synapses that keep their own eligibility vectors, and a learning-signal
pathway from the readout, built with brian2_ostl's building blocks.

    .venv/bin/python examples/brian2_pattern_generation.py [--iterations 100] [--show-equations]

Each iteration is one trial of ``steps`` ms; states reset at every trial start and the
deferred OSTL update (Adam) is applied at every trial's end, inside the simulation.
"""

import argparse

import brian2
import numpy as np
from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, defaultclock, ms, prefs

from brian2_ostl.cells import translate_cell
from brian2_ostl.circuit import LayerSpec, build_circuit, exact_ieee_compilation, layer_model, readout_model
from ostl import SNU, Adam, make_rule
from ostl.network import Readout
from ostl.tasks import PatternGeneration


def main(iterations=100, steps=500, n_hidden=32, show_equations=False, target="numpy"):
    prefs.codegen.target = target
    exact_ieee_compilation(brian2)
    defaultclock.dt = 1 * ms
    task = PatternGeneration(seed=0, n_in=50, n_out=3, steps=steps)
    trial = task.trial(0, 0)
    rule = make_rule("ostl")
    cell = translate_cell(SNU(decay=0.9, pseudo="tanh"), rule.traces)
    namespace = {
        "input_values": TimedArray(np.tile(trial.x, (iterations, 1)), dt=1 * ms),
        "target_values": TimedArray(np.tile(trial.target, (iterations, 1)), dt=1 * ms),
        "mask_values": TimedArray(np.ones(iterations * steps), dt=1 * ms),
    }
    inputs = NeuronGroup(50, "x : 1  # input x^t", namespace=namespace, name="inputs")
    inputs.run_regularly("x = input_values(t, i)", when="groups", order=0)
    hidden = NeuronGroup(n_hidden, layer_model(cell), namespace=namespace, name="hidden")
    readout = NeuronGroup(3, readout_model(), namespace=namespace, name="readout")
    circuit = build_circuit(brian2, inputs, "values", [LayerSpec(hidden, cell, "layer0", "bias")], readout,
                            Readout(3, "linear", leak=0.8), rule, trainable={"layer0.W", "layer0.bias", "readout.W",
                                                                             "readout.b"},
                            feedback={}, mode="deferred", optimizer=Adam(0.01), namespace=namespace,
                            trial_steps=steps)
    rng = np.random.default_rng(1)
    circuit.synapses["layer0.W"].weight = rng.normal(0, 2 / np.sqrt(50), 50 * n_hidden)
    circuit.synapses["readout.W"].weight = rng.normal(0, 0.2 / np.sqrt(n_hidden), n_hidden * 3)
    if show_equations:
        print("hidden neurons:\n" + str(hidden.equations))
        print("one step of the hidden neurons:\n" + cell.update())
        syn = circuit.synapses["layer0.W"]
        print("plastic synapses:\n" + str(syn.equations))
        for runner in syn.contained_objects:
            if hasattr(runner, "abstract_code") and "eligibility" in str(runner.abstract_code):
                print("their statements per step:\n" + str(runner.abstract_code))
    monitor = StateMonitor(readout, "output", record=True, when="end")
    Network(inputs, hidden, readout, *circuit.objects, monitor).run(iterations * steps * ms, namespace={})
    error = (monitor.output[:].T - np.tile(trial.target, (iterations, 1))) ** 2
    mse = error.reshape(iterations, steps, 3).mean(axis=(1, 2))
    print(f"brian2 ({target}): mse {mse[0]:.4f} (iteration 1) -> {mse[-1]:.4f} (iteration {iterations}), "
          f"{mse[0] / mse[-1]:.1f}x lower")
    return mse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--show-equations", action="store_true")
    parser.add_argument("--target", default="numpy", choices=["numpy", "cython"])
    args = parser.parse_args()
    main(args.iterations, show_equations=args.show_equations, target=args.target)
