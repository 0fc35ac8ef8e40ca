"""Learning signals: the spatial factor ``L_l^t`` of every rule (see :mod:`ostl.rules`)."""

from __future__ import annotations

import numpy as np


def learning_signals(kind, network, params, feedback, delta, target, mask, slopes):
    """Learning signals ``L_l`` of every layer (list, bottom to top).

    Shape-agnostic: ``delta``/``target`` are ``(n_out,)`` for one step or
    ``(K, n_out)`` for a block of steps (then ``mask`` is ``(K,)`` and ``slopes`` are
    ``(K, n_l)``); row-vector products (``delta @ W_out`` = ``W_out^T delta``) serve both.
    ``slopes[l]`` is ``dy_l/dI_l`` (stateful: ``sum_a q_a c_a``; dense: ``phi'``).
    """
    k = len(network.layers)
    signals = [None] * k
    if kind in ("symmetric", "random"):
        top = params["readout.W"] if kind == "symmetric" else feedback["feedback.readout"].T
        signals[k - 1] = delta @ top
        for index in range(k - 1, 0, -1):
            if hasattr(slopes[index], "signal_below"):   # a gated layer: sum over its gates (symmetric only)
                signals[index - 1] = slopes[index].signal_below(signals[index], params)
                continue
            back = params[f"{network.prefix(index)}.W"] if kind == "symmetric" else feedback[f"feedback.layer{index}"].T
            signals[index - 1] = (signals[index] * slopes[index]) @ back
    elif kind == "random_direct":
        for index in range(k):
            signals[index] = delta @ feedback[f"feedback.layer{index}"].T
    else:  # target_projection
        gate = np.asarray(mask, dtype=getattr(target, "dtype", np.float64))[..., None]
        for index in range(k):
            signals[index] = gate * (target @ feedback[f"feedback.layer{index}"].T)
    return signals
