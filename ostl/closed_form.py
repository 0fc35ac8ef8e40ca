"""The eligibility recursion of one synapse over a stretch without presynaptic input, in closed
form: what an event-driven simulator's synapse computes at a presynaptic spike in O(1) per crossed
segment instead of O(steps since its last spike) (docs/equations.md, "Event-driven closed form").

The per-step recursion of a synapse ``ji`` with a one-dimensional neuron state (``D = 1``: LIF and
SNU cells, every trace kind but the ALIF's) is, for a neuron's per-step factors ``J^t`` (Jacobian),
``c^t`` (input gain), ``q^t`` (pseudo-derivative), ``L^t`` (learning signal) and the readout leak
``kappa``::

    eps^t  = J^t eps^{t-1} + c^t x^t          eligibility vector
    ebar^t = kappa ebar^{t-1} + q^t eps^t     eligibility trace, filtered
    G^t    = G^{t-1} + L^t ebar^t             gradient of the trial

Between two presynaptic inputs ``x = 0`` and the recursion is linear in the synapse's state
``(eps, ebar, G)`` with coefficients that depend on the postsynaptic neuron only. The neuron cuts
its history into *segments* (at most :data:`SEGMENT` steps; a segment also ends after a step with
``J = 0``, a full reset, and after the step at which its running product ``P`` or the leak's power
``kappa^{t-a}`` leaves [:data:`RANGE`, 1 / RANGE]) and keeps, per step ``t`` of the segment that starts at ``a``,
the running quantities::

    P^t = J^a J^{a+1} ... J^t                 (P^{a-1} = 1)
    u^t = kappa u^{t-1} + q^t P^t             (u^{a-1} = 0)
    K^t = K^{t-1} + L^t kappa^{t-a}           (K^{a-1} = 0)
    V^t = V^{t-1} + L^t u^t                   (V^{a-1} = 0)

From the state after step ``p`` (``a - 1 <= p < t``, same segment) the state after step ``t`` is::

    eps^t  = (P^t / P^p) eps^p
    ebar^t = kappa^{t-p} ebar^p + (eps^p / P^p) (u^t - kappa^{t-p} u^p)
    G^t    = G^p + kappa^{a-p} (K^t - K^p) (ebar^p - u^p eps^p / P^p) + (eps^p / P^p) (V^t - V^p)

(:func:`advance`); a stretch that crosses segments applies it once per segment. With ``kappa = 0``
the middle term is zero (``ebar^p = u^p eps^p / P^p``) and is left out. ``P^p`` is never zero inside
a segment (a zero factor ends the segment after it), and because the running product and the
leak's power stay within a decade of 1 inside a segment, the differences ``K^t - K^p`` and
``V^t - V^p`` lose at most one digit: the closed form equals the recursion to about 1e-13
relative (``tests/test_closed_form.py`` pins 1e-10 on random factors, with zeros, with long silent
stretches, with and without leak).

The ALIF neuron's two-dimensional state (``D = 2``) would need running products of 2x2 matrices and
their inverses; it keeps the per-step recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the longest segment, in steps (a crossed segment costs the synapse O(1))
SEGMENT = 64
#: a segment ends after the step at which its running product, or the leak's power, leaves [RANGE, 1 / RANGE]
RANGE = 1e-1


@dataclass
class SynapseState:
    """A synapse's eligibility state after step :attr:`step`: ``eps``, ``ebar``, ``gradient``."""

    step: int
    eps: float = 0.0
    ebar: float = 0.0
    gradient: float = 0.0


@dataclass
class Segments:
    """A neuron's running quantities, step by step, cut into segments (see the module docstring).

    ``start[t]`` is the first step of the segment holding step ``t``; ``P``, ``u``, ``K``, ``V`` are
    the running quantities at ``t`` (relative to that segment's start)."""

    kappa: float
    start: list = field(default_factory=list)
    P: list = field(default_factory=list)
    u: list = field(default_factory=list)
    K: list = field(default_factory=list)
    V: list = field(default_factory=list)
    factors: list = field(default_factory=list)   # (J, c, q, L) per step, for the steps with input

    def append(self, J, c, q, L):
        """Append step ``len(self)`` with its factors."""
        t = len(self.P)
        new = t == 0 or self._ends_after(t - 1)
        a = t if new else self.start[-1]
        P_prev, u_prev, K_prev, V_prev = (1.0, 0.0, 0.0, 0.0) if new else (self.P[-1], self.u[-1], self.K[-1],
                                                                          self.V[-1])
        P = P_prev * J
        u = self.kappa * u_prev + q * P
        self.start.append(a)
        self.P.append(P)
        self.u.append(u)
        self.K.append(K_prev + L * self.kappa ** (t - a))
        self.V.append(V_prev + L * u)
        self.factors.append((J, c, q, L))

    def _ends_after(self, t):
        """Whether the segment holding step ``t`` ends after it (a new one starts at ``t + 1``)."""
        P, length = abs(self.P[t]), t + 1 - self.start[t]
        leak = 0.0 < self.kappa < 1.0 and self.kappa ** length < RANGE
        return length >= SEGMENT or P < RANGE or P > 1.0 / RANGE or leak

    def __len__(self):
        """The number of recorded steps."""
        return len(self.P)


def advance(segments, state, t):
    """The synapse's state after step ``t`` from ``state`` (after step ``state.step < t``) when no
    presynaptic input arrives in between: the closed form, once per crossed segment."""
    s = segments
    eps, ebar, G, p = state.eps, state.ebar, state.gradient, state.step
    kappa = s.kappa
    while p < t:
        a = s.start[p + 1]                        # the segment the next step belongs to
        end = _segment_end(s, p + 1)
        stop = min(t, end)
        if p < a:                                 # entering at the segment's start: P^{a-1} = 1, u = K = V = 0
            P_p, u_p, K_p, V_p = 1.0, 0.0, 0.0, 0.0
        else:
            P_p, u_p, K_p, V_p = s.P[p], s.u[p], s.K[p], s.V[p]
        ratio = eps / P_p
        decay = kappa ** (stop - p)
        if kappa:   # sum_{s=p+1}^{stop} L^s kappa^{s-p}, times what of ebar^p is not carried by eps^p
            G += kappa ** (a - p) * (s.K[stop] - K_p) * (ebar - u_p * ratio)
        G += ratio * (s.V[stop] - V_p)
        ebar = decay * ebar + ratio * (s.u[stop] - decay * u_p)
        eps = ratio * s.P[stop]
        p = stop
    return SynapseState(p, eps, ebar, G)


def _segment_end(segments, t):
    """The last step of the segment holding step ``t`` (within the recorded steps)."""
    a = segments.start[t]
    end = t
    while end + 1 < len(segments) and segments.start[end + 1] == a:
        end += 1
    return end


def input_step(segments, state, x):
    """One explicit step with presynaptic input ``x`` at step ``state.step + 1``."""
    t = state.step + 1
    J, c, q, L = segments.factors[t]
    eps = J * state.eps + c * x
    ebar = segments.kappa * state.ebar + q * eps
    return SynapseState(t, eps, ebar, state.gradient + L * ebar)


def replay(segments, inputs, until):
    """The synapse's state after step ``until`` from rest before step 0, with presynaptic input
    ``inputs[t]`` (0 or not) at step ``t``: closed form over the stretches without input, an
    explicit step at each input (what an event-driven synapse does)."""
    state = SynapseState(-1)
    for t in np.flatnonzero(np.asarray(inputs)[:until + 1]):
        state = advance(segments, state, int(t) - 1)
        state = input_step(segments, state, float(inputs[t]))
    return advance(segments, state, until)


def recursion(factors, kappa, inputs, until):
    """The per-step recursion (the definition), for comparison: the state after step ``until``."""
    eps = ebar = G = 0.0
    for t in range(until + 1):
        J, c, q, L = factors[t]
        eps = J * eps + c * float(inputs[t])
        ebar = kappa * ebar + q * eps
        G += L * ebar
    return SynapseState(until, eps, ebar, G)
