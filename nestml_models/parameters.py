"""The NEST models and their parameters for an ostl network: which ``*_learning`` neuron model a
reference cell becomes, and the parameter dictionaries of hidden neurons, readouts and
``ostl_synapse`` models (NEST's e-prop names where NEST has them), with the trial geometry's
constants. Used by :class:`nestml_models.network.NestNetwork` and :mod:`pyNN_ostl.nest`."""

from __future__ import annotations

from ostl.errors import ParameterError

from .generate import CELL_MODELS as CELL_MODELS_BY_NAME

HIDDEN_FIRST_STEP = 2   # update index of the first hidden layer's first trial step
PAUSE_STEPS = 4         # >= 2 for the learning signals; 4 lets run_trial stop inside the pause
TARGET_PORT, MASK_PORT = 0, 1   # receptor types of readout_neuron's continuous ports


#: reference cell class -> NEST model (the NESTML models generated from it, nestml_models.generate)
CELL_MODELS = {type(cell): model for model, cell in CELL_MODELS_BY_NAME.items()}


def neuron_model(cell, keep_reset_path):
    """NEST model name (without ``_learning``) and parameters of an ostl cell: the numbers
    of the cell's spec under their own names, and each choice (``pseudo``, ``activation``) by
    name with its numbers prefixed (``pseudo_slope``, ``activation_alpha``). The per-neuron
    parameter (``bias``, ``threshold``) is not among them: it is set per neuron."""
    model = CELL_MODELS.get(type(cell))
    if model is None:
        raise ParameterError(f"cell {cell.kind!r} has no NEST model")
    params = {"keep_reset_path": float(keep_reset_path)}
    for key, value in cell.spec().items():
        if key in ("kind", "output", cell.neuron_param):
            continue
        if isinstance(value, dict):
            params[key] = value["name"]
            params.update({f"{key}_{name}": number for name, number in value.items() if name != "name"})
        else:
            params[key] = value
    return model, params


def hidden_parameters(cell, rule, first_step, leak, geometry, regularisation=None):
    """NEST model and parameters of a hidden layer's learning neurons for ``rule`` (its
    traces decide ``keep_reset_path``); ``leak``: the readout's, which filters the traces;
    ``regularisation``: a :class:`~ostl.regularisation.FiringRateRegularisation` or None (the
    neurons' ``c_reg`` and ``f_target`` in Hz, NEST's e-prop names)."""
    model, params = neuron_model(cell, keep_reset_path=rule.keep_reset_path)
    params = dict(params, first_step=first_step, readout_leak=leak, **geometry)
    if regularisation is not None:
        params.update(regularisation_parameters(regularisation))
    return f"{model}_learning", params


def regularisation_parameters(regularisation):
    """A hidden learning neuron's ``c_reg`` and ``f_target`` (Hz, at the 1 ms step of every
    backend) for a :class:`~ostl.regularisation.FiringRateRegularisation`."""
    from ostl.regularisation import STEP_MS

    return {"c_reg": float(regularisation.c_reg), "f_target": float(regularisation.f_target) * 1000.0 / STEP_MS}


def readout_parameters(activation, leak, rule, first_step, geometry):
    """Parameters of ``readout_neuron_learning``: it sends its error, or for OSTTP its masked
    target, as the learning signal; target and mask come through its continuous ports."""
    return dict(geometry, leak=leak, activation=activation, use_mask=1, first_step=first_step,
                learning_signal=rule.signal_source)


def synapse_defaults(optimizer, name=None, batch_size=1):
    """The common properties of ``ostl_synapse`` for an ostl optimiser (SGD or Adam), in
    NEST's e-prop convention (an ``optimizer`` dictionary); ``name``: the parameter the synapses
    hold, whose rate it is (SGD's ``readout_lr`` for ``readout.W``); ``batch_size``: trials per
    update (the average of their gradients is applied after the last)."""
    rate = optimizer.lr if name is None else optimizer.rate(name)
    settings = {"type": "adam" if optimizer.name == "adam" else "gradient_descent", "eta": rate,
                "batch_size": int(batch_size)}
    if optimizer.name == "adam":
        settings.update(beta_1=optimizer.beta1, beta_2=optimizer.beta2, epsilon=optimizer.eps)
    if optimizer.w_min is not None:
        settings["Wmin"] = optimizer.w_min
    if optimizer.w_max is not None:
        settings["Wmax"] = optimizer.w_max
    return {"optimizer": settings}


def neuron_optimizer_settings(optimizer, name, batch_size=1):
    """The ``bias_optimizer`` / ``neuron_param_optimizer`` of the neurons that learn parameter
    ``name`` themselves: the synapses' settings at that parameter's rate, without weight bounds
    (``ostl.optim``'s bounds are the weights')."""
    settings = synapse_defaults(optimizer, name, batch_size)["optimizer"]
    settings.pop("Wmin", None)
    settings.pop("Wmax", None)
    return settings


#: the readout's plastic synapses when they learn at a rate of their own (SGD's readout_lr): a copy of
#: ``ostl_synapse`` (NEST's CopyModel; its common properties hold one optimiser)
READOUT_MODEL = "ostl_readout_synapse"


#: pyNN_ostl.nest's ReadoutSynapse model (a labelled copy of ostl_synapse)
PYNN_READOUT_MODEL = "ostl_pynn_readout_synapse_lbl"


def pause_steps_for(depth, softmax=False):
    """The fewest pause steps after each trial of a network of ``depth`` hidden layers: the
    readout's trial ends ``depth`` updates after the first layer's, its last learning signal
    arrives one later (a softmax readout's one more), and the deepest-lagging layer's last update
    completes in time for :meth:`NestNetwork.run_trial` to read it (4 for one layer)."""
    return depth + 3 + int(bool(softmax))
