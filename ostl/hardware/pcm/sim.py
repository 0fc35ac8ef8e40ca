"""``ostl pcm-sim``: PCM devices from the RESET state through SET pulses, and drifted, noisy
reads after the last one (:func:`ostl.hardware.pcm.devices.simulate`)."""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError


def read_times(text):
    """``--read-times T1,T2,...``: seconds after the last pulse."""
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise ParameterError(f"--read-times must be comma-separated seconds, e.g. 1,3600; got {text!r}") from None


def gmax(value):
    """``--gmax`` (uS): above the devices' RESET conductance."""
    if not np.isfinite(value) or value <= 0.1:
        raise ParameterError(f"--gmax (uS) must be in (0.1, inf), got {value}")
    return value


def pcm_sim_command(args):
    """Run ``ostl pcm-sim`` with its parsed arguments; returns the exit status."""
    from .devices import simulate

    times = args.read_times or ()
    out = simulate(args.devices, args.pulses, seed=args.seed, gmax=args.gmax, read_times=times)
    np.savez(args.out, **out)
    print(f"{args.devices} devices, RESET then {args.pulses} SET pulses: mean G {out['G'][-1].mean():.3f} uS "
          f"after the last; written to {args.out}" + (f" (G_read at {len(times)} times)" if times else ""))
    return 0
