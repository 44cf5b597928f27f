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


def fitness_label(fitness_kind: str) -> str:
    """What the fitness axis shows: ``"validation accuracy (%)"`` for ``benchmark``/``train``, else the proxy score."""
    return "validation accuracy (%)" if fitness_kind in ("benchmark", "train") else f"{fitness_kind} score"


def plot_convergence(rows: list[dict], path: str | Path, title: str = "",
                     fitness: str = "validation accuracy (%)") -> None:
    """Write a PNG of the incumbent's fitness (and test accuracy, when known) against evaluations.

    ``fitness`` labels the fitness axis (see :func:`fitness_label`). An accuracy fitness shares its axis with the
    test accuracy; any other (a proxy score) gets its own, with the test accuracy on a second axis on the right.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..storage.atomic import atomic_write

    best, test = incumbent_curves(rows)
    x = np.arange(1, len(rows) + 1)
    has_test = bool(np.isfinite(test).any())
    shared = fitness.endswith("(%)")  # an accuracy fitness shares its axis with the test accuracy
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.step(x, best, where="post", label=f"best fitness so far: {fitness}", color="tab:blue")
    tax = ax if shared or not has_test else ax.twinx()
    if has_test:
        tax.step(x, test, where="post", label="test accuracy of that architecture (%)", color="tab:orange", ls="--")
    if tax is not ax:
        tax.set_ylabel("test accuracy (%)", color="tab:orange")
    ax.set_xlabel("unique architectures evaluated")
    ax.set_ylabel("accuracy (%)" if shared and has_test else fitness, color="black" if tax is ax else "tab:blue")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + (tax.get_legend_handles_labels()[0] if tax is not ax else [])
    # Below the axes: with two y axes, no spot inside is sure to be free of both curves.
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
