"""Entry point of the ``pcm`` synapse model (``ostl.synapses`` group): ``ostl train --synapses
pcm`` and its ``--pcm-*`` options, and ``ostl pcm-sim``; a description that imports nothing heavy
(:class:`ostl.hardware.pcm.loop.PCMWeights` loads on use)."""

from ...options import Command, Option
from ...synapses import SynapsePlugin
from .sim import gmax, read_times


def _on_off(value):
    return value == "on"


PLUGIN = SynapsePlugin(
    name="pcm",
    weights="ostl.hardware.pcm.loop:PCMWeights",
    summary="weight matrices on PCM arrays, read by the forward pass, updated by pulses",
    options=(
        Option("--pcm-devices", "pcm_devices", "devices per synapse (default 4)", type=int, choices=(2, 4),
               keyword="devices"),
        Option("--pcm-eps", "pcm_eps", "update granularity (default 0.75 uS)", type=float, metavar="uS",
               keyword="eps"),
        Option("--pcm-gmax", "pcm_gmax", "device saturation (default 20 uS)", type=float, metavar="uS",
               keyword="gmax"),
        Option("--pcm-drift", "pcm_drift", "conductance drift: on (nu = 0.04, default), ibm (nu per device), off",
               choices=("on", "off", "ibm"), validate=lambda v: {"on": "constant"}.get(v, v), keyword="drift"),
        Option("--pcm-read-noise", "pcm_read_noise", "default simple", choices=("simple", "1/f", "off"),
               keyword="read_noise"),
        Option("--pcm-read", "pcm_read", "read the arrays once per trial (default) or at every step (reference "
               "backend)", choices=("trial", "step"), keyword="read"),
        Option("--pcm-feedback", "pcm_feedback", "the random feedback matrices on PCM arrays (default on; "
               "reference backend)", choices=("on", "off"), validate=_on_off, keyword="feedback"),
        Option("--pcm-step-time", "pcm_step_time", "device seconds per step (default 0.01)", type=float,
               metavar="S", keyword="step_time"),
        Option("--pcm-headroom", "pcm_headroom", "a matrix's largest initial weight times X maps to the largest "
               "conductance (default 3): room to grow against a finer weight step", type=float, metavar="X",
               keyword="headroom"),
        Option("--pcm-update-verify", "pcm_update_verify", "write and verify every update in up to N rounds of "
               "read, compare, pulse (default 0: open-loop mixed precision; reference, brian2)", type=int,
               metavar="N", keyword="update_verify"),
    ),
    commands=(Command("pcm-sim", "simulate PCM devices: RESET, SET pulses, drifted noisy reads",
                      "ostl.hardware.pcm.sim:pcm_sim_command", options=(
                          Option("--devices", "devices", type=int, minimum=1, required=True),
                          Option("--pulses", "pulses", type=int, minimum=0, required=True),
                          Option("--seed", "seed", type=int, minimum=0, default=0),
                          Option("--gmax", "gmax", "saturation conductance (uS)", type=float, validate=gmax,
                                 default=20.0),
                          Option("--read-times", "read_times", "reads at these seconds after the last pulse",
                                 metavar="T1,T2,...", validate=read_times),
                          Option("--out", "out", "output .npz: G (pulses + 1, devices) [, G_read]", required=True),
                      )),),
)
