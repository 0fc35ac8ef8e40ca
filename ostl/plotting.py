"""Learning-curve plots (PNG, headless)."""

from __future__ import annotations

import numpy as np


def plot_training(path, trainer, title=None):
    """Write a PNG with the learning curve and, below it, the trained network's output
    against the target on one evaluation trial (a task with a test set: the per-epoch
    train and test metric, and a test sequence)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = trainer.history
    metric = trainer.task.metric_name
    if trainer.task.has_epochs:
        trial = trainer.task.test_trials()[0]
        result = trainer.network.forward(trainer.params, trial.x, trial.target, trial.mask, record=False)
    else:
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
    if trainer.epochs:   # the per-epoch scores on the iteration axis
        ax3 = ax.twinx() if metric == "loss" else ax2
        ax3.plot([e["iteration"] for e in trainer.epochs], [e[f"test_{metric}"] for e in trainer.epochs], "o-",
                 color="C3", label=f"test {metric} (epoch end)")
        ax3.legend(loc="lower left")
    ax.set_title(title or f"{trainer.task.name}: rule {trainer.rule.name}, backend {trainer.backend_name}")

    ax = axes[1]
    steps = np.arange(trial.x.shape[0])
    if result.outputs.shape[1] > 12:   # many outputs (88 keys): target and prediction as images
        ax.imshow(np.concatenate([trial.target.T, result.outputs.T]), aspect="auto", origin="lower",
                  cmap="Greys", interpolation="nearest")
        ax.axhline(trial.target.shape[1] - 0.5, color="C3")
        ax.set_xlabel("time step")
        ax.set_ylabel("target (below) | output (above)")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path
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
