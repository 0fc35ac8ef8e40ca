"""Default task / network / optimiser settings used by ``ostl train``.

The defaults follow the papers where they say something and were checked to learn:

* pattern generation: a leaky readout (leak 0.8, e-prop eq. 41) on one layer of SNUs (d = 0.9, pseudo-derivative
  1 - tanh^2) for
  the OSTL-family rules -- a feed-forward layer, where OSTL is exact at O(n^2) --
  and a recurrent layer of LIF neurons (tau_m = 20 ms, piecewise-linear pseudo-
  derivative, gamma = 0.3) for e-prop, as in Bellec et al.;
* store-recall and evidence accumulation: adaptive (ALIF) neurons, which carry the
  working memory these tasks need (e-prop Fig. 2-3). Evidence accumulation follows NEST's
  example (``eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py``, after
  Bellec et al.): 100 recurrent neurons, v_th = 0.6, tau_a = 2000 ms and the threshold step
  per spike ``beta = 1.7 (1 - e^{-1/2000}) / (1 - e^{-1/20})`` (NEST's ``adapt_beta``: with
  ``a^t = rho a^{t-1} + z^{t-1}`` a beta of order 1 would silence a neuron for seconds after
  one spike, and nothing was learned: 37.5 % after 2,400 trials), firing-rate regularisation
  c_reg = 300 towards 10 Hz (NEST's values; on the backends that have it), Adam 5e-3, batches
  of 32, 50 iterations (1,600 trials, NEST's example), and e-prop as the default rule (the
  task's recurrent layer; OSTL's default, exact traces on a feed-forward layer, measured 54 %
  over the last 10 batches, w/o H on a recurrent layer 58 %, e-prop 72 %);
* JSB chorales (OSTL S7): one feed-forward layer of 150 SNUs (step output, g identity,
  d = 0.4) and 88 sigmoid readouts, plain SGD, for every rule (the paper trains all
  rules on the same feed-forward layer, where OSTL is exact at O(n^2)). The paper's
  learning rate (5e-4) is for its loss normalisation; ours is the summed loss of one
  chorale (keys and steps), for which 1e-3 is the best of 3e-4, 1e-3, 3e-3 after 10 epochs;
* spoken digits (OSTTP, SHD setting): one recurrent layer of 450 soft-reset SNUs (d = 0.95,
  pseudo-derivative 1/(100|x| + 1)^2), 20 leaky readouts, Adam. The paper's readout leak
  0.99 and learning rate 2e-4 go with its 200 epochs; with a loss at every step of the
  800 ms window a 0.99 readout saturates here, so the readout leak is 0.9 and Adam's rate
  3e-4 (measured on the CI-sized set, tests/test_real_data.py). Exact traces
  of a recurrent layer cost O(n^4) per step (n = 450: out of reach), so the OSTL-family
  rules run here with OSTL's traces w/o H (``traces = 'no_h'``, as in the paper's
  recurrent experiments) unless ``--traces`` says otherwise;
* rate-coded digits (OSTL S7): two feed-forward layers of sSNUs (sigmoid output, leaky
  ReLU g with slope 0.01, d = 0.9) and a softmax readout, SGD. The biases start at -3
  (with the cell default 0 every sigmoid unit starts above one half, its reset factor
  ``1 - y`` near zero, and neither OSTL nor BPTT learns).

Exact recurrent OSTL costs O(n^4) per step; the defaults therefore make a layer
recurrent only for rules whose traces are local (``ostl_no_h``, ``eprop``). Ask for
``recurrent=True`` explicitly to get exact recurrent OSTL.
"""

from __future__ import annotations

import math

from .cells import make_cell
from .gated import GATED_CELLS, GatedLayer
from .network import Layer, Network, Readout
from .rules import make_rule
from .tasks import make_task

#: NEST's example's adaptation step (adapt_beta) for tau_a = 2000 ms, tau_m = 20 ms, 1 ms steps
_NEST_ADAPT_BETA = 1.7 * (1.0 - math.exp(-1.0 / 2000.0)) / (1.0 - math.exp(-1.0 / 20.0))

TASK_DEFAULTS = {
    "pattern_generation": {"cell": {"kind": "snu", "decay": 0.9, "pseudo": "tanh"},
                           "eprop_cell": {"kind": "lif", "tau_m": 20.0, "v_th": 0.6},
                           "readout_leak": 0.8, "hidden": 64, "iterations": 200, "lr": 0.01, "batch_size": 1},
    "store_recall": {"cell": {"kind": "alif", "tau_m": 20.0, "tau_a": 400.0, "beta": 1.0, "v_th": 0.5},
                     "hidden": 50, "iterations": 300, "lr": 0.01, "batch_size": 8},
    "evidence_accumulation": {"cell": {"kind": "alif", "tau_m": 20.0, "tau_a": 2000.0, "beta": _NEST_ADAPT_BETA,
                                       "v_th": 0.6},
                              "hidden": 100, "iterations": 50, "lr": 0.005, "batch_size": 32, "rule": "eprop",
                              "regularisation": {"c_reg": 300.0, "f_target_hz": 10.0}},
    "jsb": {"cell": {"kind": "snu", "decay": 0.4, "activation": "identity", "output": "step", "pseudo": "tanh"},
            "hidden": 150, "recurrent": False, "epochs": 10, "optimizer": "sgd", "lr": 0.001, "batch_size": 1},
    "digits": {"cell": {"kind": "snu", "decay": 0.9, "activation": {"name": "leaky_relu", "alpha": 0.01},
                        "output": "sigmoid"},
               "hidden": 256, "layers": 2, "recurrent": False, "epochs": 10, "optimizer": "sgd", "lr": 0.03,
               "batch_size": 1, "init": {"weight_scale": 3.0, "neuron_param": -3.0}},
    "spoken_digits": {"cell": {"kind": "soft_snu", "decay": 0.95, "pseudo": {"name": "fast_sigmoid", "slope": 100.0},
                               "threshold": 1.0},
                      "hidden": 450, "recurrent": True, "traces": "no_h", "readout_leak": 0.9, "epochs": 20,
                      "optimizer": "adam", "lr": 0.0003, "batch_size": 1, "init": {"weight_scale": 1.0}},
}

INIT_DEFAULTS = {"weight_scale": 2.0, "recurrent_scale": 1.0, "readout_scale": 1.0}


def init_for(task_name):
    """Initialisation keywords of :meth:`ostl.network.Network.init_params` for a task."""
    return dict(INIT_DEFAULTS, **TASK_DEFAULTS[task_name].get("init", {}))


def default_cell(task_name, rule_name):
    """The cell of a task's network under ``rule_name`` (e-prop's own cell where the task names one)."""
    defaults = TASK_DEFAULTS[task_name]
    if rule_name == "eprop" and "eprop_cell" in defaults:
        return defaults["eprop_cell"]
    return defaults["cell"]


def build_network(task, rule, cell=None, hidden=None, recurrent=None, layers=None):
    """Network for ``task`` (object or spec) trained with ``rule``: ``layers`` hidden layers
    (default: the task's) of ``hidden`` neurons each."""
    task = make_task(task)
    rule = make_rule(rule)
    defaults = TASK_DEFAULTS[task.name]
    hidden = defaults["hidden"] if hidden is None else hidden
    depth = defaults.get("layers", 1) if layers is None else layers
    readout = Readout(task.n_out, activation=task.readout_activation, leak=defaults.get("readout_leak", 0.0))
    kind = cell.get("kind") if isinstance(cell, dict) else cell
    if kind in GATED_CELLS:   # LSTM / GRU: recurrent by construction
        return Network(task.n_in, [GatedLayer(hidden, kind) for _ in range(depth)], readout)
    cell = make_cell(cell if cell is not None else default_cell(task.name, rule.name))
    if recurrent is None:
        recurrent = defaults.get("recurrent", rule.traces != "exact")
    return Network(task.n_in, [Layer(hidden, cell, recurrent=recurrent) for _ in range(depth)], readout)


def default_regularisation(task_name):
    """The task's default firing-rate regulariser (``{"c_reg": ..., "f_target": ...}``, spikes per
    step), or None."""
    from .regularisation import FiringRateRegularisation

    spec = TASK_DEFAULTS[task_name].get("regularisation")
    return None if spec is None else FiringRateRegularisation.from_hz(spec["c_reg"], spec["f_target_hz"]).spec()


def default_iterations(task, batch_size):
    """Training length of ``ostl train`` without --iterations/--epochs."""
    defaults = TASK_DEFAULTS[task.name]
    if task.has_epochs:
        return defaults["epochs"] * task.iterations_per_epoch(batch_size)
    return defaults["iterations"]
