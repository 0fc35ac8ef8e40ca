"""Learning-curve plots (PNG, headless)."""

from __future__ import annotations

import numpy as np


def plot_training(path, trainer, title=None):
    """Write a PNG with the learning curve and, below it, the trained network's output
    against the target on one evaluation trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = trainer.history
    metric = trainer.task.metric_name
    trials, results = trainer.evaluate(n_trials=1)
    trial, result = trials[0], results[0]

    fig, axes = plt.subplots(2, 1, figsize=(8, 6.5), constrained_layout=True)
    ax = axes[0]
    iters = [h["iteration"] + 1 for h in history]
    ax.semilogy(iters, [max(h["loss"], 1e-12) for h in history], color="C0", label="loss E")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (log)")
    if metric != "loss":
        ax2 = ax.twinx()
        ax2.plot(iters, [h[metric] for h in history], color="C1", alpha=0.8, label=metric)
        ax2.set_ylabel(metric)
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title or f"{trainer.task.name}: rule {trainer.rule.name}, backend {trainer.backend_name}")

    ax = axes[1]
    steps = np.arange(trial.x.shape[0])
    for k in range(result.outputs.shape[1]):
        ax.plot(steps, trial.target[:, k], color=f"C{k}", lw=2, alpha=0.35,
                label="target" if k == 0 else None)
        ax.plot(steps, result.outputs[:, k], color=f"C{k}", lw=1, label="output" if k == 0 else None)
    if np.any(trial.mask == 0):
        ax.fill_between(steps, 0, 1, where=trial.mask > 0, color="grey", alpha=0.1,
                        transform=ax.get_xaxis_transform(), label="loss window")
    ax.set_xlabel("time step (ms)")
    ax.set_ylabel("readout")
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
