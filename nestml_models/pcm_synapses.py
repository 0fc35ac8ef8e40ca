"""``ostl_pcm_synapse``: the common properties of a PCM configuration, the device states pushed
into its connections, and what it refuses (docs/pcm.md)."""

from __future__ import annotations

import numpy as np

from ostl.errors import ParameterError

PCM_MODEL = "ostl_pcm_synapse"
#: the readout's PCM synapses when they learn at a rate of their own (SGD's readout_lr): a copy of
#: ``ostl_pcm_synapse`` (NEST's CopyModel; its common properties hold one optimiser)
PCM_READOUT_MODEL = "ostl_pcm_readout_synapse"
#: per-device status keys of ostl_pcm_synapse and the PCMDevices arrays they hold
PCM_DEVICE_KEYS = {"pcm_G": "G", "pcm_P": "P", "pcm_t_programmed": "t_programmed", "pcm_nu": "nu",
                   "pcm_events": "events", "pcm_reads": "reads", "pcm_pulses": "pulses", "pcm_resets": "resets"}
#: per-synapse status keys and the PCMSynapses arrays they hold
PCM_SYNAPSE_KEYS = {"pcm_chi": "chi", "pcm_turn": "turn", "pcm_refreshes": "refreshes", "pcm_clipped": "clipped"}


def pcm_defaults(config, steps):
    """The ``pcm`` common property of ``ostl_pcm_synapse`` for a PCMConfig and trial length."""
    from ostl.hardware.pcm.devices import PULSE_DECAY

    return {"devices": int(config.devices), "eps": float(config.eps), "gmax": float(config.gmax),
            "drift": {"off": 0, "constant": 1, "ibm": 2}[config.drift],
            "read_noise": {"off": 0, "simple": 1, "1/f": 2}[config.read_noise],
            "programming_noise": bool(config.programming_noise),
            "ideal_step": float(config.eps) if config.ideal else 0.0, "refresh_level": float(config.refresh_level),
            "verify": int(config.verify), "step_time": float(config.step_time), "trial_steps": int(steps),
            "pulse_decay": float(PULSE_DECAY)}


def push_pcm_state(conns, rows, cols, pcm, name):
    """Device states, chi and the read for the next trial of the array ``name`` of ``pcm``
    (:class:`ostl.hardware.pcm.loop.PCMWeights`) into the ``ostl_pcm_synapse`` connections
    ``conns`` at matrix positions (``rows``, ``cols``) = (post, pre); their weight becomes the
    programmed weight."""
    array = pcm.arrays[name]
    synapse = rows * array.shape[1] + cols           # the array's synapse index
    devices = synapse[:, None] * array.k + np.arange(array.k)[None, :]
    d = array.devices
    nominal, current = array.nominal(), pcm.current[name]
    conns.set([{"weight": float(nominal[r, c]), "pcm_G": d.G[dev].tolist(), "pcm_P": d.P[dev].tolist(),
                    "pcm_t_programmed": d.t_programmed[dev].tolist(), "pcm_nu": d.nu[dev].tolist(),
                    "pcm_events": d.events[dev].tolist(), "pcm_reads": d.reads[dev].tolist(),
                    "pcm_pulses": d.pulses[dev].tolist(), "pcm_resets": d.resets[dev].tolist(),
                    "pcm_chi": float(array.chi[j]), "pcm_turn": int(array.turn[j]),
                    "pcm_refreshes": int(array.refreshes[j]), "pcm_clipped": int(array.clipped[j]),
                    "pcm_scale": float(array.scale), "pcm_seed": int(d.seed), "pcm_index": int(j),
                    "pcm_clock": float(pcm.clock), "pcm_read_weight": float(current[r, c])}
               for r, c, j, dev in zip(rows, cols, synapse, devices)])


def check_pcm_supported(pcm):
    """What ostl_pcm_synapse cannot do, refused before anything is built."""
    if pcm.config.read != "trial":
        raise ParameterError("PCM reads at every step (read 'step') need the reference backend; NEST's PCM synapses "
                             "read their devices once per trial")
    if pcm.config.update_verify:
        raise ParameterError("PCM write and verify on every update (update_verify) needs the reference or brian2 "
                             "backend; NEST's PCM synapses apply open-loop pulses")
    if pcm.feedback_names:
        raise ParameterError("feedback matrices on PCM arrays need the reference backend; on NEST keep them in "
                             "software (--pcm-feedback off; synapses={'feedback': False})")
