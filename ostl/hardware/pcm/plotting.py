"""Figures of PCM arrays (``ostl train --synapses pcm`` writes ``conductances.png``)."""

from __future__ import annotations

import numpy as np


def plot_conductances(path, synapses, title=None):
    """Histograms of the device conductances of every PCM array, as programmed at the start
    (RESET + programming of the initial weights) and now (:class:`~ostl.hardware.pcm.loop.PCMWeights`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays = synapses.conductances()
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays) + 1, 3.2), squeeze=False,
                             constrained_layout=True)
    bins = np.linspace(0.0, synapses.config.gmax, 61)
    for ax, (name, (initial, now)) in zip(axes[0], arrays.items()):
        if initial is not None:
            ax.hist(initial, bins=bins, color="C0", alpha=0.5, label="before training")
        ax.hist(now, bins=bins, color="C3", alpha=0.5, label="after training")
        ax.set_yscale("log")
        ax.set_xlabel("G (uS)")
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("devices")
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
