"""Compare run directories: mean ± std over seeds of the best architecture, one plot of mean convergence."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..storage.archive import read_archive
from ..storage.rundir import RunDir
from .convergence import incumbent_curves


def load_runs(paths: list[str | Path]) -> list[dict]:
    """Summary plus incumbent curves of each run directory (raises RunDirError for a non-run)."""
    runs = []
    for p in paths:
        rd = RunDir.open(p)
        s = rd.read_summary()
        a = read_archive(rd.archive)
        rows = [{"fitness": f, "test": t, "failed": fl} for f, t, fl in zip(a["fitness"], a["test"], a["failed"])]
        s["curve_fitness"], s["curve_test"] = incumbent_curves(rows)
        s["path"] = str(rd.path)
        runs.append(s)
    return runs


def group_label(s: dict) -> str:
    return f"{s['method']} {s['space']}/{s['dataset']} ({s['fitness_kind']}, budget {s['budget']})"


def mean_std(values) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    return "n/a" if v.size == 0 else f"{v.mean():.2f} ± {v.std():.2f}"


def compare_table(runs: list[dict]) -> str:
    """Markdown table: one row per (method, space, dataset, fitness, budget) group."""
    groups = defaultdict(list)
    for s in runs:
        groups[group_label(s)].append(s)
    lines = ["| runs | method / space / dataset | best fitness (val. % or proxy score) | test of best (%) | evaluations |",
             "|---:|---|---|---|---:|"]
    for label, ss in sorted(groups.items()):
        lines.append(f"| {len(ss)} | {label} | {mean_std(s['best']['fitness'] for s in ss if s['best'])} | "
                     f"{mean_std(s['best']['test'] for s in ss if s['best'])} | "
                     f"{np.mean([s['evaluations'] for s in ss]):.0f} |")
    return "\n".join(lines)


def plot_comparison(runs: list[dict], path: str | Path) -> None:
    """Mean (± std band) of the incumbent's test accuracy — or fitness where no test is known — per group."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = defaultdict(list)
    for s in runs:
        groups[group_label(s)].append(s)
    use_test = all(np.isfinite(s["curve_test"]).any() for s in runs)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, ss in sorted(groups.items()):
        n = min(len(s["curve_fitness"]) for s in ss)
        if n == 0:
            continue
        m = np.array([(s["curve_test"] if use_test else s["curve_fitness"])[:n] for s in ss])
        mu, sd = np.nanmean(m, axis=0), np.nanstd(m, axis=0)
        x = np.arange(1, n + 1)
        ax.plot(x, mu, label=f"{label} (n={len(ss)})")
        ax.fill_between(x, mu - sd, mu + sd, alpha=0.2)
    ax.set_xlabel("unique architectures evaluated")
    ax.set_ylabel("test accuracy of best-by-fitness (%)" if use_test else "best fitness so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
