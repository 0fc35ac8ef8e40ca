"""Cross-check of the PCM device model against an implementation nobody here wrote: IBM's
aihwkit 1.1.0 ``PCMLikeNoiseModel`` (its pure-torch inference noise model).

In aihwkit's configuration -- drift ``'ibm'`` (t0 = 20 s, nu per device from the programmed
conductance) and ``'1/f'`` read noise, g_max = 25 uS -- our devices programmed to a
conductance G and read an hour later must have the statistics aihwkit gives the same
conductances: the drift exponents, the drifted conductance without read noise, and the
noisy read (mean and standard deviation, two-sample, within 4 standard errors). Over 10^5
devices per conductance. Installed by the ``aihwkit`` extra (``make test`` installs it)."""

import numpy as np
import pytest

from ostl.hardware.pcm.devices import PCMDevices

aihwkit = pytest.importorskip("aihwkit", reason="aihwkit 1.1.0 is not installed (pip install -c "
                              "requirements/constraints.txt '.[aihwkit]')")
torch = pytest.importorskip("torch")

from aihwkit.inference.noise.pcm import PCMLikeNoiseModel  # noqa: E402

N = 100_000
HOUR = 3600.0


def _same(ours, theirs, what):
    """Means and standard deviations of two samples agree within 4 standard errors."""
    se_mean = np.sqrt(ours.var() / ours.size + theirs.var() / theirs.size)
    assert abs(ours.mean() - theirs.mean()) < 4 * se_mean, f"{what}: mean {ours.mean()} vs {theirs.mean()}"
    se_std = np.sqrt(ours.var() / (2 * ours.size) + theirs.var() / (2 * theirs.size))
    assert abs(ours.std() - theirs.std()) < 4 * se_std, f"{what}: std {ours.std()} vs {theirs.std()}"


def _ours(conductance, read_noise):
    devices = PCMDevices(N, seed=11, drift="ibm", read_noise=read_noise, ideal_step=conductance - 0.1)
    devices.reset(0.0)       # ideal devices: exactly 0.1 uS, then one SET to exactly `conductance`
    devices.set_pulse(0.0)
    np.testing.assert_allclose(devices.G, conductance)
    return devices


@pytest.mark.parametrize("conductance", [2.0, 8.0, 20.0])
def test_drift_and_read_noise_statistics_equal_aihwkits(conductance):
    torch.manual_seed(0)
    model = PCMLikeNoiseModel(g_max=25.0)
    g = torch.full((N,), conductance, dtype=torch.float64)
    nu = model.generate_drift_coefficients(g)
    quiet = PCMLikeNoiseModel(g_max=25.0, read_noise_scale=0.0)
    theirs_drift = quiet.apply_drift_noise_to_conductance(g, nu, HOUR).numpy()
    theirs_read = model.apply_drift_noise_to_conductance(g, nu, HOUR).numpy()

    devices = _ours(conductance, "1/f")
    _same(devices.nu, nu.numpy(), "drift exponent nu")
    _same(devices.conductance(HOUR), theirs_drift, "drifted conductance at 1 h")
    _same(devices.read(HOUR), theirs_read, "1/f read at 1 h")
    # and the model is not trivially equal to anything: an hour of drift and noise change it
    assert theirs_read.mean() < 0.9 * conductance and theirs_read.std() > 0.01 * conductance


def test_the_check_can_fail():
    """A model with another drift law (ours with Nandakumar's constant nu = 0.04) is told apart."""
    torch.manual_seed(0)
    model = PCMLikeNoiseModel(g_max=25.0, read_noise_scale=0.0)
    g = torch.full((N,), 8.0, dtype=torch.float64)
    theirs = model.apply_drift_noise_to_conductance(g, model.generate_drift_coefficients(g), HOUR).numpy()
    constant = PCMDevices(N, seed=11, drift="constant", read_noise="off", ideal_step=7.9)
    constant.reset(0.0)
    constant.set_pulse(0.0)
    with pytest.raises(AssertionError):
        _same(constant.conductance(HOUR), theirs, "drift")
