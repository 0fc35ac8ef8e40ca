#!/usr/bin/env python3
"""The peer of benchmarks/bench_peers.py (issue 23): braintrace 0.2.6 per-step times for a recurrent LIF network.

Runs in the environment of `make peers` (.venv-peers: the `peers` extra); bench_peers.py starts it.

Network (identical for every algorithm):
  * m = n input channels of frozen (seeded) Poisson spikes, p = 0.05 per step, T = 1000 steps
  * one recurrent layer of n LIF neurons = braintrace's LIF, i.e. ``brainpy.state.LIF``
    (``braintrace.nn.LIF`` is a deprecated alias of it), dt = 1 step, tau_mem = 20 steps,
    V_th = 1.0, V_reset = V_rest = 0, soft reset (the brainpy.state default), surrogate =
    braintools.surrogate.ReluGrad() (the default).  brainpy's LIF integrates
    tau dV/dt = -V + R*I with exponential Euler, i.e. V <- alpha*V + (1-alpha)*R*I with
    alpha = exp(-dt/tau); we set R = 1/(1-alpha) so the update is exactly
        V_t = alpha * (V_{t-1} - V_th * z_{t-1}) + W_in x_t + W_rec z_{t-1},  z_t = H(V_t - V_th)
    (note: brainpy applies the soft reset *before* the leak, so the reset is decayed by alpha).
  * input + recurrent weights are one ``braintrace.nn.Linear(m + n, n, b_init=None)`` applied to
    concat([x_t, z_{t-1}]), exactly as braintrace's own SNN examples/tutorials wire it
    (mathematically identical to separate W_in, W_rec; no bias).
  * leaky linear readout of 3 units: ``braintrace.nn.LeakyRateReadout`` (no bias),
        y_t = kappa * y_{t-1} + W_out^T z_t,  kappa = exp(-dt/tau_out), tau_out = 20 steps.
  * loss: mean over t of MSE(y_t, target_t) against a fixed random (seeded) target sequence.
  * batch size 1 (states have shape (1, n)).

Algorithms timed (each: one warm-up call incl. compilation + block_until_ready, then the
fastest of 3 timed calls over the full T = 1000 steps, divided by T):
  forward : brainstate.transform.jit( brainstate.transform.for_loop(model step + loss) ), no grads.
  eprop   : braintrace.EProp(feedback='symmetric', kappa_filter_decay=kappa_out) via
            braintrace.compile(...) + learner.etrace_grad(...) inside brainstate.transform.jit.
            (etrace_grad itself is a brainstate.transform.scan over time: per step it runs the
            model, updates the eligibility traces and accumulates the online gradient.)
  d_rtrl  : braintrace.D_RTRL, same driver.
  bptt    : brainstate.transform.jit( brainstate.transform.grad( for_loop over T ) ).
  (opt-in, --algorithms ...,pp_prop : braintrace.pp_prop == braintrace.ES_D_RTRL, decay 0.9)

Output: one JSON line per (n, algorithm).  Fields: n, dtype, algorithm, us_per_step,
compile_s (warm-up call wall time), xla_temp_mb (XLA's temp-buffer size of the compiled
program from jax `Compiled.memory_analysis()`, i.e. peak scratch memory beyond inputs/outputs;
null if unavailable), plus for gradient algorithms the cosine similarity of the flattened
gradient of each weight matrix (w_inrec = [W_in; W_rec], w_out) to the BPTT gradient and the
ratio of their norms (sanity check only), and for 'forward' the mean firing rate.

Usage:
  .venv-peers/bin/python benchmarks/peers_braintrace.py --dtype float32 --sizes 64,128
  .venv-peers/bin/python benchmarks/peers_braintrace.py --dtype float64 --sizes 64,128   # float64: its own process
"""

import argparse
import json
import math
import os
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dtype', choices=['float32', 'float64'], default='float32')
    p.add_argument('--sizes', default='64,128,256,512', help='comma-separated n values')
    p.add_argument('--algorithms', default='forward,eprop,d_rtrl,bptt,ff_d_rtrl',
                   help='comma-separated subset of forward,eprop,d_rtrl,bptt,ff_d_rtrl,pp_prop')
    p.add_argument('--T', type=int, default=1000)
    p.add_argument('--tau', type=float, default=20.0, help='membrane time constant (steps)')
    p.add_argument('--tau-out', type=float, default=20.0, help='readout time constant (steps)')
    p.add_argument('--v-th', type=float, default=1.0)
    p.add_argument('--eprop-kappa', type=float, default=None,
                   help="EProp kappa_filter_decay; default exp(-1/tau_out). 0 makes EProp == D_RTRL")
    p.add_argument('--rate', type=float, default=0.05, help='input Poisson spike probability per step')
    p.add_argument('--n-out', type=int, default=3)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--single-thread', action='store_true',
                   help='restrict XLA:CPU to one thread (set before jax is imported)')
    p.add_argument('--no-mem', action='store_true', help='skip the XLA memory analysis')
    return p.parse_args()


ARGS = parse_args()
if ARGS.single_thread:
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                               ' --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # noqa: E402
import numpy as np  # noqa: E402

# float64 must be enabled before any array is created.
jax.config.update('jax_enable_x64', ARGS.dtype == 'float64')

import brainpy.state  # noqa: E402  (braintrace's LIF lives here; braintrace.nn.LIF is a deprecated alias)
import brainstate  # noqa: E402
import braintools  # noqa: E402  (dependency of braintrace; initializers / surrogate)
import braintrace  # noqa: E402
import jax.numpy as jnp  # noqa: E402

# Unitless simulation, dt = 1 step.  precision=64 makes brainstate/braintools default dtypes float64.
brainstate.environ.set(dt=1.0, precision=64 if ARGS.dtype == 'float64' else 32)
DTYPE = np.float64 if ARGS.dtype == 'float64' else np.float32


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
class RecurrentLIF(brainstate.nn.Module):
    """One recurrent LIF layer + leaky linear readout, wired the way braintrace's examples do
    (``recurrent=False``: the same layer fed by the input alone, ``w_inrec`` its input rows)."""

    def __init__(self, n_in, n_rec, n_out, w_inrec, w_out, tau, tau_out, v_th, recurrent=True):
        super().__init__()
        alpha = math.exp(-1.0 / tau)
        self.recurrent = recurrent
        # ETP-aware dense map on concat([x_t, z_{t-1}]) -> its weight is traced by braintrace.
        self.linear = (braintrace.nn.Linear(n_in + n_rec, n_rec, w_init=w_inrec, b_init=None) if recurrent
                       else braintrace.nn.Linear(n_in, n_rec, w_init=w_inrec[:n_in], b_init=None))
        self.neuron = brainpy.state.LIF(
            n_rec,
            R=1.0 / (1.0 - alpha),  # cancels exp-Euler's (1 - alpha) input factor: V <- alpha V + I
            tau=tau,
            V_th=v_th,
            V_reset=0.0,
            V_rest=0.0,
            V_initializer=braintools.init.ZeroInit(),
            spk_fun=braintools.surrogate.ReluGrad(),  # brainpy.state default surrogate
            spk_reset='soft',  # brainpy.state default
        )
        # ETP-aware leaky readout: y_t = exp(-dt/tau_out) * y_{t-1} + z_t @ W_out  (no bias)
        self.readout = braintrace.nn.LeakyRateReadout(n_rec, n_out, tau=tau_out, w_init=w_out)

    def update(self, x):
        if not self.recurrent:
            return self.readout(self.neuron(self.linear(x)))
        z_prev = self.neuron.get_spike()  # z_{t-1} (computed from V_{t-1})
        z = self.neuron(self.linear(jnp.concatenate([x, z_prev], axis=-1)))
        return self.readout(z)


def make_data(n, args):
    """Frozen inputs, targets and initial weights (numpy, seeded by n and --seed)."""
    rng = np.random.default_rng(args.seed * 100003 + n)
    m = n
    xs = (rng.random((args.T, 1, m)) < args.rate).astype(DTYPE)  # (T, batch=1, m)
    ys = rng.standard_normal((args.T, 1, args.n_out)).astype(DTYPE)  # (T, batch=1, 3)
    w_in = rng.standard_normal((m, n)) * (0.5 / math.sqrt(args.rate * m))
    w_rec = rng.standard_normal((n, n)) * (0.5 / math.sqrt(n))
    w_inrec = np.concatenate([w_in, w_rec], axis=0).astype(DTYPE)
    w_out = (rng.standard_normal((n, args.n_out)) / math.sqrt(n)).astype(DTYPE)
    return jnp.asarray(xs), jnp.asarray(ys), w_inrec, w_out


def build_model(n, w_inrec, w_out, args, recurrent=True):
    return RecurrentLIF(n, n, args.n_out, jnp.asarray(w_inrec), jnp.asarray(w_out),
                        args.tau, args.tau_out, args.v_th, recurrent)


def mse(out, target):
    return jnp.mean((out - target) ** 2)


# --------------------------------------------------------------------------------------------
# The four (five) benchmarked programs; each returns a brainstate-jitted fn(xs, ys).
# --------------------------------------------------------------------------------------------
def make_forward(model):
    brainstate.nn.init_all_states(model, batch_size=1)

    @brainstate.transform.jit
    def forward(xs, ys):
        brainstate.nn.reset_all_states(model, batch_size=1)

        def step(x, y):
            out = model(x)
            return mse(out, y), jnp.mean(model.neuron.get_spike())

        losses, rates = brainstate.transform.for_loop(step, xs, ys)
        return jnp.mean(losses), jnp.mean(rates)

    return forward


def make_bptt(model):
    brainstate.nn.init_all_states(model, batch_size=1)
    weights = model.states(brainstate.ParamState)

    def loss_fn(xs, ys):
        losses = brainstate.transform.for_loop(lambda x, y: mse(model(x), y), xs, ys)
        return jnp.mean(losses)

    @brainstate.transform.jit
    def bptt(xs, ys):
        brainstate.nn.reset_all_states(model, batch_size=1)
        grads, loss = brainstate.transform.grad(loss_fn, weights, return_value=True)(xs, ys)
        return grads, loss

    return bptt


def make_online(model, algorithm, x0, args):
    """braintrace's documented online usage: compile(model, Algo, x0) + learner.etrace_grad."""
    if algorithm == 'eprop':
        # Bellec et al.: the eligibility trace is low-pass filtered with the readout leak kappa.
        kappa = math.exp(-1.0 / args.tau_out) if args.eprop_kappa is None else args.eprop_kappa
        learner = braintrace.compile(model, braintrace.EProp, x0, batch_size=1,
                                     feedback='symmetric', kappa_filter_decay=kappa)
    elif algorithm == 'd_rtrl':
        learner = braintrace.compile(model, braintrace.D_RTRL, x0, batch_size=1)
    elif algorithm == 'pp_prop':  # == braintrace.ES_D_RTRL (IO-factorised traces)
        learner = braintrace.compile(model, braintrace.pp_prop, x0, batch_size=1, decay_or_rank=0.9)
    else:
        raise ValueError(algorithm)

    def step_loss(x, y):
        # exactly one learner call per step: forward + eligibility-trace update
        return mse(learner(x), y)

    @brainstate.transform.jit
    def online(xs, ys):
        brainstate.nn.reset_all_states(model, batch_size=1)
        learner.reset_state()  # zero eligibility traces
        # scan over T: per step run the model, update traces, accumulate online gradient
        grads, loss = learner.etrace_grad(xs, ys, step_fn=step_loss, reduction='mean',
                                          loss_output='scalar', return_value=True)
        return grads, loss

    return online


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------
def time_fn(fn, xs, ys, repeats):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(xs, ys))  # warm-up: trace + compile + run once
    compile_s = time.perf_counter() - t0
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(xs, ys))
        best = min(best, time.perf_counter() - t0)
    return best, compile_s, out


def xla_temp_mb(fn, xs, ys):
    if ARGS.no_mem:
        return None
    try:
        ma = fn.compile(xs, ys).memory_analysis()
        return round(ma.temp_size_in_bytes / 2 ** 20, 3)
    except Exception:  # noqa: BLE001 - optional metric
        return None


def grad_by_weight(grads, n):
    """Map a grad pytree to {'w_inrec': ..., 'w_out': ...} by leaf shape (paths differ per learner)."""
    named = {}
    for a in jax.tree.leaves(grads):
        a = np.asarray(a, dtype=np.float64)
        named['w_out' if a.shape == (n, ARGS.n_out) else 'w_inrec'] = a.ravel()
    return named


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else None


def main():
    sizes = [int(s) for s in ARGS.sizes.split(',') if s]
    algorithms = [a.strip() for a in ARGS.algorithms.split(',') if a.strip()]
    for n in sizes:
        xs, ys, w_inrec, w_out = make_data(n, ARGS)
        results = {}
        bptt_grad = None
        rate = None
        # run bptt first (if requested) so online gradients can be compared against it
        order = sorted(algorithms, key=lambda a: 0 if a == 'bptt' else 1)
        for alg in order:
            # fresh model, identical weights; ff_d_rtrl: D-RTRL on the layer without recurrence (exact there)
            model = build_model(n, w_inrec, w_out, ARGS, recurrent=alg != 'ff_d_rtrl')
            if alg == 'forward':
                fn = make_forward(model)
            elif alg == 'bptt':
                fn = make_bptt(model)
            else:
                fn = make_online(model, 'd_rtrl' if alg == 'ff_d_rtrl' else alg, xs[0], ARGS)
            best, compile_s, out = time_fn(fn, xs, ys, ARGS.repeats)
            rec = {
                'n': n, 'dtype': ARGS.dtype, 'algorithm': alg,
                'us_per_step': round(best / ARGS.T * 1e6, 3),
                'compile_s': round(compile_s, 3),
                'xla_temp_mb': xla_temp_mb(fn, xs, ys),
            }
            if alg == 'forward':
                rate = float(out[1])
                rec['loss'] = float(out[0])
                rec['mean_rate'] = round(rate, 4)
            else:
                grads, loss = out
                rec['loss'] = float(loss)
                g = grad_by_weight(grads, n)
                if alg == 'bptt':
                    bptt_grad = g
                elif bptt_grad is not None and alg != 'ff_d_rtrl':   # (BPTT is of the recurrent network)
                    # sanity check of the online estimate, per weight matrix:
                    # cosine to the BPTT gradient and ratio of norms
                    rec['cos_vs_bptt'] = {k: round(cosine(g[k], bptt_grad[k]), 4) for k in g}
                    rec['norm_ratio_vs_bptt'] = {
                        k: round(float(np.linalg.norm(g[k]) / np.linalg.norm(bptt_grad[k])), 4) for k in g}
            results[alg] = rec
        for alg in algorithms:  # print in requested order
            print(json.dumps(results[alg]), flush=True)


if __name__ == '__main__':
    main()
