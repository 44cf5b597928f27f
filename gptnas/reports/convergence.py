"""Convergence plots: best fitness so far vs evaluations, with the incumbent's test accuracy beside it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def incumbent_curves(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Per evaluation i (0-based): the best fitness among rows[:i+1] and the test accuracy of that incumbent.

    Returns two float arrays of shape (len(rows),); NaN before the first successful evaluation or without test.
    """
    best_fit = np.full(len(rows), np.nan)
    best_test = np.full(len(rows), np.nan)
    f, t = -math.inf, math.nan
    for i, r in enumerate(rows):
        if not r["failed"] and r["fitness"] > f:
            f, t = r["fitness"], r["test"]
        best_fit[i] = f if math.isfinite(f) else np.nan
        best_test[i] = t
    return best_fit, best_test


def plot_convergence(rows: list[dict], path: str | Path, title: str = "") -> None:
    """Write a PNG of the incumbent's fitness (and test accuracy, when known) against evaluations."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..storage.atomic import atomic_write

    fit, test = incumbent_curves(rows)
    x = np.arange(1, len(rows) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.step(x, fit, where="post", label="best fitness so far (validation)", color="tab:blue")
    if np.isfinite(test).any():
        ax.step(x, test, where="post", label="test accuracy of that architecture", color="tab:orange", ls="--")
    ax.set_xlabel("unique architectures evaluated")
    ax.set_ylabel("accuracy (%)" if np.isfinite(test).any() else "fitness")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
