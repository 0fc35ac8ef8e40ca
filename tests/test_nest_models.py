"""The NESTML models, compiled against the installed NEST, reproduce the reference engine's
dynamics and per-step factors step for step.

Time mapping: every NEST connection has a delay of one step; the models reset to rest at
their trial start (``first_step``), so that NEST's first steps do not count. Input step ``k`` of the
reference is a spike of the generator at ``k + 1`` ms, relayed by a parrot neuron, and reaches
the layer in the NEST step recorded at ``k + 3`` ms; the recurrent connection's one-step
delay is exactly the reference's ``y^{t-1}``; the readout's trial starts one update after the layer's, so
its step ``t`` receives the layer's step ``t``.
"""

import numpy as np
import pytest

nest = pytest.importorskip("nest")
pytest.importorskip("pynestml")

from ostl import ALIF, LIF, SNU, Layer, Network, Readout, SoftResetSNU  # noqa: E402
from ostl.errors import BackendUnavailableError  # noqa: E402

from .helpers import poisson_input  # noqa: E402

OFFSET = 1  # ms of the first generator spike slot


@pytest.fixture(scope="module")
def module():
    import nestml_models

    try:
        return nestml_models.build()
    except BackendUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))


def _nest_params(cell, keep_reset_path):
    pseudo = cell.pseudo.spec()
    if isinstance(cell, SNU):
        return "snu_neuron", {"decay": cell.decay, "pseudo": pseudo["name"],
                              "pseudo_slope": pseudo.get("slope", 100.0),
                              "pseudo_gamma": pseudo.get("gamma", 0.3), "keep_reset_path": keep_reset_path,
                              "activation": cell.activation.name,
                              "activation_alpha": getattr(cell.activation, "alpha", 0.01)}
    if isinstance(cell, SoftResetSNU):
        return "soft_reset_snu_neuron", {"decay": cell.decay, "pseudo": pseudo["name"],
                                         "pseudo_slope": pseudo.get("slope", 100.0),
                                         "pseudo_gamma": pseudo.get("gamma", 0.3), "keep_reset_path": keep_reset_path}
    if isinstance(cell, LIF):
        return "lif_neuron", {"tau_m": cell.tau_m, "v_th": cell.v_th, "pseudo": pseudo["name"],
                              "pseudo_gamma": pseudo["gamma"], "keep_reset_path": keep_reset_path}
    return "alif_neuron", {"tau_m": cell.tau_m, "tau_a": cell.tau_a, "beta": cell.beta, "v_th": cell.v_th,
                           "pseudo": pseudo["name"], "pseudo_gamma": pseudo["gamma"],
                           "keep_reset_path": keep_reset_path}


def _run_nest(module, net, params, x, target, keep_reset_path, threads=1):
    import nestml_models

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nestml_models.install()
    nest.set(resolution=1.0, local_num_threads=threads)
    layer = net.layers[0]
    model, nparams = _nest_params(layer.cell, keep_reset_path)
    T, n_in = x.shape
    gens = nest.Create("spike_generator", n_in)
    for i in range(n_in):
        gens[i].set(spike_times=(np.nonzero(x[:, i])[0] + OFFSET).astype(float))
    parrots = nest.Create("parrot_neuron", n_in)
    nest.Connect(gens, parrots, "one_to_one", {"delay": 1.0})
    # the trial starts with the update recorded at OFFSET + 2 ms (update index OFFSET + 1)
    hidden = nest.Create(model, layer.size, dict(nparams, trial_steps=T, first_step=OFFSET + 1))
    if layer.cell.neuron_param is not None:
        hidden.set({layer.cell.neuron_param: list(np.broadcast_to(layer.neuron_param(params, "layer0"),
                                                                   layer.size))})
    nest.Connect(parrots, hidden, "all_to_all", {"weight": params["layer0.W"], "delay": 1.0})
    if layer.recurrent:
        nest.Connect(hidden, hidden, {"rule": "all_to_all", "allow_autapses": layer.autapses},
                     {"weight": params["layer0.H"], "delay": 1.0})
    ro = net.readout
    readout = nest.Create("readout_neuron", ro.size, {"leak": ro.leak, "trial_steps": T, "first_step": OFFSET + 2})
    readout.set({"bias": list(params["readout.b"])})
    nest.Connect(hidden, readout, "all_to_all", {"weight": params["readout.W"], "delay": 1.0})
    receptor = 0  # readout_neuron: continuous port TARGET = 0, LOSS_MASK = 1 (CurrentEvent receptors)
    sources = nest.Create("step_current_generator", ro.size)
    for k in range(ro.size):  # target of reference step k: amplitude from k + OFFSET + 1 ms, delay 1 ms
        sources[k].set(amplitude_times=(np.arange(T) + OFFSET + 1.0), amplitude_values=target[:, k])
    nest.Connect(sources, readout, "one_to_one", {"receptor_type": receptor, "delay": 1.0})
    state_names = {"snu_neuron": ["V_m"], "soft_reset_snu_neuron": ["V_m"], "lif_neuron": ["v"],
                   "alif_neuron": ["v", "a"]}[model]
    factors = ["pseudo_derivative", "jacobian"] if model != "alif_neuron" else [
        "pseudo_derivative", "jacobian_vv", "jacobian_va", "jacobian_av", "jacobian_aa"]
    mm = nest.Create("multimeter", {"record_from": state_names + ["y"] + factors, "interval": 1.0})
    nest.Connect(mm, hidden)
    mo = nest.Create("multimeter", {"record_from": ["potential", "error"], "interval": 1.0})
    nest.Connect(mo, readout)
    nest.Simulate(T + OFFSET + 4.0)

    def table(device, name, n, first):
        ev = device.get("events")
        out = np.zeros((T, n))
        senders = np.asarray(ev["senders"])
        times = np.asarray(ev["times"]).round().astype(int)
        ids = np.asarray(device_targets[device.global_id])
        for col, gid in enumerate(ids):
            sel = senders == gid
            steps = times[sel] - first
            ok = (steps >= 0) & (steps < T)
            out[steps[ok], col] = np.asarray(ev[name])[sel][ok]
        return out

    device_targets = {mm.global_id: hidden.tolist(), mo.global_id: readout.tolist()}
    first_hidden = OFFSET + 2
    hidden_rec = {name: table(mm, name, layer.size, first_hidden) for name in state_names + ["y"] + factors}
    readout_rec = {name: table(mo, name, ro.size, first_hidden + 1) for name in ("potential", "error")}
    return hidden_rec, readout_rec


CASES = {
    "snu": (SNU(decay=0.8, pseudo="tanh"), False, 1.0),
    "snu-relu-recurrent": (SNU(decay=0.7, activation="relu", pseudo="fast_sigmoid"), True, 1.0),
    "soft_snu-recurrent": (SoftResetSNU(decay=0.9, pseudo="fast_sigmoid", threshold=0.8), True, 1.0),
    "lif-eprop-recurrent": (LIF(tau_m=15.0, v_th=0.5), True, 0.0),
    "alif-ostl": (ALIF(tau_m=15.0, tau_a=60.0, beta=0.4, v_th=0.5), True, 1.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_nestml_neurons_follow_the_reference(module, case):
    cell, recurrent, keep_reset_path = CASES[case]
    rng = np.random.default_rng(3)
    net = Network(6, [Layer(8, cell, recurrent=recurrent)], Readout(2, leak=0.7))
    params = net.init_params(seed=4, weight_scale=3.0)
    params["readout.b"] = rng.normal(size=2)
    if "layer0.bias" in params:
        params["layer0.bias"] = rng.normal(-0.3, 0.2, size=8)
    T = 300
    x = poisson_input(rng, T, 6, prob=0.25)
    target = rng.normal(size=(T, 2))
    forward = net.forward(params, x, target)
    hidden, readout = _run_nest(module, net, params, x, target, keep_reset_path)
    states = forward.layer_states[0]
    names = ["V_m"] if "V_m" in hidden else (["v", "a"] if "a" in hidden else ["v"])
    for k, name in enumerate(names):
        np.testing.assert_allclose(hidden[name], states[..., k], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(hidden["y"], forward.layer_outputs[0])
    assert 0.02 < hidden["y"].mean() < 0.9
    # the factors the synapses read: pseudo-derivative and Jacobian of every step
    layer = net.layers[0]
    nparam = layer.neuron_param(params, "layer0")
    y = forward.layer_outputs[0]
    y_prev = np.vstack([np.zeros((1, 8)), y[:-1]])
    s_prev = np.concatenate([np.zeros((1, 8, states.shape[-1])), states[:-1]])
    current = x @ params["layer0.W"].T + (y_prev @ params["layer0.H"].T if layer.recurrent else 0.0)
    d = cell.derivatives(tuple(np.moveaxis(s_prev, -1, 0)), y_prev, current, tuple(np.moveaxis(states, -1, 0)), y,
                         nparam)
    q_prev = np.concatenate([np.zeros((1, 8, d.output_gain.shape[-1])), d.output_gain[:-1]])
    own = d.adaptation_path + (d.reset_path if keep_reset_path else 0.0)
    J = d.state_decay + own[..., :, None] * q_prev[..., None, :]
    np.testing.assert_allclose(hidden["pseudo_derivative"], d.output_gain[..., 0], rtol=1e-9, atol=1e-12)
    if "jacobian" in hidden:
        np.testing.assert_allclose(hidden["jacobian"], J[..., 0, 0], rtol=1e-9, atol=1e-12)
    else:
        for (a, b), name in {(0, 0): "vv", (0, 1): "va", (1, 0): "av", (1, 1): "aa"}.items():
            np.testing.assert_allclose(hidden[f"jacobian_{name}"], J[..., a, b], rtol=1e-9, atol=1e-12)
    # the readout's trial starts one update after the layer's: NEST's one-step delay is
    # absorbed and its step t sees y^t, exactly the reference engine's readout
    np.testing.assert_allclose(readout["potential"], forward.potentials, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(readout["error"], forward.potentials - target, rtol=1e-9, atol=1e-12)


def test_two_threads_give_the_same_dynamics(module):
    cell, recurrent, keep_reset_path = CASES["lif-eprop-recurrent"]
    rng = np.random.default_rng(5)
    net = Network(6, [Layer(8, cell, recurrent=True)], Readout(2))
    params = net.init_params(seed=6, weight_scale=3.0)
    x = poisson_input(rng, 200, 6, prob=0.25)
    target = rng.normal(size=(200, 2))
    one = _run_nest(module, net, params, x, target, keep_reset_path, threads=1)
    two = _run_nest(module, net, params, x, target, keep_reset_path, threads=2)
    # spikes are identical; values agree to rounding (each thread delivers its spikes, so
    # incoming weights are summed in another order: measured 7e-15 on values up to 60)
    np.testing.assert_array_equal(one[0]["y"], two[0]["y"])
    for name in one[0]:
        np.testing.assert_allclose(one[0][name], two[0][name], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one[1]["potential"], two[1]["potential"], rtol=1e-12, atol=1e-12)


def test_two_processes_that_build_the_module_at_once_both_get_it(tmp_path):
    """Two builds into one empty cache at the same time (two trainings on a new machine):
    before the build lock, the second deleted the first one's build folder ("make all" failed)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OSTL_CACHE_DIR=str(tmp_path / "cache"))
    builds = [subprocess.Popen([sys.executable, "-m", "ostl", "build-nest"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [build.communicate(timeout=900) for build in builds]
    assert [build.returncode for build in builds] == [0, 0], [err for _, err in outputs]
    paths = {out.splitlines()[0] for out, _ in outputs}
    assert len(paths) == 1 and os.path.exists(paths.pop().split(": ", 1)[1])


def test_missing_build_prerequisites_give_one_clear_message(monkeypatch):
    import importlib

    build = importlib.import_module("nestml_models.build")

    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    with pytest.raises(BackendUnavailableError, match=r"apt-get install -y libboost-dev libltdl-dev libgsl-dev"):
        build.check_prerequisites()


@pytest.mark.parametrize("model,status,message", [
    ("snu_neuron", {"decay": 1.5}, r"decay >= 0 and decay < 1"),
    ("lif_neuron", {"tau_m": -1.0}, r"tau_m > 0 ms"),
    ("alif_neuron_learning", {"beta": -0.5}, r"beta >= 0"),
    ("snu_neuron_learning", {"pseudo": "tanhh"},
     r"pseudo must be one of 'tanh', 'fast_sigmoid', 'piecewise_linear', got 'tanhh'"),
    ("snu_neuron", {"activation": "sigmoid"}, r"activation must be one of 'identity', 'relu', 'leaky_relu'"),
    ("soft_reset_snu_neuron_learning", {"keep_reset_path": 0.5}, r"keep_reset_path == 0 or keep_reset_path == 1"),
    ("readout_neuron_learning", {"leak": 1.0}, r"leak >= 0 and leak < 1"),
    ("lif_neuron_learning", {"readout_leak": -0.1}, r"readout_leak must be in \[0, 1\)"),
])
def test_plain_pynest_gets_bad_property_naming_the_parameter(module, model, status, message):
    import nestml_models

    nest.ResetKernel()
    nestml_models.install()
    node = nest.Create(model)
    before = node.get()
    with pytest.raises(nest.NESTErrors.BadProperty, match=message):
        node.set(status)
    assert node.get() == before   # a rejected value does not stay behind
    with pytest.raises(nest.NESTErrors.BadProperty, match=message):
        nest.SetDefaults(model, status)
    assert nest.Create(model).get(list(status)) == {k: before[k] for k in status}


def test_choices_are_set_by_name(module):
    import nestml_models

    nest.ResetKernel()
    nest.resolution = 1.0
    nestml_models.install()
    node = nest.Create("snu_neuron_learning", params={"pseudo": "fast_sigmoid", "activation": "leaky_relu"})
    assert node.get(["pseudo", "activation"]) == {"pseudo": "fast_sigmoid", "activation": "leaky_relu"}
    node.set(pseudo="piecewise_linear")
    assert node.get("pseudo") == "piecewise_linear"
    optimizer = {"type": "adam", "eta": 0.01, "beta_1": 0.8}
    nest.SetDefaults("ostl_synapse", {"optimizer": optimizer})
    assert {k: nest.GetDefaults("ostl_synapse")["optimizer"][k] for k in optimizer} == optimizer
    nest.SetDefaults("ostl_synapse", {"optimizer": {"batch_size": 4}})
    assert nest.GetDefaults("ostl_synapse")["optimizer"]["batch_size"] == 4
    with pytest.raises(nest.NESTErrors.BadProperty, match=r"batch_size \(trials per update\) must be >= 1, got 0"):
        nest.SetDefaults("ostl_synapse", {"optimizer": {"batch_size": 0}})
    # the firing-rate regulariser of a hidden neuron: NEST's e-prop names, checked ranges (at most one
    # spike per step: 1000 Hz at the models' 1 ms)
    lif = nest.Create("lif_neuron_learning", params={"c_reg": 300.0, "f_target": 10.0})
    assert lif.get(["c_reg", "f_target"]) == {"c_reg": 300.0, "f_target": 10.0}
    for key, value, message in (("c_reg", -1.0, "c_reg .* must be >= 0"),
                                ("f_target", 1001.0, r"f_target .* must be in \[0, 1000")):
        with pytest.raises(nest.NESTErrors.BadProperty, match=message):
            lif.set({key: value})
    assert lif.get(["c_reg", "f_target"]) == {"c_reg": 300.0, "f_target": 10.0}
    lif.set(trial_steps=0)
    with pytest.raises(nest.NESTErrors.BadProperty, match="c_reg > 0 .* needs trials"):
        nest.Simulate(1.0)


def test_a_synapses_optimizer_steps_are_checked_and_kept(module):
    """The step count (Adam's bias correction) is a 32-bit counter in the synapse: a value out
    of its range is refused naming the range, one in range is kept (exact resume)."""
    import nestml_models

    nest.ResetKernel()
    nest.resolution = 1.0
    nestml_models.install()
    source = nest.Create("parrot_neuron")
    target = nest.Create("lif_neuron_learning")
    nest.Connect(source, target, "all_to_all", {"synapse_model": "ostl_synapse", "delay": 1.0})
    connection = nest.GetConnections(synapse_model="ostl_synapse")
    connection.set(optimizer_steps=2_000_000_000)
    assert connection.get("optimizer_steps") == 2_000_000_000
    for bad in (-1, 2**31):
        with pytest.raises(nest.NESTErrors.BadProperty, match=r"optimizer_steps must be in \[0, 2147483647\]"):
            connection.set(optimizer_steps=bad)
    assert connection.get("optimizer_steps") == 2_000_000_000
