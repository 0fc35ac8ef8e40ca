"""The gradient-oracle file contract of ``ostl grad`` and ``ostl compare``.

``PROBLEM.npz`` describes one recurrent SNU layer with a stateless linear readout and
MSE loss::

    s^t = W x^t + H y^{t-1} + d * s^{t-1} * (1 - y^{t-1})
    y^t = h(s^t + b)
    E   = sum_t 0.5 * |W_out y^t - y*^t|^2

=============  ==============  ===============================================
key            shape           meaning
=============  ==============  ===============================================
``x``          (T, n_in)       input
``y_target``   (T, n_out)      target ``y*``
``W``          (n, n_in)       input weights
``H``          (n, n)          recurrent weights
``b``          (n,)            bias (negative threshold)
``W_out``      (n_out, n)      readout weights
``decay``      ()              ``d`` in [0, 1)
``output``     () str          ``'step'`` (Heaviside) or ``'sigmoid'``
``pseudo``     () str          ``'tanh'`` (1 - tanh^2) or ``'fast_sigmoid'``
                               (1/(100|v|+1)^2); used by ``'step'``
=============  ==============  ===============================================

``GRADS.npz`` holds ``loss`` and ``dW``, ``dH``, ``db``, ``dW_out`` (the rule's
estimate of dE/d each; exact for ``bptt`` and ``ostl``).
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .cells import SNU
from .errors import ParameterError, ProblemFileError
from .network import Layer, Network, Readout
from .online import OnlineLearner
from .rules import RULE_NAMES, make_rule

ARRAY_KEYS = ("x", "y_target", "W", "H", "b", "W_out")
SCALAR_KEYS = ("decay", "output", "pseudo")
GRAD_KEYS = {"dW": "layer0.W", "dH": "layer0.H", "db": "layer0.bias", "dW_out": "readout.W"}


@dataclass
class Problem:
    """A gradient problem: one recurrent SNU layer, its parameters, an input and a target."""

    network: Network
    params: dict
    x: np.ndarray
    y_target: np.ndarray


def load_problem(path):
    """Read and validate ``path``; raises :class:`ProblemFileError` with one line."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ProblemFileError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ProblemFileError(f"{path}: not a readable .npz file ({exc})") from None
    try:
        with data:
            missing = [k for k in ARRAY_KEYS + SCALAR_KEYS if k not in data.files]
            if missing:
                raise ProblemFileError(f"{path}: missing key(s) {', '.join(missing)}")
            arrays = {}
            for key in ARRAY_KEYS:
                try:
                    arrays[key] = np.asarray(data[key], dtype=np.float64)
                except (TypeError, ValueError):
                    raise ProblemFileError(f"{path}: '{key}' must be numeric") from None
            scalars = {k: data[k] for k in SCALAR_KEYS}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ProblemFileError(f"{path}: a damaged .npz file ({exc})") from None
    for key, arr in arrays.items():
        want = 1 if key == "b" else 2
        if arr.ndim != want:
            raise ProblemFileError(f"{path}: '{key}' must be {want}-D, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ProblemFileError(f"{path}: '{key}' contains NaN or inf")
    x, y, W, H, b, W_out = (arrays[k] for k in ARRAY_KEYS)
    # sizes come from x (T, n_in), y_target (n_out) and b (n); all else must agree
    T, n_in = x.shape
    n, n_out = b.shape[0], y.shape[1]
    expected = {"y_target": (T, n_out), "W": (n, n_in), "H": (n, n), "b": (n,), "W_out": (n_out, n)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise ProblemFileError(f"{path}: '{key}' must have shape {shape}, got {arrays[key].shape}")
    if T < 1:
        raise ProblemFileError(f"{path}: 'x' must have at least one time step")
    try:
        decay = float(scalars["decay"])
    except (TypeError, ValueError):
        raise ProblemFileError(f"{path}: 'decay' must be a number") from None
    output, pseudo = str(scalars["output"]), str(scalars["pseudo"])
    if output not in ("step", "sigmoid"):
        raise ProblemFileError(f"{path}: 'output' must be 'step' or 'sigmoid', got {output!r}")
    if pseudo not in ("tanh", "fast_sigmoid"):
        raise ProblemFileError(f"{path}: 'pseudo' must be 'tanh' or 'fast_sigmoid', got {pseudo!r}")
    try:
        cell = SNU(decay=decay, activation="identity", output=output, pseudo=pseudo)
    except ParameterError as exc:
        raise ProblemFileError(f"{path}: {exc}") from None
    network = Network(n_in, [Layer(n, cell, recurrent=True, autapses=True)], Readout(n_out, bias=False))
    params = {"layer0.W": W, "layer0.H": H, "layer0.bias": b, "readout.W": W_out}
    return Problem(network, params, x, y)


def save_problem(path, x, y_target, W, H, b, W_out, decay, output="step", pseudo="tanh"):
    """Write a problem file (``.npz``) of the given arrays and cell settings."""
    np.savez(path, x=x, y_target=y_target, W=W, H=H, b=b, W_out=W_out, decay=np.array(decay),
             output=np.array(output), pseudo=np.array(pseudo))


def random_problem(seed=0, T=100, n_in=4, n=5, n_out=2, decay=0.8, output="step", pseudo="tanh",
                   weight_scale=2.0, input_prob=0.3):
    """A random problem with an active (spiking) network, for tests and examples."""
    from .cells import SNU
    from .validation import check_int, check_positive, check_range

    for name, value, minimum in (("seed", seed, 0), ("T", T, 1), ("n_in", n_in, 1), ("n", n, 1), ("n_out", n_out, 1)):
        check_int(name, value, minimum=minimum)
    SNU(decay=decay, output=output, pseudo=pseudo)   # the model must be valid before it is written
    check_positive("weight_scale", weight_scale)
    check_range("input_prob", input_prob, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    return dict(
        x=(rng.random((T, n_in)) < input_prob).astype(np.float64),
        y_target=rng.normal(size=(T, n_out)),
        W=rng.normal(0, weight_scale / np.sqrt(n_in), (n, n_in)),
        H=rng.normal(0, weight_scale / np.sqrt(n), (n, n)),
        b=rng.normal(-0.5, 0.2, n),
        W_out=rng.normal(0, 1 / np.sqrt(n), (n_out, n)),
        decay=decay, output=output, pseudo=pseudo,
    )


def problem_gradients(problem, rule, seed=0):
    """``(loss, {dW, dH, db, dW_out})`` of ``rule`` on ``problem``."""
    rule = make_rule(rule)
    if rule.is_bptt:
        from .bptt import bptt_gradients

        loss, grads = bptt_gradients(problem.network, problem.params, problem.x, problem.y_target)
    else:
        learner = OnlineLearner(problem.network, rule, problem.params, feedback_seed=seed)
        result = learner.run(problem.x, problem.y_target)
        loss, grads = result.loss, result.grads
    return loss, {key: grads[name] for key, name in GRAD_KEYS.items()}


def relative_deviation(estimate, reference):
    """``max|estimate - reference| / max|reference|`` (0 if both are zero)."""
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    diff = float(np.max(np.abs(estimate - reference))) if reference.size else 0.0
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


COMPARED_RULES = tuple(r for r in RULE_NAMES if r != "bptt")
