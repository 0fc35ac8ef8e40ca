"""The learning circuit: groups, synapses, learning-signal pathways and the schedule that
make a stack of layers learn with a rule, written once for every client (the
stand-alone :class:`brian2_ostl.Brian2Network` and the PyNN layer).

Schedule (Brian2's ``groups`` slot, ordered by ``order``; monitors record in ``end``):

====================  ===============================================================
order                 what
====================  ===============================================================
-10                   trial start (if trials are set): reset states and traces
0                     input neurons read ``x^t`` (TimedArray input)
10 (l+1)              synapses sum the input and recurrent currents of layer ``l``
10 (l+1) + 5          layer ``l`` advances one step (cell statements, factors)
10 (k+1) .. + 7       readout: currents, potential, output, loss, error
1000 + depth          learning signals, top layer first, then down the layers
2000                  synapses and neurons: traces, gradients, online/trial-end updates
====================  ===============================================================

Presynaptic input comes either from a group with a per-step variable (``x`` of the
TimedArray input, ``y`` of a layer; same step) or from spike events (a
``SpikeGeneratorGroup``: a spike at time ``t`` enters the postsynaptic layer at step
``t + dt``, the minimum synaptic delay).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ostl.errors import ParameterError

from .synapses import (
    adam_state_model,
    eligibility_model,
    eligibility_update,
    learning_update,
    optimizer_namespace,
    optimizer_statements,
)

ORDER_TRIAL_START = -10
ORDER_INPUT = 0
ORDER_SIGNALS = 1000
ORDER_LEARNING = 2000

READOUT_MODEL = """
potential : 1          # a^t = leak a^{t-1} + sum_j W_out y_j^t + b_out
readout_input : 1      # sum_j W_out y_j^t, summed by the readout synapses
bias : 1               # b_out
output : 1             # readout output (linear, sigmoid or softmax of a)
target : 1             # y*^t
loss_mask : 1          # m^t
error : 1              # delta^t = m^t (output - target) = dE^t/da^t
step_loss : 1          # m^t E^t, this neuron's share
loss : 1               # sum_t of step_loss
normalizer : 1         # softmax: sum_k exp(a_k)
ones_filtered : 1      # the readout bias's eligibility
bias_gradient : 1
"""


def connection_indices(n_pre, n_post, autapses=True):
    """``(i, j)`` of every synapse of an all-to-all ``Synapses.connect()`` in Brian2's
    creation order (presynaptic index outer); without autapses ``i == j`` is skipped."""
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    i, j = i.ravel(), j.ravel()
    if not autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def layer_model(cell_tr, regularised=False):
    """Equations of a layer group: the cell's, plus the per-neuron parameter's learning
    state (gradient, filtered trace, Adam moments); ``regularised``: the firing-rate
    regulariser's sums (:mod:`ostl.regularisation`)."""
    model = cell_tr.model()
    pname = cell_tr.neuron_param
    if pname is not None:
        model += f"{pname}_trace_filtered : 1\n{pname}_gradient : 1\n" + adam_state_model(f"{pname}_")
    if regularised:
        model += "output_sum : 1  # sum_t y^t (the firing-rate regulariser's rate)\n"
        if pname is not None:
            model += f"{pname}_trace_sum : 1  # sum_t e^t, unfiltered (the regulariser's gradient)\n"
    return model


def readout_model():
    """The readout NeuronGroup's model: the leaky readout and the Adam state of its bias."""
    return READOUT_MODEL + adam_state_model("bias_")


def exact_ieee_compilation(b2):
    """IEEE arithmetic: Brian2's default -ffast-math reassociates sums and fused
    multiply-adds round differently from NumPy's separate operations; both let results
    drift from the reference engine. Exactness is worth the few percent."""
    b2.prefs.codegen.cpp.extra_compile_args_gcc = [
        flag for flag in b2.prefs.codegen.cpp.extra_compile_args_gcc
        if flag not in ("-ffast-math", "-ffp-contract=fast")] + ["-ffp-contract=off"]


@dataclass
class LayerSpec:
    """One hidden layer as Brian2 objects: its NeuronGroup, the cell's translation and the reference engine's names."""

    group: object  # brian2.NeuronGroup with layer_model(cell_tr)
    cell_tr: object  # brian2_ostl.cells translation
    prefix: str  # 'layer{l}' (parameter names)
    ostl_neuron_param: str = None  # reference-engine name of the neuron parameter
    recurrent: bool = False
    autapses: bool = True


@dataclass
class Circuit:
    """Everything the builder created (the client adds the objects to its network)."""

    objects: list = field(default_factory=list)
    synapses: dict = field(default_factory=dict)  # parameter name -> Synapses
    indices: dict = field(default_factory=dict)  # parameter name -> (i, j)
    feedback_synapses: dict = field(default_factory=dict)


def build_circuit(b2, input_group, input_kind, layers, readout, readout_spec, rule, trainable, feedback, mode,
                  optimizer, namespace, trial_steps=None, verify_order=True, store_traces=(), regularisation=None):
    """Add the learning machinery to existing groups.

    ``input_kind`` is ``'values'`` (the group has a per-step variable ``x``) or
    ``'events'`` (spike events). ``readout_spec`` is the ``ostl.network.Readout``.
    ``store_traces`` names the plastic parameters whose eligibility trace is kept as
    a synaptic variable (to record it); elsewhere it is a temporary of the step.
    ``optimizer`` acts inside the simulation in ``online`` mode and, with
    ``trial_steps``, at every trial's end in ``deferred`` mode. ``namespace`` (a dict
    shared with the groups, which must have been created with it) receives the
    constants the code refers to; every object created here uses it. ``regularisation``: a
    :class:`~ostl.regularisation.FiringRateRegularisation` (or None); the groups (made with
    ``layer_model(..., regularised=True)``) and plastic synapses sum ``y^t`` and the unfiltered
    ``e^t`` over the trial (``output_sum``, ``trace_sum``); with ``trial_steps`` the gradient
    gains ``r_j trace_sum`` at each trial's end inside the simulation, without it the client
    adds it after the run (:meth:`brian2_ostl.Brian2Network._regularise`)."""
    circuit = Circuit()
    regularised = regularisation is not None
    if regularised:
        regularisation.check_mode(mode)
    if regularised and trial_steps is not None:
        namespace.update(c_reg=regularisation.c_reg, f_target=regularisation.f_target)
    leak = readout_spec.leak
    in_sim = mode == "online" or trial_steps is not None
    namespace.update(leak=leak)
    if in_sim:
        namespace.update(optimizer_namespace(optimizer))
    if trial_steps is not None:
        namespace.update(trial_steps=int(trial_steps))
    update_mode = mode if trial_steps is None else ("online" if mode == "online" else "trial")
    # per-synapse Adam moments only where Adam runs inside the simulation
    synapse_optimizer = optimizer.name if in_sim else None
    k = len(layers)

    def connect(syn, autapses=True):
        syn.connect(condition=None if autapses else "i != j")
        indices = connection_indices(len(syn.source), len(syn.target), autapses)
        if verify_order and not (np.array_equal(syn.i[:], indices[0]) and np.array_equal(syn.j[:], indices[1])):
            raise RuntimeError(f"unexpected synapse order in {syn.name}")  # pragma: no cover
        return indices

    def reset_on_trial_start(obj, variables):
        if trial_steps is not None and variables:
            obj.run_regularly("\n".join(f"{v} = 0" for v in variables), dt=trial_steps * b2.ms, when="groups",
                              order=ORDER_TRIAL_START)

    # -- layers --------------------------------------------------------------------------
    pre_group, pre_var = input_group, ("x" if input_kind == "values" else None)
    for index, spec in enumerate(layers):
        group, cell_tr = spec.group, spec.cell_tr
        update = cell_tr.update()
        if index == k - 1:  # the layer the readout reads: its filtered output
            update += "output_filtered = leak*output_filtered + y\n"
        if regularised:
            update += "output_sum += y\n"
        group.run_regularly(update, when="groups", order=10 * (index + 1) + 5)
        for name, value in cell_tr.initial_values().items():
            setattr(group, name, value)
        pname = cell_tr.neuron_param
        reset_on_trial_start(group, cell_tr.dynamic_variables() + ([f"{pname}_trace_filtered"] if pname else [])
                             + (["output_sum"] + ([f"{pname}_trace_sum"] if pname else []) if regularised else []))
        full = f"{spec.prefix}.{spec.ostl_neuron_param}" if spec.ostl_neuron_param else None
        if full in trainable:
            pname = cell_tr.neuron_param
            trace = f"{pname}_eligibility_trace"
            code = learning_update(trace, "learning_signal", leak, update_mode, optimizer, weight=pname,
                                   state_prefix=f"{pname}_", gradient=f"{pname}_gradient",
                                   regulariser=(f"{pname}_trace_sum", "output_sum") if regularised else None)
            if leak:
                code = code.replace(f"{trace}_filtered", f"{pname}_trace_filtered")
            group.run_regularly(code, when="groups", order=ORDER_LEARNING)
        chain = index > 0 and rule.feedback == "symmetric"
        _plastic(b2, circuit, connect, reset_on_trial_start, pre_group, group, pre_var, "input_current", cell_tr,
                 f"{spec.prefix}.W", index, k, leak, update_mode, optimizer, trainable, namespace, store_traces,
                 chain_down=chain, regularised=regularised)
        if spec.recurrent:
            _plastic(b2, circuit, connect, reset_on_trial_start, group, group, "y", "recurrent_current", cell_tr,
                     f"{spec.prefix}.H", index, k, leak, update_mode, optimizer, trainable, namespace, store_traces,
                     recurrent=True, autapses=spec.autapses, regularised=regularised)
        pre_group, pre_var = group, "y"

    # -- readout -------------------------------------------------------------------------
    order = 10 * (k + 1)
    readout.run_regularly("""
potential = leak*potential + readout_input + bias
target = target_values(t, i)
loss_mask = mask_values(t)
ones_filtered = leak*ones_filtered + 1
""", when="groups", order=order + 5)
    if readout_spec.activation == "linear":
        out = "output = potential\nstep_loss = loss_mask*0.5*(potential - target)**2"
    elif readout_spec.activation == "sigmoid":
        out = ("output = 1/(1 + exp(-potential))\n"
               "step_loss = loss_mask*(target*log(1 + exp(-potential)) + (1 - target)*log(1 + exp(potential)))")
    else:
        out = "output = exp(potential)/normalizer\nstep_loss = -loss_mask*target*(potential - log(normalizer))"
    readout.run_regularly(out + "\nerror = loss_mask*(output - target)\nloss += step_loss", when="groups",
                          order=order + 7)
    reset_on_trial_start(readout, ["potential", "ones_filtered", "output", "error"])
    if readout_spec.activation == "softmax":
        norm = b2.Synapses(readout, readout, "normalizer_post = exp(potential_pre) : 1 (summed)",
                           name=f"{readout.name}_normalizer", namespace=namespace,
                           clock=readout.clock)
        connect(norm)
        norm.summed_updaters["normalizer_post"].order = order + 6
        circuit.objects.append(norm)
    model = "weight : 1  # readout weight W_out\nreadout_input_post = weight*y_pre : 1 (summed)\ngradient : 1\n" \
        + (adam_state_model() if synapse_optimizer == "adam" else "")
    if rule.feedback == "symmetric":
        model += "learning_signal_pre = weight*error_post : 1 (summed)\n"
    top = layers[-1].group
    syn = b2.Synapses(top, readout, model, name=f"{readout.name}_W", namespace=namespace, clock=readout.clock)
    circuit.indices["readout.W"] = connect(syn)
    syn.summed_updaters["readout_input_post"].order = order
    if rule.feedback == "symmetric":
        syn.summed_updaters["learning_signal_pre"].order = ORDER_SIGNALS
    if "readout.W" in trainable:
        syn.run_regularly(_gradient_code("error_post*output_filtered_pre", update_mode, optimizer, "weight", "",
                                         "gradient", rate="readout_lr"), when="groups", order=ORDER_LEARNING)
    circuit.synapses["readout.W"] = syn
    circuit.objects.append(syn)
    if readout_spec.bias and "readout.b" in trainable:
        readout.run_regularly(_gradient_code("error*ones_filtered", update_mode, optimizer, "bias", "bias_",
                                             "bias_gradient", rate="readout_lr"), when="groups", order=ORDER_LEARNING)

    # -- learning-signal pathways ----------------------------------------------------------
    kind = rule.feedback
    groups = [spec.group for spec in layers]

    def pathway(source, target, name, expression, matrix, signal_order):
        syn = b2.Synapses(source, target, "weight : 1  # fixed feedback weight (the matrix B)\n"
                                          f"learning_signal_post = weight*{expression} : 1 (summed)", name=name,
                          namespace=namespace, clock=target.clock)
        i, j = connect(syn)
        syn.weight = matrix[j, i]
        syn.summed_updaters["learning_signal_post"].order = signal_order
        circuit.feedback_synapses[name] = syn
        circuit.objects.append(syn)

    if kind == "random":
        pathway(readout, groups[-1], "feedback_readout", "error_pre", feedback["feedback.readout"], ORDER_SIGNALS)
        for index in range(k - 1, 0, -1):
            pathway(groups[index], groups[index - 1], f"feedback_layer{index}", "learning_signal_pre*slope_pre",
                    feedback[f"feedback.layer{index}"], ORDER_SIGNALS + k - index)
    elif kind == "random_direct":
        for index in range(k):
            pathway(readout, groups[index], f"feedback_layer{index}", "error_pre", feedback[f"feedback.layer{index}"],
                    ORDER_SIGNALS)
    elif kind == "target_projection":
        for index in range(k):
            pathway(readout, groups[index], f"feedback_layer{index}", "loss_mask_pre*target_pre",
                    feedback[f"feedback.layer{index}"], ORDER_SIGNALS)
    # Adam's bias-correction powers start at beta^0 = 1 (clients with state override them)
    for obj in [*(spec.group for spec in layers), readout, *circuit.synapses.values()]:
        for name in obj.variables:
            if name.endswith("adam_beta1_power") or name.endswith("adam_beta2_power"):
                setattr(obj, name, "1.0")  # a string expression also works in standalone mode
    return circuit


def _gradient_code(step_gradient, update_mode, optimizer, weight, prefix, gradient, rate="lr"):
    code = f"step_gradient = {step_gradient}\n{gradient} += step_gradient\n"
    if update_mode == "online":
        code += optimizer_statements(optimizer, weight, prefix, rate=rate)
    elif update_mode == "trial":
        code += optimizer_statements(optimizer, weight, prefix, gradient=gradient, gated=True, rate=rate)
    return code


def _plastic(b2, circuit, connect, reset_on_trial_start, source, target, pre_var, current, cell_tr, name, index, k,
             leak, update_mode, optimizer, trainable, namespace, store_traces, chain_down=False, recurrent=False,
             autapses=True, regularised=False):
    """A plastic projection with its own eligibility vectors."""
    events = pre_var is None
    activity = "presynaptic_activity" if events else f"{pre_var}_pre"
    model = "weight : 1  # synaptic weight\n"
    if events:
        model += "presynaptic_activity : 1  # 1 in the step after a presynaptic spike\n"
    model += f"{current}_post = weight*{activity} : 1 (summed)\n"
    trained = name in trainable
    if trained:
        in_sim = update_mode != "deferred"   # per-synapse Adam moments only where Adam runs in the simulation
        model += eligibility_model(cell_tr, leak, optimizer.name if in_sim else None,
                                   store_trace=name in store_traces)
        if regularised:
            model += "trace_sum : 1  # sum_t e^t, unfiltered (the firing-rate regulariser's gradient)\n"
    if chain_down:
        model += "learning_signal_pre = weight*learning_signal_post*slope_post : 1 (summed)\n"
    syn = b2.Synapses(source, target, model, on_pre="presynaptic_activity = 1" if events else None,
                      name=name.replace(".", "_"), namespace=namespace, clock=target.clock)
    circuit.indices[name] = connect(syn, autapses=not recurrent or autapses)
    syn.summed_updaters[f"{current}_post"].order = 10 * (index + 1)
    if chain_down:
        syn.summed_updaters["learning_signal_pre"].order = ORDER_SIGNALS + (k - index)
    code = ""
    if trained:
        presynaptic = "y_prev_pre" if recurrent else activity
        code = eligibility_update(cell_tr, presynaptic) + "\n" + learning_update(
            "eligibility_trace", "learning_signal_post", leak, update_mode, optimizer, weight="weight",
            regulariser=("trace_sum", "output_sum_post") if regularised else None)
        reset_on_trial_start(syn, [f"eligibility_vector{label}" for label in cell_tr.state_labels]
                             + (["eligibility_trace"] if name in store_traces else [])
                             + (["eligibility_trace_filtered"] if leak else [])
                             + (["trace_sum"] if regularised else []))
    if events:
        code += "\npresynaptic_activity = 0"
    if code:
        syn.run_regularly(code, when="groups", order=ORDER_LEARNING)
    circuit.synapses[name] = syn
    circuit.objects.append(syn)
    return syn


def check_trial_steps(trial_steps):
    """Refuse a trial length below one step (``trial_duration`` in steps, or None)."""
    if trial_steps is not None and int(trial_steps) < 1:
        raise ParameterError(f"trial_duration must be at least one step, got {trial_steps}")
