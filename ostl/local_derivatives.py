"""The per-neuron local derivatives every learning rule is built from (:class:`LocalDerivatives`):
what a cell (:mod:`ostl.cells`, :mod:`ostl.symbolic`) hands to the rules. A module of its own
that imports nothing of ostl, so that the cells and their symbolic evaluation both use it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LocalDerivatives:
    """Per-neuron partial derivatives of one step of a layer of ``n`` cells with
    internal state size ``d``.

    Notation of OSTL (S1) / e-prop (Methods)::

        state_decay       (n, d, d)  ds^t/ds^{t-1}    at fixed own output y^{t-1}
        reset_path        (n, d)     ds^t/dy^{t-1}_j  through the reset
        adaptation_path   (n, d)     ds^t/dy^{t-1}_j  through other own-spike paths
                                                       (threshold adaptation)
        input_gain        (n, d)     ds^t/dI^t        (g' of the SNU)
        output_gain       (n, d)     dy^t/ds^t        (the pseudo-derivative h')
        ds_dneuron_param  (n, d)     ds^t/db          explicit (soft reset: -y^{t-1})
        dy_dneuron_param  (n,)       dy^t/db          explicit (SNU: h')

    The *total* own-neuron Jacobian used by OSTL is
    ``state_decay + (reset_path + adaptation_path) (x) output_gain^{t-1}``; e-prop's
    partial Jacobian ``D`` keeps only the adaptation path (Methods, ALIF paragraph:
    ``da^{t+1}/dv^t = h``) and drops the reset path.
    """

    state_decay: np.ndarray
    reset_path: np.ndarray
    adaptation_path: np.ndarray
    input_gain: np.ndarray
    output_gain: np.ndarray
    ds_dneuron_param: np.ndarray
    dy_dneuron_param: np.ndarray
