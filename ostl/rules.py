"""Learning rules of the OSTL family as (eligibility-trace kind, learning-signal kind).

Every online rule here factorises the gradient as OSTL eq. 7/11 and e-prop eq. 1::

    dE/dtheta_l  ~=  sum_t  L_l^t . e_l^{t,theta}

and differs only in *which* eligibility trace ``e`` and *which* learning signal ``L``:

==============  ==========  ======================  ===================================
rule            traces      learning signal         source
==============  ==========  ======================  ===================================
``ostl``        exact       symmetric (backprop)    OSTL eq. 6-10 (+H, O(n^4) if recurrent)
``ostl_no_h``   no_h        symmetric               OSTL S3 "w/o H"
``ostl_rnd``    exact       random (chained)        OSTL S3 eq. 39
``osttp``       exact       target projection       OSTTP eq. 11
``eprop``       eprop       symmetric or random     e-prop Methods eq. 22-28
``bptt``        --          --                      autodiff oracle (:mod:`ostl.bptt`)
==============  ==========  ======================  ===================================

Trace kinds (``J`` = the Jacobian ``ds^t/ds^{t-1}`` that carries the trace):

* ``exact``: OSTL's total derivative. For a recurrent layer ``J`` couples all neurons
  through ``H`` (eligibility vectors of size ``n x d x n x m``); for a feed-forward
  layer ``J`` is diagonal and the vectors have size ``n x d x m``.
* ``no_h``: the total own-neuron derivative, neglecting ``H`` (OSTL w/o H).
* ``eprop``: e-prop's partial derivative ``D``: the reset path through the neuron's
  own spike is dropped, threshold adaptation kept.

Learning-signal kinds:

* ``symmetric``: ``L_k = W_out^T dE/da`` and ``L_{l-1} = W_l^T (L_l * dy_l/dI_l)``
  (OSTL eq. 10/18; e-prop symmetric feedback).
* ``random``: the same chain with fixed random ``B`` in place of every transported
  weight, the readout's included (OSTL rnd, eq. 39; random e-prop for one layer).
* ``random_direct``: ``L_l = B_l dE/da`` for every layer (direct feedback alignment,
  OSTTP eq. 10; e-prop's broadcast alignment for several layers).
* ``target_projection``: ``L_l = m^t B_l y*^t`` for every hidden layer (OSTTP eq. 11);
  the readout learns from its exact gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .registry import Specified
from .validation import check_choice, check_positive

TRACE_KINDS = ("exact", "no_h", "eprop")
FEEDBACK_KINDS = ("symmetric", "random", "random_direct", "target_projection")

RULE_PRESETS = {
    "ostl": ("exact", "symmetric"),
    "ostl_no_h": ("no_h", "symmetric"),
    "ostl_rnd": ("exact", "random"),
    "osttp": ("exact", "target_projection"),
    "eprop": ("eprop", "symmetric"),
}

#: the rules that learn online (every rule but the autodiff oracle)
ONLINE_RULES = tuple(RULE_PRESETS)
RULE_NAMES = ONLINE_RULES + ("bptt",)
#: why a simulator does not run ``bptt`` (part of its backend's refusal)
BPTT_IS_NOT_A_SIMULATOR_RULE = ("rule 'bptt' is the autodiff oracle of the reference engine, not a simulator rule; "
                                "train it with --backend reference")


def keep_reset_path(trace_kind):
    """Whether eligibility traces of ``trace_kind`` carry the own-spike reset path through
    time: OSTL's total derivative (``exact``, ``no_h``) does, e-prop's partial derivative
    ``D`` drops it (threshold adaptation is kept by every kind)."""
    check_choice("traces", trace_kind, set(TRACE_KINDS))
    return trace_kind != "eprop"


def signal_source(feedback):
    """What the readout sends down as the learning signal for a ``feedback`` kind: its
    error, or for target projection (OSTTP) the masked target."""
    check_choice("feedback", feedback, set(FEEDBACK_KINDS))
    return "target" if feedback == "target_projection" else "error"


@dataclass(frozen=True)
class Rule(Specified):
    """A learning rule. Build with :func:`make_rule`."""

    name: str
    traces: str = None
    feedback: str = None
    feedback_scale: float = 1.0

    @property
    def is_bptt(self):
        """Whether the rule is the autodiff oracle."""
        return self.name == "bptt"

    @property
    def keep_reset_path(self):
        """See :func:`keep_reset_path`."""
        return keep_reset_path(self.traces)

    @property
    def signal_source(self):
        """``'error'`` or ``'target'``: see :func:`signal_source`."""
        return signal_source(self.feedback)

    def is_local(self, layer):
        """Whether this rule's traces on ``layer`` are local to a synapse (each synapse's
        eligibility vector depends on its own pre- and postsynaptic neuron only): all but
        exact OSTL on a recurrent layer, whose vectors couple every synapse through ``H``."""
        return not (getattr(layer, "recurrent", False) and self.traces == "exact")

    def require_local(self, network, where):
        """Raise a :class:`ParameterError` (naming ``where``, e.g. 'the Brian2 plugin') if the
        rule is not local to a synapse on some layer of ``network``."""
        for index, layer in enumerate(network.layers):
            if not self.is_local(layer):
                raise ParameterError(
                    f"rule {self.name!r} on the recurrent layer {index} needs exact OSTL traces, which couple "
                    f"every synapse of the layer through H (O(n^4) per step, not local to a synapse), so "
                    f"{where} cannot run it; use the reference engine (ostl.OnlineLearner) for exact recurrent "
                    "OSTL, or the local rules 'ostl_no_h' / 'eprop'")

    # -- feedback matrices --------------------------------------------------------------
    def feedback_shapes(self, network):
        """Shapes of the fixed random matrices this rule needs (empty if none)."""
        sizes = network.layer_sizes()  # [n_in, n_0, ..., n_{k-1}]
        k = len(network.layers)
        shapes = {}
        if self.feedback == "random":
            shapes["feedback.readout"] = (sizes[k], network.n_out)
            for index in range(1, k):
                shapes[f"feedback.layer{index}"] = (sizes[index], sizes[index + 1])
        elif self.feedback in ("random_direct", "target_projection"):
            for index in range(k):
                shapes[f"feedback.layer{index}"] = (sizes[index + 1], network.n_out)
        return shapes

    def make_feedback(self, network, seed=0):
        """Fixed random feedback matrices ``B ~ N(0, feedback_scale^2)`` (OSTL S7:
        mean 0, variance 1), drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        return {name: rng.normal(0.0, self.feedback_scale, size=shape)
                for name, shape in self.feedback_shapes(network).items()}

    def check_feedback(self, network, feedback):
        """Check the fixed random matrices the rule needs for ``network`` (names and shapes); returns them."""
        shapes = self.feedback_shapes(network)
        feedback = {} if feedback is None else dict(feedback)
        missing = sorted(set(shapes) - set(feedback))
        if missing:
            raise ParameterError(f"rule {self.name!r} needs feedback matrices {', '.join(missing)}")
        out = {}
        for name, shape in shapes.items():
            arr = np.asarray(feedback[name], dtype=np.float64)
            if arr.shape != shape:
                raise ParameterError(f"feedback matrix {name} must have shape {shape}, got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ParameterError(f"feedback matrix {name} must contain only finite values")
            out[name] = arr
        return out


def make_rule(name, traces=None, feedback=None, feedback_scale=1.0):
    """Return the rule ``name`` (see module table), optionally overriding its trace or
    feedback kind, e.g. ``make_rule('eprop', feedback='random')`` (random e-prop) or
    ``make_rule('ostl_rnd', traces='no_h')`` (OSTL rnd + w/o H, OSTL Table S1). ``name`` may
    also be a rule, or a rule's spec (``rule.spec()``)."""
    if isinstance(name, Rule):
        return name
    if isinstance(name, dict):
        return make_rule(**name)
    check_choice("rule", name, set(RULE_NAMES))
    if name == "bptt":
        if traces is not None or feedback is not None:
            raise ParameterError("rule 'bptt' takes no traces or feedback option")
        return Rule("bptt")
    default_traces, default_feedback = RULE_PRESETS[name]
    traces = default_traces if traces is None else check_choice("traces", traces, set(TRACE_KINDS))
    feedback = default_feedback if feedback is None else check_choice("feedback", feedback, set(FEEDBACK_KINDS))
    feedback_scale = check_positive("feedback_scale", feedback_scale)
    return Rule(name, traces, feedback, feedback_scale)
