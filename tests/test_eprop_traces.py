"""e-prop's eligibility traces, written out by hand from the paper (Bellec et al.,
Methods eq. 22-23 for LIF and eq. 27-28 for ALIF), against the engine's generic
trace recursion.

Index mapping (see ostl/cells.py): e-prop's ``v^{t+1} = alpha v^t + W x^t`` is our
``v^t = alpha v^{t-1} + W x^t`` with the input relabelled; its ``zhat^t`` (eq. 22,
the presynaptic spikes filtered with alpha) becomes ``zhat^t = alpha zhat^{t-1} + x^t``
and eq. 23 reads ``e^t = h^t zhat^t``.
"""

import numpy as np

from ostl import ALIF, LIF, Layer, Network, OnlineLearner, Readout

from .helpers import assert_active, poisson_input


def _filtered(spikes, alpha):
    out = np.zeros_like(spikes)
    acc = np.zeros(spikes.shape[1])
    for t in range(spikes.shape[0]):
        acc = alpha * acc + spikes[t]
        out[t] = acc
    return out


def _run(cell, recurrent, seed=0, steps=300):
    rng = np.random.default_rng(seed)
    net = Network(6, [Layer(5, cell, recurrent=recurrent)], Readout(2))
    params = net.init_params(seed=seed + 1, weight_scale=3.0, recurrent_scale=2.0)
    x = poisson_input(rng, steps, 6)
    y = rng.normal(size=(steps, 2))
    learner = OnlineLearner(net, "eprop", params)
    res = learner.run(x, y, record=("state", "output", "eligibility_vector", "eligibility_trace"))
    assert_active(net.forward(params, x, y))
    return net, params, x, res


def test_lif_trace_is_filtered_presynaptic_trace_times_pseudo_derivative():
    cell = LIF(tau_m=15.0, v_th=0.5)
    net, params, x, res = _run(cell, recurrent=True)
    v = res.records["state"][0][..., 0]  # (T, n)
    z = res.records["output"][0]
    h = cell.pseudo((v - cell.v_th) / cell.v_th) / cell.v_th  # pseudo-derivative dz/dv
    zhat_in = _filtered(x, cell.alpha)  # eq. 22, input synapses
    z_prev = np.vstack([np.zeros((1, z.shape[1])), z[:-1]])
    zhat_rec = _filtered(z_prev, cell.alpha)  # eq. 22, recurrent synapses (spikes of t-1)
    e_in = res.records["eligibility_trace"]["layer0.W"]  # (T, n, m)
    e_rec = res.records["eligibility_trace"]["layer0.H"]
    np.testing.assert_allclose(e_in, h[:, :, None] * zhat_in[:, None, :], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(e_rec, h[:, :, None] * zhat_rec[:, None, :], rtol=1e-12, atol=1e-14)
    # the eligibility vector is the presynaptic trace alone, the same for every neuron
    eps = res.records["eligibility_vector"]["layer0.W"][:, :, 0, :]
    np.testing.assert_allclose(eps, np.broadcast_to(zhat_in[:, None, :], eps.shape), rtol=1e-12, atol=1e-14)
    assert np.count_nonzero(h) > 0.02 * h.size  # the traces are not trivially zero


def test_alif_traces_follow_eq_27_28():
    cell = ALIF(tau_m=15.0, tau_a=80.0, beta=0.7, v_th=0.5)
    net, params, x, res = _run(cell, recurrent=False, seed=3)
    states = res.records["state"][0]
    v, a = states[..., 0], states[..., 1]
    h = cell.pseudo((v - cell.v_th - cell.beta * a) / cell.v_th) / cell.v_th
    T, n = v.shape
    m = x.shape[1]
    eps_v = _filtered(x, cell.alpha)[:, None, :].repeat(n, axis=1)  # (T, n, m)
    eps_a = np.zeros((T, n, m))
    for t in range(1, T):
        # eq. 27: eps_a^{t} = h^{t-1} eps_v^{t-1} + (rho - h^{t-1} beta) eps_a^{t-1}
        eps_a[t] = h[t - 1][:, None] * eps_v[t - 1] + (cell.rho - h[t - 1][:, None] * cell.beta) * eps_a[t - 1]
    e = h[:, :, None] * (eps_v - cell.beta * eps_a)  # eq. 28
    rec_eps = res.records["eligibility_vector"]["layer0.W"]  # (T, n, 2, m)
    np.testing.assert_allclose(rec_eps[:, :, 0], eps_v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rec_eps[:, :, 1], eps_a, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res.records["eligibility_trace"]["layer0.W"], e, rtol=1e-11, atol=1e-14)
    assert np.max(np.abs(eps_a)) > 1e-3  # the adaptation component is exercised


def test_eprop_gradient_is_learning_signal_times_trace():
    """e-prop eq. 24 / 45 with symmetric feedback and a leaky readout:
    dE/dW = sum_t (W_out^T delta^t) . ebar^t, ebar filtered with kappa."""
    cell = LIF(tau_m=15.0, v_th=0.5)
    rng = np.random.default_rng(5)
    net = Network(6, [Layer(5, cell, recurrent=True)], Readout(2, leak=0.7))
    params = net.init_params(seed=2, weight_scale=3.0)
    x = poisson_input(rng, 200, 6)
    y = rng.normal(size=(200, 2))
    res = OnlineLearner(net, "eprop", params).run(x, y, record=("state", "readout"))
    v = res.records["state"][0][..., 0]
    h = cell.pseudo((v - cell.v_th) / cell.v_th) / cell.v_th
    e = h[:, :, None] * _filtered(x, cell.alpha)[:, None, :]
    ebar = _filtered(e.reshape(200, -1), 0.7).reshape(e.shape)
    delta = res.records["readout"] - y
    L = delta @ params["readout.W"]
    expected = np.einsum("tj,tji->ji", L, ebar)
    np.testing.assert_allclose(res.grads["layer0.W"], expected, rtol=1e-10, atol=1e-13)
