"""NEST's own evidence-accumulation example, run unchanged beside ours (issue 24, item 8).

The nest-simulator wheel ships ``eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py``
(NEST's e-prop models, 100 recurrent ALIF/LIF neurons, batches of 32, 50 training iterations with
validation and early stopping, 4 test iterations). This script runs it as shipped (plots to a
non-interactive backend; the notebook-only ``IPython.display`` it imports for a figure is replaced
by a stand-in when IPython is absent) and prints its wall time and its error per phase, to set
beside ``ostl train --task evidence_accumulation`` (same trial count: 50 batches of 32):

    .venv/bin/python benchmarks/nest_native_evidence_accumulation.py [--json FILE]
"""

import argparse
import json
import os
import runpy
import sys
import time
import types

import matplotlib

matplotlib.use("Agg")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the per-iteration results here")
    args = parser.parse_args()
    import nest

    path = os.path.join(os.path.dirname(nest.__file__), "doc", "examples", "pynest", "eprop_plasticity",
                        "eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py")
    if not os.path.exists(path):
        sys.exit(f"NEST's example is not in this nest-simulator installation: {path}")
    try:
        import IPython.display  # noqa: F401
    except ImportError:   # used by the example only to show a figure in a notebook (inside try/except)
        ipython = types.ModuleType("IPython")
        ipython.display = types.ModuleType("IPython.display")
        ipython.display.Image = lambda *a, **k: None
        ipython.get_ipython = lambda: None   # what matplotlib asks a loaded IPython: not interactive,
        ipython.version_info = (9, 0, 0)     # and recent (no backend fix-ups)
        sys.modules.update({"IPython": ipython, "IPython.display": ipython.display})
    start = time.perf_counter()
    scope = runpy.run_path(path, run_name="__main__")
    seconds = time.perf_counter() - start
    results = scope["results_dict"]
    labels, errors, losses = list(results["label"]), list(results["error"]), list(results["loss"])
    training = [1.0 - e for label, e in zip(labels, errors) if label == "training"]
    test = [1.0 - e for label, e in zip(labels, errors) if label == "test"]
    summary = {"seconds": round(seconds, 1), "batch_size": int(scope["batch_size"]),
               "training_iterations": len(training), "simulated_iterations": int(scope["n_iter_sim"]),
               "accuracy_last_10_training": round(sum(training[-10:]) / max(len(training[-10:]), 1), 4),
               "accuracy_test": round(sum(test) / max(len(test), 1), 4)}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(summary, label=labels, error=[float(e) for e in errors],
                           loss=[float(v) for v in losses]), handle)


if __name__ == "__main__":
    main()
