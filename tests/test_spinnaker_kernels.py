"""SpiNNaker learning kernels (issue 12, items 2-4): the host-compiled C equals the NumPy model
bit for bit (states, spikes, readouts, learning signals, eligibility vectors, traces, gradients,
weights, residuals, saturation counts), on random networks, every local rule, 1000 steps; the
write-back loses no update; the ARM objects carry no floating point; and what does not fit
s16.15 is refused before anything runs."""

import copy
import subprocess

import numpy as np
import pytest

from ostl.cells import make_cell
from ostl.errors import ParameterError
from ostl.hardware.spinnaker import model
from ostl.hardware.spinnaker.network import FixedPointNetwork
from ostl.hardware.spinnaker.numerics import INT32_MAX, INT32_MIN, ONE, Counters, from_s1615, to_s1615
from ostl.network import Layer, Network, Readout
from ostl.rules import make_rule

CELLS = {
    "lif": {"kind": "lif", "tau_m": 20.0, "v_th": 0.6},
    "alif": {"kind": "alif", "tau_m": 20.0, "tau_a": 200.0, "beta": 1.0, "v_th": 0.5},
    "snu": {"kind": "snu", "decay": 0.8, "pseudo": "tanh"},
    "snu_relu": {"kind": "snu", "decay": 0.9, "activation": "relu", "pseudo": {"name": "piecewise_linear",
                                                                               "gamma": 0.3}},
    "soft_snu": {"kind": "soft_snu", "decay": 0.95, "pseudo": {"name": "fast_sigmoid", "slope": 100.0}},
}

#: (cell, recurrent, rule, traces, readout activation, readout leak, rounding): every local rule,
#: every cell, every readout, both roundings
CASES = [
    ("lif", True, "eprop", None, "linear", 0.8, "residual"),
    ("alif", True, "eprop", None, "softmax", 0.0, "stochastic"),
    ("snu", False, "ostl", None, "sigmoid", 0.0, "residual"),
    ("snu_relu", False, "ostl_rnd", None, "linear", 0.5, "stochastic"),
    ("soft_snu", True, "ostl_no_h", None, "softmax", 0.9, "residual"),
    ("lif", False, "osttp", None, "sigmoid", 0.7, "residual"),
    ("alif", True, "osttp", "no_h", "linear", 0.0, "stochastic"),
    ("soft_snu", False, "ostl_rnd", None, "linear", 0.0, "residual"),
]


def random_network(case, n_in=10, n=12, n_out=3, seed=0):
    cell, recurrent, rule_name, traces, activation, leak, rounding = case
    net = Network(n_in, [Layer(n, make_cell(CELLS[cell]), recurrent=recurrent)],
                  Readout(n_out, activation=activation, leak=leak))
    rule = make_rule(rule_name, traces=traces, feedback="random" if rule_name == "eprop" and seed % 2 else None)
    params = net.init_params(seed=seed, weight_scale=2.0)
    if cell == "snu" or cell == "snu_relu":
        params["layer0.bias"][...] = -0.5
    feedback = rule.make_feedback(net, seed=seed + 1)
    return net, rule, params, feedback, rounding


def random_trial(n_in, n_out, steps, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((steps, n_in)) < 0.15).astype(np.float64)
    target = rng.random((steps, n_out))
    mask = (rng.random(steps) < 0.8).astype(np.float64)
    return x, target, mask


def test_the_neuron_step_in_c_equals_the_numpy_model_for_every_cell_with_saturating_inputs():
    from ostl.hardware.spinnaker.host import HostKernels
    from ostl.hardware.spinnaker.network import encode_cell

    kernels = HostKernels()
    rng = np.random.default_rng(3)
    n = 64
    for name, spec in CELLS.items():
        cell = make_cell(spec)
        for keep_reset_path in (False, True):
            encoded = encode_cell(cell, keep_reset_path, rng.normal(-0.3, 0.2, n) if cell.neuron_param else None)
            d = encoded.d
            states = {"numpy": (np.zeros((n, d), np.int32), np.zeros(n, np.int32)),
                      "c": (np.zeros((n, d), np.int32), np.zeros(n, np.int32))}
            counters = {"numpy": Counters(), "c": Counters()}
            spikes = 0
            for step in range(1000):
                current = to_s1615(rng.normal(0.1, 0.5, n))
                if step % 250 == 0:          # now and then inputs that saturate the state
                    current[:4] = [INT32_MAX, INT32_MIN, INT32_MAX, 12345]
                outs = {}
                for engine, step_fn in (("numpy", model.neuron_step), ("c", kernels.neuron_step)):
                    state, z = states[engine]
                    outs[engine] = step_fn(encoded, state, z, current, counters[engine])
                    states[engine] = outs[engine][:2]
                for a, b in zip(outs["numpy"][:2], outs["c"][:2]):
                    np.testing.assert_array_equal(a, b)
                for a, b in zip(outs["numpy"][2], outs["c"][2]):
                    np.testing.assert_array_equal(a, b)
                spikes += int(outs["c"][1].sum())
            assert counters["numpy"].counts == counters["c"].counts and counters["c"]["add"] > 0, name
            assert 0 < spikes < 1000 * n, name


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{c[4]}" for c in CASES])
def test_a_trial_and_its_write_back_in_c_equal_the_numpy_model_bit_for_bit(case):
    net, rule, params, feedback, rounding = random_network(case, seed=CASES.index(case))
    chips = {engine: FixedPointNetwork(net, rule, params, feedback, lr=3e-3, rounding=rounding, seed=7)
             for engine in ("numpy", "c")}
    for trial in range(2):   # two trials: the second runs on written-back weights and residuals
        x, target, mask = random_trial(net.n_in, net.n_out, 1000 if trial == 0 else 200, seed=trial)
        results = {}
        for engine, chip in chips.items():
            arrays, counters = chip.run_trial(x, target, mask, engine=engine, record=True)
            results[engine] = (arrays, counters, chip.learn(arrays, engine=engine))
        (a_np, c_np, w_np), (a_c, c_c, w_c) = results["numpy"], results["c"]
        for key in ("state", "spikes", "readout", "output", "signal", "eps", "ebar", "ybar", "grad",
                    "grad_readout", "grad_bias"):
            if a_np[key] is None:
                assert a_c[key] is None
                continue
            np.testing.assert_array_equal(a_np[key], a_c[key], err_msg=key)
        assert c_np.counts == c_c.counts and w_np.counts == w_c.counts
        for key, value in chips["numpy"].state_dict().items():
            np.testing.assert_array_equal(value, chips["c"].state_dict()[key], err_msg=key)
    spikes = a_c["spikes"].mean()
    assert 0.0 < spikes < 0.9, spikes
    assert np.any(a_c["grad"] != 0) and np.any(a_c["eps"] != 0)
    assert not np.array_equal(chips["c"].words, FixedPointNetwork(net, rule, params, feedback, lr=3e-3).words)


def test_residual_write_back_loses_no_update_and_stochastic_rounding_is_unbiased():
    counters = Counters()
    rng = np.random.default_rng(5)
    shift = 6
    grad = rng.integers(-5000, 5000, 4000).astype(np.int32)
    lr = model.learning_rate_bits(1e-3)
    words = np.zeros(4000, dtype=np.int32)
    residual = np.zeros(4000, dtype=np.int16)
    mask = np.ones(4000, dtype=bool)
    requested = np.zeros(4000, dtype=np.int64)
    for trial in range(20):
        model.write_back(words, residual, grad, mask, lr, shift, "residual", 0, trial, 0, counters)
        requested += model.update_bits(grad, lr)
    # every update arrives: words on the grid plus the kept residual are exactly what was asked
    np.testing.assert_array_equal(words.astype(np.int64) * (1 << shift) + residual, requested)
    assert np.all(np.abs(residual) <= 1 << (shift - 1))
    assert np.any(words != 0) and np.any(residual != 0)
    # stochastic rounding: no residual, the mean over trials is the requested change
    words = np.zeros(4000, dtype=np.int32)
    for trial in range(400):
        model.write_back(words, residual, np.full(4000, 30000, np.int32), mask, lr, shift, "stochastic", 1, trial,
                         0, counters)
    expected = 400 * model.update_bits(np.int32(30000), lr) / (1 << shift)    # 400 x -30/64 word steps
    assert abs(words.mean() - expected) < 0.02 * abs(expected)
    assert counters["weight"] == 0


def test_learning_rates_keep_their_precision():
    for lr in (1e-6, 2e-5, 1e-3, 0.5, 3.0):
        mantissa, shift = model.learning_rate_bits(lr)
        assert 1 << 14 <= mantissa < 1 << 15
        assert abs(mantissa * 2.0 ** -shift - lr) <= lr * 2.0 ** -15
    with pytest.raises(ParameterError, match=r"learning rate must be in \[2\^-40, 32768\)"):
        model.learning_rate_bits(0.0)


def test_tables_interpolate_within_a_few_lsb():
    for table, function in ((model.sigmoid_table(), lambda x: 1 / (1 + np.exp(-x))),
                            (model.exp_table(), lambda x: np.exp(-x)),
                            (model.pseudo_table(make_cell(CELLS["snu"]).pseudo), lambda x: 1 - np.tanh(x) ** 2)):
        x = np.linspace(0, 20, 5001)
        assert np.max(np.abs(from_s1615(table(to_s1615(x))) - function(x))) < 3e-4


def test_saturation_is_counted_never_silent():
    counters = Counters()
    words = np.array([[0xFFFF, 0xFFFF, 3, -0xFFFF, -5]], dtype=np.int32)
    current = model.synaptic_input(words, np.array([1, 1, 1, 1, 1]), 0, counters)
    assert counters["ring_buffer"] == 3     # the second and third excitatory events, none inhibitory
    assert current[0] == 0xFFFF - 0xFFFF    # both buffers at 0xFFFF (the inhibitory one by 0xFFFF + 5)
    counters = Counters()
    words = np.array([0xFFF0], dtype=np.int32)
    model.write_back(words, np.zeros(1, np.int16), np.array([-(1 << 30)], np.int32), np.ones(1, bool),
                     model.learning_rate_bits(1.0), 0, "residual", 0, 0, 0, counters)
    assert words[0] == 0xFFFF and counters["weight"] == 1


def test_what_does_not_fit_s1615_is_refused_before_anything_runs():
    rule = make_rule("eprop")

    def build(cell=None, readout_leak=0.0, weight=None, layers=1, output="step"):
        spec = dict(CELLS["lif"]) if cell is None else cell
        net = Network(4, [Layer(5, make_cell(spec), recurrent=True) for _ in range(layers)],
                      Readout(2, leak=readout_leak))
        params = net.init_params(seed=0)
        if weight is not None:
            params["layer0.W"][...] = weight
        return FixedPointNetwork(net, rule if layers == 1 else make_rule("eprop"), params, {}, lr=1e-3)

    with pytest.raises(ParameterError, match=r"membrane decay exp\(-dt / tau_m\) .* rounds to 1.0 in s16.15"):
        build(dict(CELLS["lif"], tau_m=1e6))
    with pytest.raises(ParameterError, match="readout leak .* rounds to 1.0"):
        build(readout_leak=0.99999)
    with pytest.raises(ParameterError, match="synapses: .* needs a ring-buffer shift of 18; s16.15 inputs"):
        build(weight=20000.0)
    with pytest.raises(ParameterError, match="runs one hidden layer, got 2"):
        build(layers=2)
    with pytest.raises(ParameterError, match="spiking cells"):
        build({"kind": "snu", "output": "sigmoid"})
    net = Network(4, [Layer(5, make_cell(CELLS["snu"]), recurrent=True)], Readout(2))
    with pytest.raises(ParameterError, match="needs exact OSTL traces"):
        FixedPointNetwork(net, make_rule("ostl"), net.init_params(seed=0), {}, lr=1e-3)


def test_the_arm_objects_build_warning_free_and_carry_no_floating_point(tmp_path):
    from ostl.hardware.spinnaker.build import ARM_ALLOWED_UNDEFINED, arm_objects, arm_tool, object_sizes

    objects = arm_objects(tmp_path)      # -Wall -Wextra -Werror: a warning fails the build
    assert {o.name for o in objects} >= {"neuron_lif.o", "neuron_snu.o", "eligibility.o", "learning_signal.o",
                                         "write_back.o", "readout.o", "synapse_input.o", "network.o"}
    header = subprocess.run([arm_tool("readelf"), "-h", "-A", str(objects[0])], capture_output=True, text=True,
                            check=True).stdout
    assert "ARM" in header and "v5TE" in header           # the ARM968's architecture
    undefined = set()
    for obj in objects:
        nm = subprocess.run([arm_tool("nm"), "-u", str(obj)], capture_output=True, text=True, check=True).stdout
        undefined |= {line.split()[-1] for line in nm.splitlines() if line.strip()}
    helpers = {s for s in undefined if not s.startswith("ostl_")}
    assert not [s for s in helpers if s.startswith(("__aeabi_f", "__aeabi_d")) or "float" in s or "sf" in s]
    assert helpers <= set(ARM_ALLOWED_UNDEFINED), helpers
    calls = set()
    for obj in objects:
        dump = subprocess.run([arm_tool("objdump"), "-dr", str(obj)], capture_output=True, text=True,
                              check=True).stdout
        calls |= {line.split()[-1] for line in dump.splitlines() if "R_ARM_CALL" in line}
    assert {c for c in calls if c.startswith("__aeabi")} == {"__aeabi_uldivmod"}   # kdivk only
    assert sum(t for t, _, _ in object_sizes(objects).values()) < 32 * 1024     # fits the 32 KiB ITCM


def test_spinnaker_build_writes_both_builds_and_prints_sizes(tmp_path, capsys):
    from ostl.cli import main

    assert main(["spinnaker-build", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "libostl_spinnaker.so" in out and "eligibility.o" in out and "total" in out
    assert (tmp_path / "libostl_spinnaker.so").exists() and (tmp_path / "arm968" / "network.o").exists()
    assert main(["spinnaker-build"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err


def test_the_saved_state_restores_the_chip_exactly():
    net, rule, params, feedback, rounding = random_network(CASES[0])
    chip = FixedPointNetwork(net, rule, params, feedback, lr=3e-3)
    x, target, mask = random_trial(net.n_in, net.n_out, 200, seed=3)
    arrays, _ = chip.run_trial(x, target, mask)
    chip.learn(arrays)
    twin = FixedPointNetwork(net, rule, params, feedback, lr=3e-3)
    twin.load_state_dict(copy.deepcopy(chip.state_dict()))
    for c in (chip, twin):
        c.learn(c.run_trial(x, target, mask)[0])
    for key, value in chip.state_dict().items():
        np.testing.assert_array_equal(value, twin.state_dict()[key], err_msg=key)
    assert ONE == 32768
