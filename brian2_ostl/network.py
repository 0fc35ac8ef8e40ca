"""Build and run an :class:`ostl.Network` as Brian2 objects, step for step like the
reference engine (:mod:`ostl.online`).

Schedule (all in Brian2's ``groups`` slot, ordered by ``order``; monitors in ``end``):

====================  ===============================================================
order                 what
====================  ===============================================================
0                     input neurons read ``x^t`` from a TimedArray
10 (l+1)              synapses sum the input and recurrent currents of layer ``l``
10 (l+1) + 5          layer ``l`` advances one step (cell statements, factors)
10 (k+1) .. + 7       readout: currents, potential, output, loss, error
1000 + depth          learning signals, top layer first, then down the layers
2000                  synapses and neurons: traces, gradients, online updates
====================  ===============================================================
"""

from __future__ import annotations

import tempfile

import numpy as np

from ostl.errors import BackendUnavailableError, ParameterError
from ostl.network import Network
from ostl.online import SequenceResult
from ostl.optim import make_optimizer
from ostl.rules import make_rule
from ostl.validation import check_choice, check_int

from .cells import translate_cell
from .synapses import (adam_state_model, eligibility_model, eligibility_update, learning_update, optimizer_namespace,
                       optimizer_statements)

ORDER_INPUT = 0
ORDER_SIGNALS = 1000
ORDER_LEARNING = 2000
TARGETS = ("numpy", "cython", "cpp_standalone")
RECORDABLE = ("state", "output", "eligibility_vector", "eligibility_trace", "learning_signal", "weights")


def _brian2():
    try:
        import brian2
    except ImportError:  # pragma: no cover
        raise BackendUnavailableError("the Brian2 backend needs brian2: pip install 'Brian2==2.9.0'") from None
    return brian2


def connection_indices(n_pre, n_post, autapses=True):
    """``(i, j)`` of every synapse of an all-to-all ``Synapses.connect()`` in Brian2's
    creation order (presynaptic index outer); without autapses ``i == j`` is skipped."""
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    i, j = i.ravel(), j.ravel()
    if not autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def check_supported(network, rule):
    """Refuse what the plugin cannot express, before anything is built."""
    for index, layer in enumerate(network.layers):
        if not layer.stateful:
            raise ParameterError(f"layer {index} is a stateless Dense layer; the Brian2 plugin simulates "
                                 "layers of spiking cells only (use the reference engine for Dense layers)")
        if layer.recurrent and rule.traces == "exact":
            raise ParameterError(
                f"rule {rule.name!r} on the recurrent layer {index} needs exact OSTL traces, which couple every "
                "synapse of the layer through H (O(n^4) per step, not local to a synapse); use the reference "
                "engine (ostl.OnlineLearner) for exact recurrent OSTL, or the local rule 'ostl_no_h' / 'eprop'")


class Brian2Network:
    """An ostl network, rule and parameters as Brian2 objects.

    Parameters
    ----------
    network : ostl.Network
    rule : str or Rule (``ostl``, ``ostl_no_h``, ``ostl_rnd``, ``osttp``, ``eprop``)
    params : dict of initial parameters (as in the reference engine)
    steps : sequence length ``T`` in steps of 1 ms (fixed for one build)
    feedback : dict of fixed feedback matrices (default: drawn like the reference)
    mode : 'deferred' or 'online'
    optimizer : ostl optimizer or spec (required for online mode: applied in-simulator)
    target : 'numpy', 'cython' or 'cpp_standalone'
    record : subset of ``state``, ``output``, ``eligibility_vector``, ``eligibility_trace``,
        ``learning_signal``, ``weights`` (every step, like ``OnlineLearner.run(record=...)``)
    """

    _active_standalone = None  # cpp_standalone: the network whose project the device holds

    def __init__(self, network, rule, params, steps, feedback=None, feedback_seed=0, mode="deferred",
                 optimizer=None, target="numpy", record=(), trainable=None, directory=None):
        b2 = _brian2()
        self.b2 = b2
        self.network = network if isinstance(network, Network) else Network.from_spec(network)
        self.rule = make_rule(rule)
        if self.rule.is_bptt:
            raise ParameterError("rule 'bptt' is the autodiff oracle of the reference engine, not a simulator rule")
        check_supported(self.network, self.rule)
        self.steps = check_int("steps", steps, minimum=1)
        self.mode = check_choice("mode", mode, {"deferred", "online"})
        self.target = check_choice("target", target, set(TARGETS))
        self.optimizer = None if optimizer is None else make_optimizer(optimizer)
        if self.mode == "online":
            if self.optimizer is None:
                raise ParameterError("mode 'online' needs an optimizer (applied inside the simulation)")
            if self.optimizer.clip is not None:
                raise ParameterError("gradient clipping needs the global gradient norm, which is not local to a "
                                     "synapse; use mode 'deferred' with clip, or no clip online")
        record = set(record)
        bad = sorted(record - set(RECORDABLE))
        if bad:
            raise ParameterError(f"record must be a subset of {', '.join(RECORDABLE)}, got {', '.join(bad)}")
        self.record = record
        self.params = self.network.check_params(params)
        if feedback is None:
            feedback = self.rule.make_feedback(self.network, feedback_seed)
        self.feedback = self.rule.check_feedback(self.network, feedback)
        shapes = self.network.param_shapes()
        self.trainable = set(shapes) if trainable is None else set(trainable)
        unknown = sorted(self.trainable - set(shapes))
        if unknown:
            raise ParameterError(f"trainable names unknown parameters {', '.join(unknown)}")
        self.standalone = self.target == "cpp_standalone"
        self._indices = {}  # parameter name -> (i, j) of its synapses
        self._built = False
        self._directory = directory
        self._build()

    # ------------------------------------------------------------------------------------
    def _build(self):
        b2 = self.b2
        if self.standalone:
            # cpp_standalone builds one project per device session: start a fresh one
            from brian2.devices.device import all_devices

            cpp = all_devices["cpp_standalone"]
            if cpp.has_been_run or Brian2Network._active_standalone is not None:
                cpp.reinit()
            self._directory = self._directory or tempfile.mkdtemp(prefix="ostl-brian2-")
            b2.set_device("cpp_standalone", build_on_run=False, directory=self._directory)
            Brian2Network._active_standalone = self
        else:
            b2.set_device("runtime")
            b2.prefs.codegen.target = self.target
        # IEEE arithmetic: Brian2's default -ffast-math reassociates sums and lets
        # results drift from the reference engine; exactness is worth the few percent
        # (and fused multiply-adds round differently from NumPy's separate operations)
        b2.prefs.codegen.cpp.extra_compile_args_gcc = [
            flag for flag in b2.prefs.codegen.cpp.extra_compile_args_gcc
            if flag not in ("-ffast-math", "-ffp-contract=fast")] + ["-ffp-contract=off"]
        b2.defaultclock.dt = 1 * b2.ms
        net, T = self.network, self.steps
        self.namespace = {"leak": net.readout.leak}
        self.namespace.update(optimizer_namespace(self.optimizer if self.mode == "online" else None))
        self.input_values = b2.TimedArray(np.zeros((T, net.n_in)), dt=1 * b2.ms, name="input_values")
        self.target_values = b2.TimedArray(np.zeros((T, net.n_out)), dt=1 * b2.ms, name="target_values")
        self.mask_values = b2.TimedArray(np.zeros(T), dt=1 * b2.ms, name="mask_values")
        for arr in (self.input_values, self.target_values, self.mask_values):
            self.namespace[arr.name] = arr
        objects = []
        self.input = b2.NeuronGroup(net.n_in, "x : 1  # input x^t", name="input_neurons")
        self.input.run_regularly("x = input_values(t, i)", when="groups", order=ORDER_INPUT)
        objects.append(self.input)
        self.layers, self.cells = [], []
        self.synapses = {}  # parameter name -> Synapses
        k = len(net.layers)
        leak = net.readout.leak
        optimizer_kind = self.optimizer.name if (self.mode == "online" and self.optimizer) else None
        pre_group, pre_var = self.input, "x"
        for index, layer in enumerate(net.layers):
            prefix = net.prefix(index)
            cell_tr = translate_cell(layer.cell, self.rule.traces)
            self.cells.append(cell_tr)
            model = cell_tr.model()
            neuron_param = cell_tr.neuron_param
            train_neuron = neuron_param is not None and f"{prefix}.{layer.cell.neuron_param}" in self.trainable
            if train_neuron:
                model += f"{neuron_param}_trace_filtered : 1\n{neuron_param}_gradient : 1\n"
                if optimizer_kind == "adam":
                    model += adam_state_model(f"{neuron_param}_")
            group = b2.NeuronGroup(layer.size, model, name=f"layer{index}")
            update = cell_tr.update()
            if index == k - 1:  # the layer the readout reads: its filtered output
                update += "output_filtered = leak*output_filtered + y\n"
            group.run_regularly(update, when="groups", order=10 * (index + 1) + 5)
            for name, value in cell_tr.initial_values().items():
                setattr(group, name, value)
            if train_neuron:
                trace = f"{neuron_param}_eligibility_trace"
                code = learning_update(trace, "learning_signal", leak, self.mode, self.optimizer,
                                       weight=neuron_param, state_prefix=f"{neuron_param}_").replace("gradient +=", f"{neuron_param}_gradient +=")
                if leak:
                    code = code.replace(f"{trace}_filtered", f"{neuron_param}_trace_filtered")
                group.run_regularly(code, when="groups", order=ORDER_LEARNING)
            objects.append(group)
            self.layers.append(group)
            # feed-forward synapses into this layer
            chain = index > 0 and self.rule.feedback == "symmetric"
            syn = self._plastic(pre_group, group, pre_var, "input_current", cell_tr, f"{prefix}.W", index,
                                chain_down=chain)
            objects.append(syn)
            if layer.recurrent:
                objects.append(self._plastic(group, group, "y", "recurrent_current", cell_tr, f"{prefix}.H",
                                             index, recurrent=True, autapses=layer.autapses))
            pre_group, pre_var = group, "y"
        self.readout = self._readout(pre_group)
        objects.extend(self.readout_objects)
        objects.extend(self._feedback_pathways())
        self.monitors = self._monitors()
        objects.extend(self.monitors.values())
        self.net = b2.Network(objects)
        if not self.standalone:
            self.net.store("initial")
        else:
            self.net.run(self.steps * b2.ms, namespace=self.namespace)
            b2.device.build(directory=self._directory, run=False)
        self._built = True

    def _connect(self, syn, autapses=True):
        """All-to-all connection with known index order (checked against Brian2 at runtime)."""
        syn.connect(condition=None if autapses else "i != j")
        indices = connection_indices(len(syn.source), len(syn.target), autapses)
        if not self.standalone and not (np.array_equal(syn.i[:], indices[0]) and np.array_equal(syn.j[:], indices[1])):
            raise RuntimeError(f"unexpected synapse order in {syn.name}")  # pragma: no cover
        return indices

    def _plastic(self, source, target, pre_var, current, cell_tr, name, index, chain_down=False, recurrent=False,
                 autapses=True):
        b2 = self.b2
        trainable = name in self.trainable
        optimizer_kind = self.optimizer.name if (self.mode == "online" and self.optimizer) else None
        model = f"w : 1  # synaptic weight\n{current}_post = w*{pre_var}_pre : 1 (summed)\n"
        if trainable:
            model += eligibility_model(cell_tr, self.network.readout.leak, optimizer_kind) + "\n"
        if chain_down:
            model += "learning_signal_pre = w*learning_signal_post*slope_post : 1 (summed)\n"
        syn = b2.Synapses(source, target, model, name=name.replace(".", "_"))
        self._indices[name] = self._connect(syn, autapses=not recurrent or autapses)
        syn.summed_updaters[f"{current}_post"].order = 10 * (index + 1)
        if chain_down:
            syn.summed_updaters["learning_signal_pre"].order = ORDER_SIGNALS + (len(self.network.layers) - index)
        if trainable:
            presynaptic = "y_prev_pre" if recurrent else f"{pre_var}_pre"
            code = eligibility_update(cell_tr, presynaptic) + "\n" + learning_update(
                "eligibility_trace", "learning_signal_post", self.network.readout.leak, self.mode, self.optimizer)
            syn.run_regularly(code, when="groups", order=ORDER_LEARNING)
        self.synapses[name] = syn
        return syn

    def _readout(self, top):
        b2 = self.b2
        ro = self.network.readout
        model = """
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
        if ro.bias and "readout.b" in self.trainable and self.mode == "online" and self.optimizer.name == "adam":
            model += adam_state_model("bias_")
        group = b2.NeuronGroup(ro.size, model, name="readout")
        order = 10 * (len(self.network.layers) + 1)
        group.run_regularly("""
potential = leak*potential + readout_input + bias
target = target_values(t, i)
loss_mask = mask_values(t)
ones_filtered = leak*ones_filtered + 1
""", when="groups", order=order + 5)
        if ro.activation == "linear":
            out = "output = potential\nstep_loss = loss_mask*0.5*(potential - target)**2"
        elif ro.activation == "sigmoid":
            out = ("output = 1/(1 + exp(-potential))\n"
                   "step_loss = loss_mask*(target*log(1 + exp(-potential)) + (1 - target)*log(1 + exp(potential)))")
        else:
            out = ("output = exp(potential)/normalizer\n"
                   "step_loss = -loss_mask*target*(potential - log(normalizer))")
        group.run_regularly(out + "\nerror = loss_mask*(output - target)\nloss += step_loss",
                            when="groups", order=order + 7)
        objects = [group]
        if ro.activation == "softmax":
            norm = b2.Synapses(group, group, "normalizer_post = exp(potential_pre) : 1 (summed)",
                               name="readout_normalizer")
            self._connect(norm)
            norm.summed_updaters["normalizer_post"].order = order + 6
            objects.append(norm)
        model = "w : 1  # readout weight W_out\nreadout_input_post = w*y_pre : 1 (summed)\n"
        trainable = "readout.W" in self.trainable
        if trainable:
            model += "gradient : 1\n"
            if self.mode == "online" and self.optimizer.name == "adam":
                model += adam_state_model()
        if self.rule.feedback == "symmetric":
            model += "learning_signal_pre = w*error_post : 1 (summed)\n"
        syn = b2.Synapses(top, group, model, name="readout_W")
        self._indices["readout.W"] = self._connect(syn)
        syn.summed_updaters["readout_input_post"].order = order
        if self.rule.feedback == "symmetric":
            syn.summed_updaters["learning_signal_pre"].order = ORDER_SIGNALS
        if trainable:
            code = "step_gradient = error_post*output_filtered_pre\ngradient += step_gradient\n"
            if self.mode == "online":
                code += optimizer_statements(self.optimizer, "w")
            syn.run_regularly(code, when="groups", order=ORDER_LEARNING)
        if ro.bias and "readout.b" in self.trainable:
            code = "step_gradient = error*ones_filtered\nbias_gradient += step_gradient\n"
            if self.mode == "online":
                code += optimizer_statements(self.optimizer, "bias", "bias_")
            group.run_regularly(code, when="groups", order=ORDER_LEARNING)
        self.synapses["readout.W"] = syn
        objects.append(syn)
        self.readout_objects = objects
        return group

    def _feedback_pathways(self):
        b2 = self.b2
        kind, fb = self.rule.feedback, self.feedback
        objects = []
        k = len(self.network.layers)
        self.feedback_synapses = {}

        def pathway(source, target, name, expression, matrix, order):
            syn = b2.Synapses(source, target, f"B : 1  # fixed feedback weight\n"
                                              f"learning_signal_post = B*{expression} : 1 (summed)", name=name)
            i, j = self._connect(syn)
            syn.B = matrix[j, i]
            syn.summed_updaters["learning_signal_post"].order = order
            self.feedback_synapses[name] = syn
            objects.append(syn)

        if kind == "random":
            pathway(self.readout, self.layers[-1], "feedback_readout", "error_pre", fb["feedback.readout"],
                    ORDER_SIGNALS)
            for index in range(k - 1, 0, -1):
                pathway(self.layers[index], self.layers[index - 1], f"feedback_layer{index}",
                        "learning_signal_pre*slope_pre", fb[f"feedback.layer{index}"], ORDER_SIGNALS + k - index)
        elif kind == "random_direct":
            for index in range(k):
                pathway(self.readout, self.layers[index], f"feedback_layer{index}", "error_pre",
                        fb[f"feedback.layer{index}"], ORDER_SIGNALS)
        elif kind == "target_projection":
            for index in range(k):
                pathway(self.readout, self.layers[index], f"feedback_layer{index}", "loss_mask_pre*target_pre",
                        fb[f"feedback.layer{index}"], ORDER_SIGNALS)
        return objects

    def _monitors(self):
        b2 = self.b2
        monitors = {}
        monitors["readout"] = b2.StateMonitor(self.readout, ["output"], record=True, when="end", name="mon_readout")
        for index, (group, cell_tr) in enumerate(zip(self.layers, self.cells)):
            names = []
            if "state" in self.record:
                names += ["s"] if "s" in group.variables else (["v", "a"] if "a" in group.variables else ["v"])
            if "output" in self.record:
                names.append("y")
            if "learning_signal" in self.record:
                names.append("learning_signal")
            if names:
                monitors[f"layer{index}"] = b2.StateMonitor(group, names, record=True, when="end",
                                                            name=f"mon_layer{index}")
        for name, syn in self.synapses.items():
            names = []
            if name != "readout.W" and name in self.trainable:
                if "eligibility_vector" in self.record:
                    names += [f"eligibility_vector{label}" for label in
                              self.cells[int(name.split(".")[0][5:])].state_labels]
                if "eligibility_trace" in self.record:
                    names.append("eligibility_trace_filtered" if self.network.readout.leak else "eligibility_trace")
            if "weights" in self.record:
                names.append("w")
            if names:  # explicit indices: standalone cannot resolve record=True for synapses
                monitors[name] = b2.StateMonitor(syn, names, record=np.arange(len(self._indices[name][0])),
                                                 when="end", name="mon_" + name.replace(".", "_"))
        return monitors

    # ------------------------------------------------------------------------------------
    def run(self, x, target, mask=None, params=None):
        """Run one trial from the zero state; returns a :class:`ostl.online.SequenceResult`
        (grads: deferred -- the rule's gradient; online -- the applied contributions) and
        updates ``self.params`` in online mode."""
        b2 = self.b2
        net = self.network
        x, target, *rest = net.check_inputs(x, target, mask)
        mask = rest[0] if rest else np.ones(x.shape[0])
        if x.shape[0] != self.steps:
            raise ParameterError(f"this Brian2 network was built for {self.steps} steps, got {x.shape[0]}")
        if params is not None:
            self.params = net.check_params(params)
        params = self.params
        opt_state = self._optimizer_arrays() if self.mode == "online" and self.optimizer.name == "adam" else {}
        if not self.standalone:
            self.net.restore("initial")
            self.namespace["input_values"] = b2.TimedArray(x, dt=1 * b2.ms, name="input_values")
            self.namespace["target_values"] = b2.TimedArray(target, dt=1 * b2.ms, name="target_values")
            self.namespace["mask_values"] = b2.TimedArray(mask, dt=1 * b2.ms, name="mask_values")
            for name, syn in self.synapses.items():
                syn.w = params[name][self._syn_j(name), self._syn_i(name)]
            self._set_neuron_params(params)
            for (obj, var), value in opt_state.items():
                setattr(obj, var, value)
            self.net.run(self.steps * b2.ms, namespace=self.namespace)
        else:
            if Brian2Network._active_standalone is not self:
                raise ParameterError("this cpp_standalone network was superseded by a later cpp_standalone build "
                                     "in the same process (Brian2 keeps one standalone project per session)")
            run_args = {self.input_values: x, self.target_values: target, self.mask_values: mask}
            for name, syn in self.synapses.items():
                run_args[syn.w] = params[name][self._syn_j(name), self._syn_i(name)]
            for (group, var), value in self._neuron_param_values(params).items():
                run_args[getattr(group, var)] = value
            for (obj, var), value in opt_state.items():
                run_args[getattr(obj, var)] = value
            b2.device.run(run_args=run_args)
        return self._collect(params)

    def _syn_i(self, name):
        return self._indices[name][0]

    def _syn_j(self, name):
        return self._indices[name][1]

    def _neuron_param_values(self, params):
        values = {}
        net = self.network
        for index, layer in enumerate(net.layers):
            pname = self.cells[index].neuron_param
            if pname is not None:
                value = layer.neuron_param(params, net.prefix(index))
                values[(self.layers[index], pname)] = np.broadcast_to(value, (layer.size,)).astype(float).copy()
        if net.readout.bias:
            values[(self.readout, "bias")] = params["readout.b"].copy()
        return values

    def _set_neuron_params(self, params):
        for (group, var), value in self._neuron_param_values(params).items():
            setattr(group, var, value)

    def _optimizer_arrays(self):
        """Online Adam: the moments and bias-correction powers of every trainable array."""
        opt = self.optimizer
        values = {}
        power1, power2 = opt.beta1 ** opt.t, opt.beta2 ** opt.t
        for name, syn in self.synapses.items():
            if name not in self.trainable:
                continue
            m = opt.m.get(name)
            v = opt.v.get(name)
            ii, jj = self._syn_i(name), self._syn_j(name)
            values[(syn, "adam_m")] = np.zeros(len(ii)) if m is None else m[jj, ii]
            values[(syn, "adam_v")] = np.zeros(len(ii)) if v is None else v[jj, ii]
            values[(syn, "adam_beta1_power")] = np.full(len(ii), power1)
            values[(syn, "adam_beta2_power")] = np.full(len(ii), power2)
        for full, group, prefix in self._neuron_level_trainables():
            size = len(group)
            m, v = opt.m.get(full), opt.v.get(full)
            values[(group, f"{prefix}adam_m")] = np.zeros(size) if m is None else m
            values[(group, f"{prefix}adam_v")] = np.zeros(size) if v is None else v
            values[(group, f"{prefix}adam_beta1_power")] = np.full(size, power1)
            values[(group, f"{prefix}adam_beta2_power")] = np.full(size, power2)
        return values

    def _neuron_level_trainables(self):
        """(parameter name, group, state prefix) of the trainable per-neuron parameters."""
        out = []
        for index, layer in enumerate(self.network.layers):
            pname = self.cells[index].neuron_param
            if pname:
                full = f"{self.network.prefix(index)}.{layer.cell.neuron_param}"
                if full in self.trainable:
                    out.append((full, self.layers[index], f"{pname}_"))
        if self.network.readout.bias and "readout.b" in self.trainable:
            out.append(("readout.b", self.readout, "bias_"))
        return out

    def _collect(self, params):
        net = self.network
        shapes = net.param_shapes()
        grads = {}
        new_params = {k: v.copy() for k, v in params.items()}
        for name, syn in self.synapses.items():
            if name not in self.trainable:
                continue
            ii, jj = self._syn_i(name), self._syn_j(name)
            g = np.zeros(shapes[name])
            g[jj, ii] = np.asarray(syn.gradient[:])
            grads[name] = g
            if self.mode == "online":
                w = np.zeros(shapes[name])
                w[jj, ii] = np.asarray(syn.w[:])
                new_params[name] = w
        for index, layer in enumerate(net.layers):
            pname = self.cells[index].neuron_param
            full = f"{net.prefix(index)}.{layer.cell.neuron_param}" if pname else None
            if full in self.trainable:
                group = self.layers[index]
                grads[full] = np.asarray(getattr(group, f"{pname}_gradient")[:]).copy()
                if self.mode == "online":
                    new_params[full] = np.asarray(getattr(group, pname)[:]).copy()
        if net.readout.bias and "readout.b" in self.trainable:
            grads["readout.b"] = np.asarray(self.readout.bias_gradient[:]).copy()
            if self.mode == "online":
                new_params["readout.b"] = np.asarray(self.readout.bias[:]).copy()
        if self.mode == "online":
            self.params = new_params
            if self.optimizer.name == "adam":
                self._read_adam()
        outputs = np.asarray(self.monitors["readout"].output[:]).T.copy()
        loss = float(np.sum(self.readout.loss[:]))
        return SequenceResult(loss=loss, outputs=outputs, grads=grads, records=self._records())

    def _read_adam(self):
        opt = self.optimizer
        shapes = self.network.param_shapes()
        for name, syn in self.synapses.items():
            if name not in self.trainable:
                continue
            ii, jj = self._syn_i(name), self._syn_j(name)
            for var, store in (("adam_m", opt.m), ("adam_v", opt.v)):
                arr = np.zeros(shapes[name])
                arr[jj, ii] = np.asarray(getattr(syn, var)[:])
                store[name] = arr
        for full, group, prefix in self._neuron_level_trainables():
            opt.m[full] = np.asarray(getattr(group, f"{prefix}adam_m")[:]).copy()
            opt.v[full] = np.asarray(getattr(group, f"{prefix}adam_v")[:]).copy()
        opt.t += self.steps

    def _records(self):
        """Recordings in the reference engine's layout (see OnlineLearner.run)."""
        rec = {}
        net = self.network
        shapes = net.param_shapes()
        if "state" in self.record or "output" in self.record or "learning_signal" in self.record:
            for key in ("state", "output", "learning_signal"):
                if key in self.record:
                    rec[key] = []
            for index, layer in enumerate(net.layers):
                mon = self.monitors[f"layer{index}"]
                if "state" in self.record:
                    names = ["s"] if hasattr(mon, "s") and "s" in mon.record_variables else (
                        ["v", "a"] if "a" in mon.record_variables else ["v"])
                    rec["state"].append(np.stack([np.asarray(getattr(mon, n)[:]).T for n in names], axis=-1))
                if "output" in self.record:
                    rec["output"].append(np.asarray(mon.y[:]).T.copy())
                if "learning_signal" in self.record:
                    rec["learning_signal"].append(np.asarray(mon.learning_signal[:]).T.copy())
        for key in ("eligibility_vector", "eligibility_trace", "weights"):
            if key in self.record:
                rec[key] = {}
        for name, syn in self.synapses.items():
            mon = self.monitors.get(name)
            if mon is None:
                continue
            ii, jj = self._syn_i(name), self._syn_j(name)
            n_post, n_pre = shapes[name]

            def dense(values):
                out = np.zeros((self.steps, n_post, n_pre))
                out[:, jj, ii] = np.asarray(values).T
                return out

            if "eligibility_vector" in self.record and name in self.trainable and name != "readout.W":
                labels = self.cells[int(name.split(".")[0][5:])].state_labels
                rec["eligibility_vector"][name] = np.stack(
                    [dense(getattr(mon, f"eligibility_vector{label}")[:]) for label in labels], axis=2)
            if "eligibility_trace" in self.record and name in self.trainable and name != "readout.W":
                var = "eligibility_trace_filtered" if net.readout.leak else "eligibility_trace"
                rec["eligibility_trace"][name] = dense(getattr(mon, var)[:])
            if "weights" in self.record:
                rec["weights"][name] = dense(mon.w[:])
        return rec
