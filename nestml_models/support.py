"""What the NEST models learn of an ostl network, and what they refuse before anything is built
(each refusal naming the alternative)."""

from __future__ import annotations

from ostl.errors import ParameterError
from ostl.optim import make_optimizer
from ostl.rules import make_rule


def weight_names(network):
    """The weight matrices the NEST synapses learn in ``network``."""
    names = []
    for index, layer in enumerate(network.layers):
        names += [f"layer{index}.W"] + ([f"layer{index}.H"] if layer.recurrent else [])
    return names + ["readout.W"]


def neuron_parameter_names(network):
    """The parameters of ``network`` that NEST's neurons learn themselves: a hidden layer's own
    parameter (SNU ``bias``, soft-reset SNU ``threshold``: ``learn_neuron_param``) where the layer
    trains it, and the readout's bias (``learn_bias``)."""
    names = [f"layer{index}.{layer.cell.neuron_param}" for index, layer in enumerate(network.layers)
             if layer.cell.neuron_param is not None and layer.train_neuron_param]
    return names + (["readout.b"] if network.readout.bias else [])


def learnable_names(network):
    """What NEST learns in ``network``: the weights (its synapses) and the neurons' own parameters."""
    return weight_names(network) + neuron_parameter_names(network)


#: feedback kinds whose learning signal reaches every hidden layer directly from the readouts
DIRECT_FEEDBACK = ("random_direct", "target_projection")


def check_supported(network, rule, mode="deferred", optimizer=None, trainable=None):
    """Refuse, before anything is built, what the NEST models cannot learn exactly."""
    rule = make_rule(rule)
    if rule.is_bptt:
        raise ParameterError("rule 'bptt' is the autodiff oracle of the reference engine, not a simulator rule")
    for index, layer in enumerate(network.layers):
        if layer.kind == "gated":
            raise ParameterError(f"layer {index} is a gated ({layer.cell.kind.upper()}) layer; gated layers are not "
                                 "spiking cells and run on the reference engine only")
    for index, layer in enumerate(network.layers):
        if not layer.stateful:
            raise ParameterError(f"layer {index} is not a layer of spiking cells; the NEST backend learns spiking "
                                 "layers (use the reference engine)")
    if len(network.layers) > 1 and rule.feedback not in DIRECT_FEEDBACK:
        raise ParameterError(f"{len(network.layers)} hidden layers on NEST need each layer's learning signal "
                             f"directly from the readouts: feedback 'random_direct' or 'target_projection' "
                             f"(rule {rule.name!r} has {rule.feedback!r}); feedback through the layers above is "
                             "not local to a synapse (use the reference engine)")
    rule.require_local(network, "the NEST backend")
    if mode != "deferred":
        raise ParameterError("mode must be 'deferred' on NEST: learning signals travel over delayed connections, "
                             "so a per-step update cannot be exact; the weights change at every trial end")
    if optimizer is not None and make_optimizer(optimizer).clip is not None:
        raise ParameterError("gradient clipping needs the norm over all synapses, which no NEST synapse sees; "
                             "use optimizer without clip on the NEST backend")
    names = set(learnable_names(network))
    trainable = set(weight_names(network)) if trainable is None else set(trainable)
    fixed = sorted(trainable - names)
    if fixed:
        raise ParameterError(f"the NEST backend trains {', '.join(sorted(names))}; {', '.join(fixed)} are not "
                             "parameters of this network that it learns: pass trainable without them")
    return rule, trainable
