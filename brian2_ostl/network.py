"""Build and run an :class:`ostl.Network` as Brian2 objects, step for step like the
reference engine (:mod:`ostl.online`). The wiring and schedule are those of
:mod:`brian2_ostl.circuit`; this module adds the input and target TimedArrays, the
choice of code-generation target, recording, and the exchange of parameters,
gradients and optimiser state with the reference engine's data structures.
"""

from __future__ import annotations

import tempfile

import numpy as np

from ostl.errors import BackendUnavailableError, ParameterError
from ostl.network import Network
from ostl.online import SequenceResult
from ostl.optim import make_optimizer
from ostl.regularisation import FiringRateRegularisation
from ostl.rules import make_rule
from ostl.validation import check_choice, check_int

from .cells import translate_cell
from .circuit import ORDER_INPUT, LayerSpec, build_circuit, exact_ieee_compilation, layer_model, readout_model
from .plugin import TARGETS

RECORDABLE = ("state", "output", "eligibility_vector", "eligibility_trace", "learning_signal", "weights")


def _brian2():
    try:
        import brian2
    except ImportError:  # pragma: no cover
        raise BackendUnavailableError("the Brian2 backend needs brian2: pip install 'Brian2==2.9.0'") from None
    return brian2


def check_supported(network, rule):
    """Refuse what the plugin cannot express, before anything is built."""
    if make_rule(rule).is_bptt:
        raise ParameterError("rule 'bptt' is the autodiff oracle of the reference engine, not a simulator rule "
                             "(train it with --backend reference)")
    for index, layer in enumerate(network.layers):
        if layer.kind == "gated":
            raise ParameterError(f"layer {index} is a gated ({layer.cell.kind.upper()}) layer; gated layers are not "
                                 "spiking cells and run on the reference engine only")
        if not layer.stateful:
            raise ParameterError(f"layer {index} is a stateless Dense layer; the Brian2 plugin simulates "
                                 "layers of spiking cells only (use the reference engine for Dense layers)")
    make_rule(rule).require_local(network, "the Brian2 plugin")


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
                 optimizer=None, target="numpy", record=(), trainable=None, directory=None, regularisation=None):
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
        #: the firing-rate regulariser (:mod:`ostl.regularisation`; deferred mode), or None
        self.regularisation = FiringRateRegularisation.make(regularisation)
        if self.regularisation is not None:
            self.regularisation.check_mode(self.mode)
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
        exact_ieee_compilation(b2)
        b2.defaultclock.dt = 1 * b2.ms
        net, T = self.network, self.steps
        self.namespace = {}
        self.input_values = b2.TimedArray(np.zeros((T, net.n_in)), dt=1 * b2.ms, name="input_values")
        self.target_values = b2.TimedArray(np.zeros((T, net.n_out)), dt=1 * b2.ms, name="target_values")
        self.mask_values = b2.TimedArray(np.zeros(T), dt=1 * b2.ms, name="mask_values")
        for arr in (self.input_values, self.target_values, self.mask_values):
            self.namespace[arr.name] = arr
        self.input = b2.NeuronGroup(net.n_in, "x : 1  # input x^t", name="input_neurons", namespace=self.namespace)
        self.input.run_regularly("x = input_values(t, i)", when="groups", order=ORDER_INPUT)
        self.layers, self.cells, specs = [], [], []
        for index, layer in enumerate(net.layers):
            cell_tr = translate_cell(layer.cell, self.rule.traces)
            group = b2.NeuronGroup(layer.size, layer_model(cell_tr, self.regularisation is not None),
                                   name=f"layer{index}", namespace=self.namespace)
            self.cells.append(cell_tr)
            self.layers.append(group)
            specs.append(LayerSpec(group, cell_tr, net.prefix(index), layer.cell.neuron_param, layer.recurrent,
                                   layer.autapses))
        self.readout = b2.NeuronGroup(net.n_out, readout_model(), name="readout", namespace=self.namespace)
        circuit = build_circuit(b2, self.input, "values", specs, self.readout, net.readout, self.rule, self.trainable,
                                self.feedback, self.mode, self.optimizer, self.namespace,
                                verify_order=not self.standalone,
                                store_traces=set(self.trainable) if "eligibility_trace" in self.record else (),
                                regularisation=self.regularisation)
        self.synapses, self._indices = circuit.synapses, circuit.indices
        self.feedback_synapses = circuit.feedback_synapses
        objects = [self.input, *self.layers, self.readout, *circuit.objects]
        self.monitors = self._monitors()
        objects.extend(self.monitors.values())
        self.net = b2.Network(objects)
        if not self.standalone:
            self.net.store("initial")
        else:
            self.net.run(self.steps * b2.ms, namespace={})  # objects carry their own namespace
            b2.device.build(directory=self._directory, run=False)
            # leave Brian2's runtime device active for other code in this process; the
            # built project is run through its own device object
            b2.set_device("runtime")
        self._built = True

    def _monitors(self):
        b2 = self.b2
        monitors = {}
        monitors["readout"] = b2.StateMonitor(self.readout, ["output"], record=True, when="end", name="mon_readout")
        for index, group in enumerate(self.layers):
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
                names.append("weight")
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
                syn.weight = params[name][self._syn_j(name), self._syn_i(name)]
            self._set_neuron_params(params)
            for (obj, var), value in opt_state.items():
                setattr(obj, var, value)
            self.net.run(self.steps * b2.ms, namespace={})  # objects carry their own namespace
        else:
            if Brian2Network._active_standalone is not self:
                raise ParameterError("this cpp_standalone network was superseded by a later cpp_standalone build "
                                     "in the same process (Brian2 keeps one standalone project per session)")
            run_args = {self.input_values: x, self.target_values: target, self.mask_values: mask}
            for name, syn in self.synapses.items():
                run_args[syn.weight] = params[name][self._syn_j(name), self._syn_i(name)]
            for (group, var), value in self._neuron_param_values(params).items():
                run_args[getattr(group, var)] = value
            for (obj, var), value in opt_state.items():
                run_args[getattr(obj, var)] = value
            from brian2.devices.device import all_devices

            all_devices["cpp_standalone"].run(run_args=run_args)
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
                w[jj, ii] = np.asarray(syn.weight[:])
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
        regularisation_loss = self._regularise(grads)
        outputs = np.asarray(self.monitors["readout"].output[:]).T.copy()
        loss = float(np.sum(self.readout.loss[:]))
        return SequenceResult(loss=loss, outputs=outputs, grads=grads, records=self._records(),
                              regularisation_loss=regularisation_loss)

    def _regularise(self, grads):
        """The firing-rate regulariser after the trial (:mod:`ostl.regularisation`): adds
        ``r_j sum_t e^t`` (the neurons' ``output_sum``, the synapses' ``trace_sum``) to ``grads``;
        returns ``E_reg``."""
        regulariser = self.regularisation
        if regulariser is None:
            return 0.0
        net, value = self.network, 0.0
        for index, layer in enumerate(net.layers):
            group = self.layers[index]
            layer_value, signal = regulariser.penalty(np.asarray(group.output_sum[:]), self.steps)
            value += layer_value
            prefix = net.prefix(index)
            for name in (f"{prefix}.W", f"{prefix}.H"):
                if name in grads:
                    jj, ii = self._syn_j(name), self._syn_i(name)
                    summed = np.zeros_like(grads[name])
                    summed[jj, ii] = np.asarray(self.synapses[name].trace_sum[:])
                    grads[name] += signal[:, None] * summed
            pname = self.cells[index].neuron_param
            full = f"{prefix}.{layer.cell.neuron_param}" if pname else None
            if full in grads:
                grads[full] += signal * np.asarray(getattr(group, f"{pname}_trace_sum")[:])
        return value

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
            for index in range(len(net.layers)):
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
        for name in self.synapses:
            mon = self.monitors.get(name)
            if mon is None:
                continue
            ii, jj = self._syn_i(name), self._syn_j(name)
            n_post, n_pre = shapes[name]

            def dense(values, ii=ii, jj=jj, shape=(self.steps, n_post, n_pre)):
                out = np.zeros(shape)
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
                rec["weights"][name] = dense(mon.weight[:])
        return rec
