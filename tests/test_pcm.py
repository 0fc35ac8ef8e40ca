"""PCM device model (issue 11, items 1 and 5): statistics against the closed forms over 10^5
devices, independence of the order and batching of operations, exact save and resume, and
the `ostl pcm-sim` command."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from ostl.errors import ParameterError
from ostl.hardware.pcm import counter_rng
from ostl.hardware.pcm.devices import DRIFT_T0, IBM_T0, PULSE_DECAY, PCMDevices, set_mean, set_std

N = 100_000


def _within(sample, expected, standard_error, k=4.0):
    assert abs(sample - expected) < k * standard_error, (sample, expected, standard_error)


def test_first_pulse_increment_matches_the_censored_normal_closed_form():
    """After a RESET (G0 ~ N(0.1, 0.01)), the first pulse uses P = exp(-1/2.6); G is clipped at
    0.1 from below, so the increment is a censored normal: E[max(X, a)] and its variance."""
    devices = PCMDevices(N, seed=3)
    devices.reset(0.0)
    g0 = devices.G.copy()
    devices.set_pulse(1.0)
    increment = devices.G - g0
    mu, sigma = set_mean(g0, PULSE_DECAY), set_std(g0, PULSE_DECAY)
    floor = 0.1 - g0                                     # the increment is at least this
    alpha = (floor - mu) / sigma
    mean_i = floor * norm.cdf(alpha) + mu * norm.sf(alpha) + sigma * norm.pdf(alpha)
    second_i = (floor ** 2 * norm.cdf(alpha) + (mu ** 2 + sigma ** 2) * norm.sf(alpha)
                + sigma * (mu + floor) * norm.pdf(alpha))
    mean, variance = mean_i.mean(), second_i.mean() - mean_i.mean() ** 2
    _within(increment.mean(), mean, np.sqrt(variance / N))
    _within(increment.std(), np.sqrt(variance), np.sqrt(variance / (2 * N)) * 1.5)
    assert 1.8 < mean < 2.0   # about 1.9 uS: the first pulse's large step


def test_increment_at_a_given_conductance_and_history():
    devices = PCMDevices(N, seed=4)
    devices.reset(0.0)
    devices.G[:] = 8.0
    devices.P[:] = 0.3
    devices.set_pulse(1.0)
    increment = devices.G - 8.0
    p = 0.3 * PULSE_DECAY
    mu, sigma = set_mean(8.0, p), set_std(8.0, p)
    _within(increment.mean(), mu, sigma / np.sqrt(N))
    _within(increment.std(), sigma, sigma / np.sqrt(2 * N))


def test_saturation_and_floor():
    devices = PCMDevices(1000, seed=1, gmax=3.0)
    devices.reset(0.0)
    for k in range(30):
        devices.set_pulse(1.0 + k)
    assert devices.G.max() <= 3.0 and devices.G.min() >= 0.1 and np.mean(devices.G == 3.0) > 0.5


def test_drift_at_one_hour():
    hour = 3600.0
    constant = PCMDevices(10, seed=1)
    constant.reset(0.0)
    constant.set_pulse(1.0)
    np.testing.assert_allclose(constant.conductance(1.0 + hour), constant.G * (hour / DRIFT_T0) ** -0.04, rtol=1e-12)
    np.testing.assert_array_equal(constant.conductance(1.0 + DRIFT_T0 / 2), constant.G)   # no drift before t0
    ibm = PCMDevices(N, seed=2, drift="ibm", programming_noise=False)
    ibm.reset(0.0)   # G = 0.1 uS: g = 0.004, mu_nu and sigma_nu at their clip values 0.1 and 0.045
    ratio = ibm.conductance(hour) / ibm.G
    L = np.log((hour + IBM_T0) / IBM_T0)
    # nu = |N(0.1, 0.045^2)| (folded normal): moments by quadrature
    z = np.linspace(-8, 8, 20001)
    weight = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi) * (z[1] - z[0])
    nu = np.abs(0.1 + 0.045 * z)
    expected = np.sum(weight * np.exp(-nu * L))
    spread = np.sqrt(np.sum(weight * np.exp(-2 * nu * L)) - expected ** 2)
    _within(ratio.mean(), expected, spread / np.sqrt(N))
    nu_mean = np.sum(weight * nu)
    nu_std = np.sqrt(np.sum(weight * nu ** 2) - nu_mean ** 2)
    _within(ibm.nu.mean(), nu_mean, nu_std / np.sqrt(N))
    _within(ibm.nu.std(), nu_std, nu_std / np.sqrt(2 * N))


@pytest.mark.parametrize("conductance", [1.0, 5.0, 15.0])
def test_read_noise_std(conductance):
    simple = PCMDevices(N, seed=5, read_noise="simple")
    simple.reset(0.0)
    simple.G[:] = conductance
    reads = simple.read(1.0)
    std = 0.03 * conductance + 0.13
    _within(reads.mean(), conductance, std / np.sqrt(N))
    _within(reads.std(), std, std / np.sqrt(2 * N))
    flicker = PCMDevices(N, seed=6, read_noise="1/f", drift="off")
    flicker.reset(0.0)
    flicker.G[:] = conductance
    reads = flicker.read(100.0)
    g = conductance / 25.0
    std = conductance * min(0.0088 / g ** 0.65, 0.2) * np.sqrt(np.log((100.0 + 20.0 + 250e-9) / (2 * 250e-9)))
    _within(reads.std(), std, std / np.sqrt(2 * N))
    assert not np.array_equal(flicker.read(100.0), reads)   # every read draws anew


def _history(order, batches):
    devices = PCMDevices(200, seed=9, drift="ibm", read_noise="1/f")
    devices.reset(0.0)
    for step in range(1, 6):
        for batch in np.array_split(order, batches):
            devices.set_pulse(float(step), batch)
    return devices


def test_results_do_not_depend_on_order_or_batching():
    rng = np.random.default_rng(0)
    reference = _history(np.arange(200), 1)
    reference_reads = reference.read(50.0)   # a read advances the devices' read counters
    for order, batches in ((np.arange(200)[::-1], 7), (rng.permutation(200), 200), (rng.permutation(200), 3)):
        other = _history(order, batches)
        np.testing.assert_array_equal(other.G, reference.G)
        reads = np.empty(200)
        for batch in np.array_split(order, batches):   # reads in the same shuffled batches
            reads[batch] = other.read(50.0, batch)
        np.testing.assert_array_equal(reads, reference_reads)


def test_save_and_resume_are_exact():
    straight = PCMDevices(500, seed=2, drift="ibm")
    straight.reset(0.0)
    for step in range(1, 4):
        straight.set_pulse(float(step))
    saved = straight.state_dict()
    for step in range(4, 8):
        straight.set_pulse(float(step))
    resumed = PCMDevices(500, seed=2, drift="ibm")
    resumed.load_state_dict(saved)
    for step in range(4, 8):
        resumed.set_pulse(float(step))
    np.testing.assert_array_equal(resumed.G, straight.G)
    np.testing.assert_array_equal(resumed.read(20.0), straight.read(20.0))
    assert straight.pulses.tolist() == [7] * 500 and straight.resets.tolist() == [1] * 500


def test_counter_generator_is_a_standard_normal():
    z = counter_rng.normal(1, 2, np.arange(N), np.zeros(N, dtype=np.int64))
    _within(z.mean(), 0.0, 1 / np.sqrt(N))
    _within(z.std(), 1.0, 1 / np.sqrt(2 * N))
    assert not np.array_equal(z, counter_rng.normal(1, 2, np.arange(N), np.ones(N, dtype=np.int64)))


def test_bad_operations_are_refused():
    with pytest.raises(ParameterError, match="devices must be >= 1"):
        PCMDevices(0)
    devices = PCMDevices(3)
    devices.reset(5.0)
    with pytest.raises(ParameterError, match="time must not run backwards"):
        devices.set_pulse(1.0)
    with pytest.raises(ParameterError, match=r"device indices must be in \[0, 2\]"):
        devices.set_pulse(6.0, [3])


def _ostl(*args):
    return subprocess.run([sys.executable, "-m", "ostl", *args], capture_output=True, text=True, timeout=120)


def test_pcm_sim_command(tmp_path):
    out = tmp_path / "pcm.npz"
    run = _ostl("pcm-sim", "--devices", "50", "--pulses", "10", "--seed", "3", "--gmax", "15", "--out", str(out),
                "--read-times", "1,60,3600")
    assert run.returncode == 0, run.stderr
    data = np.load(out)
    assert data["G"].shape == (11, 50) and data["G_read"].shape == (3, 50)
    assert np.all(np.diff(data["G"].mean(axis=1)) > 0) and data["G"].max() <= 15.0
    assert data["G_read"][2].mean() < data["G_read"][0].mean()   # drift lowers the conductance
    again = tmp_path / "again.npz"
    _ostl("pcm-sim", "--devices", "50", "--pulses", "10", "--seed", "3", "--gmax", "15", "--out", str(again),
          "--read-times", "1,60,3600")
    np.testing.assert_array_equal(np.load(again)["G_read"], data["G_read"])
    for bad, message in ((["--devices", "0"], "--devices must be >= 1"), (["--pulses", "-1"], "--pulses must be >= 0"),
                         (["--gmax", "0.05"], "--gmax (uS) must be in (0.1, inf)"),
                         (["--read-times", "5,x"], "--read-times must be comma-separated seconds"),
                         (["--read-times", "5,1"], "--read-times must be finite, >= 0 and increasing")):
        args = {"--devices": "5", "--pulses": "3", "--out": str(tmp_path / "x.npz")}
        args.update(dict(zip(bad[::2], bad[1::2])))
        run = _ostl("pcm-sim", *[item for pair in args.items() for item in pair])
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
