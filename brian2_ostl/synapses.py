"""Brian2 synapse models: plastic synapses that keep their own eligibility vector,
readout synapses, and learning-signal (feedback) pathways.

A plastic synapse ``i -> j`` of a layer of cells with state size ``d`` keeps

* ``eligibility_vector`` (and ``eligibility_vector_a``, the adaptation component, for ALIF):
  ``eps^t = J_j^t eps^{t-1} + c_j^t x_i^t`` (OSTL eq. 14; e-prop eq. 22, 27),
* ``eligibility_trace`` ``e^t = q_j^t . eps^t`` (OSTL eq. 12; e-prop eq. 23, 28), filtered
  with the readout leak when the readout is leaky (e-prop eq. 45),
* ``gradient`` -- the sum of ``L_j^t e^t`` (deferred updates), and with online Adam its
  moments.

``J``, ``c``, ``q`` and ``L`` are variables of the postsynaptic neuron (see
:mod:`brian2_ostl.cells`); ``x_i`` is the presynaptic output of the same step (feed-forward)
or of the previous step (recurrent).
"""

from __future__ import annotations


def _post(name):
    try:
        float(name)
        return name
    except ValueError:
        return f"{name}_post"


def eligibility_model(cell_tr, leak, optimizer_kind, store_trace=True):
    """Per-synapse learning state. Without ``store_trace`` the trace ``e`` is a
    temporary of the step (one value less to load and store per synapse)."""
    lines = [f"eligibility_vector{label} : 1" for label in cell_tr.state_labels]
    if store_trace:
        lines.append("eligibility_trace : 1          # e = q . eps")
    if leak:
        lines.append("eligibility_trace_filtered : 1 # e filtered with the readout leak")
    lines.append("gradient : 1                   # sum_t L e (the rule's estimate of dE/dw)")
    text = "\n".join(lines) + "\n"
    if optimizer_kind == "adam":
        text += adam_state_model()
    return text


def eligibility_update(cell_tr, presynaptic):
    """Statements advancing the eligibility vector and trace by one step."""
    J, q, c = cell_tr.jacobian_names, cell_tr.output_gain_names, cell_tr.input_gain_names
    labels = cell_tr.state_labels
    d = len(labels)
    code = []
    for a in range(d):
        terms = [f"{_post(J[a][b])}*eligibility_vector{labels[b]}" for b in range(d)]
        if c[a] != "0.0":
            terms.append(presynaptic if c[a] == "1.0" else f"{_post(c[a])}*{presynaptic}")
        target = f"eligibility_vector{labels[a]}" if d == 1 else f"new_eligibility_vector{labels[a]}"
        code.append(f"{target} = " + " + ".join(terms))
    if d > 1:
        code += [f"eligibility_vector{label} = new_eligibility_vector{label}" for label in labels]
    code.append("eligibility_trace = " + " + ".join(
        f"{_post(q[a])}*eligibility_vector{labels[a]}" for a in range(d)))
    return "\n".join(code)


#: 1 at the last step of a trial, else 0 (trials of ``trial_steps`` steps inside one run)
TRIAL_END = "int((timestep(t, dt) + 1) % trial_steps == 0)"


def learning_update(trace, signal, leak, mode, optimizer, weight="weight", state_prefix="", gradient="gradient",
                    regulariser=None):
    """``gradient += L e`` and the optimiser step on ``weight``: every step (``online``),
    at the last step of each trial (``trial``: deferred updates inside the simulation),
    or never (``deferred``: the caller applies the summed gradient).

    ``trace`` is the eligibility expression, ``signal`` the learning-signal expression.
    ``regulariser`` (``trial`` mode): ``(trace sum, summed output)`` variables of the firing-rate
    regulariser; at the trial's last step ``gradient += r trace_sum`` with
    ``r = c_reg (output_sum/T - f_target)/T`` (:mod:`ostl.regularisation`), before the update."""
    code = []
    if regulariser is not None:
        code.append(f"{regulariser[0]} += {trace}")
    if leak:
        code.append(f"{trace}_filtered = leak*{trace}_filtered + {trace}")
        trace = f"{trace}_filtered"
    code.append(f"step_gradient = {signal}*{trace}")
    code.append(f"{gradient} += step_gradient")
    if regulariser is not None and mode == "trial":
        trace_sum, output_sum = regulariser
        code.append(f"{gradient} += {TRIAL_END}*(c_reg*({output_sum}/trial_steps - f_target)/trial_steps)*{trace_sum}")
    if mode == "online":
        code.append(optimizer_statements(optimizer, weight, state_prefix))
    elif mode == "trial":
        code.append(optimizer_statements(optimizer, weight, state_prefix, gradient=gradient, gated=True))
    return "\n".join(code)


def adam_state_model(prefix=""):
    """Adam moments and bias-correction powers of one parameter (per synapse or neuron)."""
    return "".join(f"{prefix}adam_{name} : 1\n" for name in ("m", "v", "beta1_power", "beta2_power"))


def optimizer_statements(optimizer, weight, prefix="", gradient=None, gated=False, rate="lr"):
    """One optimiser step on ``weight`` (ostl.optim, in statements).

    With ``gated``, the step uses the summed ``gradient``, happens only at the last step
    of a trial (``trial_end``), and then clears the sum; written so that it is exactly
    the reference optimiser's arithmetic when it applies and exactly a no-op otherwise
    (state: ``g*(new) + (1 - g)*old``; weight: ``w - (g*rate)*step``). ``prefix`` names the Adam state of
    neuron-level parameters (``bias_adam_m``, ...), which must not clash with synapses'. ``rate``
    names the learning rate's constant (``lr``; the readout's ``readout_lr``)."""
    g = gradient if gated else "step_gradient"

    def assign(var, expression):
        if not gated:
            return f"{var} = {expression}"
        return f"{var} = trial_end*({expression}) + (1 - trial_end)*{var}"

    lines = [f"trial_end = {TRIAL_END}"] if gated else []
    # the weight step: (rate*gate)*...; the gate also keeps every denominator non-zero
    # on steps without an update (1 - beta^0 = 0); with gate 1 both are exact no-ops
    rate = f"(trial_end*{rate})" if gated else rate
    keep = " + (1 - trial_end)" if gated else ""
    if optimizer.name == "sgd":
        lines.append(f"{weight} = {weight} - {rate}*{g}")
    else:
        m, v, p1, p2 = (f"{prefix}adam_{n}" for n in ("m", "v", "beta1_power", "beta2_power"))
        lines += [assign(m, f"adam_beta1*{m} + (1 - adam_beta1)*{g}"),
                  assign(v, f"adam_beta2*{v} + (1 - adam_beta2)*{g}**2"),
                  assign(p1, f"{p1}*adam_beta1"),
                  assign(p2, f"{p2}*adam_beta2"),
                  f"{weight} = {weight} - {rate}*({m}/(1 - {p1}{keep}))/(sqrt({v}/(1 - {p2}{keep})) + adam_epsilon)"]
    if optimizer.bounded and weight == "weight":   # synaptic weights only (NEST's Wmin/Wmax), after the update
        lines.append(assign(weight, f"clip({weight}, w_min, w_max)"))
    if gated:
        lines.append(f"{gradient} = (1 - trial_end)*{gradient}")
    return "\n".join(lines)


#: the largest double: an absent weight bound (clip with it changes no value)
NO_BOUND = 1.7976931348623157e308


def optimizer_namespace(optimizer):
    """The Brian2 names of the optimiser's settings for the update statements: ``lr``, the
    readout's ``readout_lr`` (SGD's readout_lr, :meth:`ostl.optim.SGD.rate`; else ``lr``), the
    weight bounds ``w_min``/``w_max`` (an absent bound: :data:`NO_BOUND`), Adam's betas and epsilon."""
    if optimizer is None:
        return {}
    ns = {"lr": optimizer.lr,
          "readout_lr": optimizer.rate("readout.W"),
          "w_min": -NO_BOUND if optimizer.w_min is None else optimizer.w_min,
          "w_max": NO_BOUND if optimizer.w_max is None else optimizer.w_max}
    if optimizer.name == "adam":
        ns.update(adam_beta1=optimizer.beta1, adam_beta2=optimizer.beta2, adam_epsilon=optimizer.eps)
    return ns
