"""NEST 3.10's native e-prop (``eprop_iaf_bsshslm_2020``, ``eprop_readout_bsshslm_2020``,
``eprop_synapse_bsshslm_2020``) on the sine-wave regression of NEST's test-suite, and the
same setting in the reference engine.

The setting (NEST's ``test_eprop_bsshslm_2020_plasticity.py::test_eprop_regression``):
100 frozen Poisson inputs (p = 0.05 per step, none in the first step), 100 recurrent LIF
neurons (tau_m 30 ms, v_th 0.03, no autapses, piecewise-linear surrogate of height 0.3 and
width 1 in units of v_th), one leaky readout (tau_m 30 ms) with MSE against a sum of four
sines, random feedback weights, plain gradient descent with eta = 1e-4 applied after every
sequence of 1000 steps, neurons reset at every update, float32-rounded initial weights drawn
with ``numpy.random.seed(1)``; firing-rate regularisation c_reg = 300 towards 10 Hz.

:func:`run_nest` simulates it in NEST and returns the loss of every iteration and the
weights; :func:`reference_setup` builds the same network, rule (e-prop with the explicit
feedback matrix) and data for :class:`ostl.OnlineLearner`; :func:`run_reference` trains it,
with or without the regulariser (:mod:`ostl.regularisation`).
See ``docs/nest_eprop.md`` for what agrees and every difference.
"""

from __future__ import annotations

import os

import numpy as np

from ostl.cells import LIF
from ostl.network import Layer, Network, Readout
from ostl.online import OnlineLearner
from ostl.rules import make_rule

from .wiring import connection_indices

N_IN, N_REC, N_OUT, STEPS = 100, 100, 1, 1000
TAU_M, V_TH, ETA = 30.0, 0.03, 1e-4
#: the firing-rate regulariser's target (NEST's ``f_target``, Hz)
F_TARGET_HZ = 10.0


def _superimposed_sines(steps, periods):
    amplitudes = np.random.uniform(low=0.5, high=2.0, size=len(periods))
    phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=len(periods))
    sines = [a * np.sin(np.linspace(phi, phi + 2.0 * np.pi * (steps // p), steps))
             for a, phi, p in zip(amplitudes, phases, periods)]
    signal = sum(sines)
    signal -= signal[0]
    return signal / max(np.abs(signal).max(), 1e-6)


def draw_data(seed=1, n_in=N_IN, n_rec=N_REC, n_out=N_OUT, steps=STEPS):
    """Weights, input and target drawn exactly as NEST's test does (global numpy seed)."""
    np.random.seed(seed)
    f32 = np.float32
    w_in = np.array(np.random.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=f32)
    w_rec = np.array(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=f32)
    b_fb = np.array(np.random.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=f32)
    spikes = (np.random.rand(steps, n_in) < 0.05)
    spikes[0] = False
    target = _superimposed_sines(steps, [1000, 500, 333, 200])
    return {"w_in": w_in.astype(float), "w_rec": w_rec.astype(float), "w_out": w_out.astype(float),
            "b_fb": b_fb.astype(float), "spikes": spikes, "target": target}


class NativeNetwork:
    """NEST's native e-prop network of the setting (any size), built and ready to simulate
    ``n_iter`` sequences of the frozen input. ``record``: a multimeter on the readout."""

    offset_gen, delays = 1.0, 3.0

    def __init__(self, data, n_iter, c_reg=0.0, threads=1, record=True):
        os.environ.setdefault("PYNEST_QUIET", "1")
        import nest

        self.nest, self.data, self.n_iter = nest, data, n_iter
        steps, (n_rec, n_in) = len(data["target"]), data["w_in"].shape
        n_out = data["w_out"].shape[0]
        self.steps, step = steps, 1.0
        total_offset = self.offset_gen + self.delays
        task = n_iter * steps * step
        nest.ResetKernel()
        nest.set(eprop_learning_window=steps * step, eprop_reset_neurons_on_update=True,
                 eprop_update_interval=steps * step, print_time=False, resolution=step,
                 total_num_virtual_procs=threads)
        rec_params = {"C_m": 1.0, "c_reg": c_reg, "E_L": 0.0, "f_target": F_TARGET_HZ, "flush_event_send_interval":
                      steps * step, "I_e": 0.0, "regular_spike_arrival": False,
                      "surrogate_gradient_function": "piecewise_linear", "surrogate_gradient_height": 0.3 / V_TH,
                      "surrogate_gradient_width": 1.0 * V_TH, "t_ref": 0.0, "tau_m": TAU_M, "V_m": 0.0,
                      "V_th": V_TH}
        out_params = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "mean_squared_error",
                      "regular_spike_arrival": False, "tau_m": TAU_M, "V_m": 0.0}
        gen_in = nest.Create("spike_generator", n_in)
        self.parrots = nest.Create("parrot_neuron", n_in)
        self.rec = nest.Create("eprop_iaf_bsshslm_2020", n_rec, rec_params)
        self.out = nest.Create("eprop_readout_bsshslm_2020", n_out, out_params)
        gen_target = nest.Create("step_rate_generator", n_out)
        self.mm = None
        if record:
            self.mm = nest.Create("multimeter", {"interval": step, "record_from": ["readout_signal", "target_signal"],
                                                 "start": total_offset, "stop": total_offset + task})
        nest.SetDefaults("eprop_synapse_bsshslm_2020", {
            "optimizer": {"type": "gradient_descent", "batch_size": 1, "eta": ETA, "Wmin": -100.0, "Wmax": 100.0},
            "average_gradient": False})
        base = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": step, "tau_m_readout": TAU_M}
        nest.Connect(gen_in, self.parrots, "one_to_one", {"synapse_model": "static_synapse", "delay": step})
        no_autapses = {"rule": "all_to_all", "allow_autapses": False}
        nest.Connect(self.parrots, self.rec, no_autapses, dict(base, weight=data["w_in"]))
        nest.Connect(self.rec, self.rec, no_autapses, dict(base, weight=data["w_rec"]))
        nest.Connect(self.rec, self.out, no_autapses, dict(base, weight=data["w_out"]))
        nest.Connect(self.out, self.rec, no_autapses,
                     {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020", "delay": step,
                      "weight": data["b_fb"]})
        nest.Connect(gen_target, self.out, "one_to_one", {"synapse_model": "rate_connection_delayed", "delay": step,
                                                         "receptor_type": 2})
        if record:
            nest.Connect(self.mm, self.out, "all_to_all", {"synapse_model": "static_synapse", "delay": step})
        starts = np.arange(0.0, task, steps * step) + self.offset_gen
        times = np.arange(0.0, steps * step, step)
        gen_in.set([{"spike_times": np.hstack([times[data["spikes"][:, i]] + s for s in starts]).astype(np.float32)}
                    for i in range(n_in)])
        gen_target.set({"amplitude_times": np.arange(0.0, task, step) + total_offset,
                        "amplitude_values": np.tile(data["target"], n_iter)})
        self.end = task + total_offset + step

    def simulate(self, duration=None):
        """Run NEST for ``duration`` ms (default: to the end of the planned iterations)."""
        self.nest.Simulate(float(self.end - self.nest.biological_time if duration is None else duration))

    def weights(self):
        """The current weights of NEST's e-prop synapses as matrices (input, recurrent, readout)."""
        def matrix(pre, post):
            conns = self.nest.GetConnections(pre, post)
            w = np.zeros((len(post), len(pre)))
            w[connection_indices(conns, pre, post)] = conns.get("weight")
            return w

        return {"w_in": matrix(self.parrots, self.rec), "w_rec": matrix(self.rec, self.rec),
                "w_out": matrix(self.rec, self.out)}


def run_nest(n_iter=5, c_reg=300.0, seed=1, threads=1):
    """Simulate NEST's native e-prop; returns ``{'loss': (n_iter,), 'readout', 'target', 'w_in',
    'w_rec', 'w_out'}`` (weights after training, shaped (post, pre))."""
    native = NativeNetwork(draw_data(seed), n_iter, c_reg=c_reg, threads=threads)
    native.simulate()
    ev = native.mm.get("events")
    readout = np.asarray(ev["readout_signal"]).reshape(n_iter, STEPS)
    target = np.asarray(ev["target_signal"]).reshape(n_iter, STEPS)
    loss = 0.5 * np.sum((readout - target) ** 2, axis=1)
    return dict(native.weights(), loss=loss, readout=readout, target=target)


def reference_setup(seed=1, shift=0, data=None):
    """The same network, rule and data for the reference engine.

    NEST's neurons with ``regular_spike_arrival=False`` scale every incoming spike by
    ``1 - alpha`` (recurrent layer) and ``1 - kappa`` (readout); the reference cells add the
    weight itself. NEST's weights therefore map to ``(1 - alpha) W`` and ``(1 - kappa) W_out``
    here, and NEST's random feedback ``B`` to ``(1 - kappa) B`` (NEST's filtered eligibility
    ``e_bar`` carries the readout's ``1 - kappa``). NEST shifts every
    neuron's update interval by its path delay from the generators, so input step ``k`` of the
    pattern is step ``k`` of the recurrent layer's interval and of the readout's: ``shift = 0``
    (measured: it is the only shift that reproduces NEST's readout)."""
    data = draw_data(seed) if data is None else data
    (n_rec, n_in), n_out, steps = data["w_in"].shape, data["w_out"].shape[0], len(data["target"])
    alpha = kappa = float(np.exp(-1.0 / TAU_M))
    net = Network(n_in, [Layer(n_rec, LIF(tau_m=TAU_M, v_th=V_TH), recurrent=True)],
                  Readout(n_out, "linear", leak=kappa, bias=False))
    scale = {"layer0.W": 1.0 - alpha, "layer0.H": 1.0 - alpha, "readout.W": 1.0 - kappa}
    params = {"layer0.W": data["w_in"] * scale["layer0.W"], "layer0.H": data["w_rec"] * scale["layer0.H"],
              "readout.W": data["w_out"] * scale["readout.W"]}
    x = np.zeros((steps, n_in))
    x[shift:] = data["spikes"][:steps - shift]
    rule = make_rule("eprop", feedback="random")
    feedback = {"feedback.readout": data["b_fb"] * (1.0 - kappa)}
    return net, params, scale, rule, feedback, x, data["target"][:, None]


def run_reference(n_iter=5, seed=1, shift=0, c_reg=0.0):
    """Train the reference engine in NEST's parametrisation: gradient descent on NEST's
    weights ``W_nest = W / scale``, whose gradient is ``scale * dE/dW``. ``c_reg``: NEST's
    firing-rate regularisation towards ``F_TARGET_HZ`` (:mod:`ostl.regularisation`)."""
    from ostl.regularisation import FiringRateRegularisation

    net, params, scale, rule, feedback, x, target = reference_setup(seed, shift)
    learner = OnlineLearner(net, rule, params, feedback=feedback,
                            regularisation=FiringRateRegularisation.from_hz(c_reg, F_TARGET_HZ))
    losses, outputs, regularisation_losses = [], [], []
    for _ in range(n_iter):
        result = learner.run(x, target)
        losses.append(result.loss)
        regularisation_losses.append(result.regularisation_loss)
        outputs.append(result.outputs[:, 0])
        for name, factor in scale.items():
            learner.params[name] -= ETA * factor * factor * result.grads[name]
    return {"loss": np.array(losses), "readout": np.array(outputs),
            "regularisation_loss": np.array(regularisation_losses),
            "w_in": learner.params["layer0.W"] / scale["layer0.W"],
            "w_rec": learner.params["layer0.H"] / scale["layer0.H"],
            "w_out": learner.params["readout.W"] / scale["readout.W"]}
