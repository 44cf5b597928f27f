"""Searches on N virtual workers, replayed on the simulated clock (``parallel: simulated``): each evaluation occupies
a worker for the time NAS-Bench-201 took to train that cell (``train_time_s`` of its CIFAR-10 table), and the method
is told results in simulated time. Nothing sleeps: 32 workers and weeks of GPU time replay in seconds.

Two results (searches in the default ``search.order=lag``, whose archives do not depend on timing, so the simulated
backend gives exactly the archive a pool or a Ray cluster with N workers gives):

1. time: each method's best validation accuracy against simulated hours at N = 1, 8 and 32 (NAS-Bench-201
   CIFAR-10), and how soon N = 8 reaches the method's own 1-worker, 200-evaluation quality;
2. the lag's cost at equal budget: N = 8 − N = 1 after 25 / 50 / 100 / 200 evaluations, on NAS-Bench-201's three
   datasets and TransNAS-Bench-101 room_layout (there the table has no training time; the archive is the same).

Seeds 300–319: held out (no default was chosen on them).

    python experiments/parallel_time.py --data ../shared/data --cache experiments/results/tmp/parallel_time.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweep import run_cached  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = range(300, 320)
TIME_METHODS = ["random", "rea", "ga", "gptnas", "gptnas-paper", "lapt", "lmsearcher"]
QUALITY_METHODS = ["rea", "gptnas", "lapt", "lmsearcher"]
TASKS = ["nb201:cifar10", "nb201:cifar100", "nb201:imagenet16-120", "tnb101:room_layout"]
SOURCE = {"cifar10": "cifar100", "cifar100": "cifar10", "imagenet16-120": "cifar10", "room_layout": "jigsaw"}
BUDGET = 200
TIME_BUDGET = 300  # N > 1 in the time table: room to reach the 1-worker, 200-evaluation quality
CHECKS = (25, 50, 100, 200)


def one(job):
    """(job, [(fitness, elapsed_s)] in archive order)."""
    import torch
    torch.set_num_threads(1)
    from gptnas.config import RunConfig, SearchConfig, from_dict, set_dotted
    from gptnas.search.driver import run_in_memory
    method, task, workers, seed, data, budget = job
    space, dataset = task.split(":")
    name = "gptnas" if method == "gptnas-paper" else method
    d = RunConfig(space=space, fitness="benchmark", dataset=dataset, seed=seed,
                  data=str(Path(data) / ("nb201" if space == "nb201" else "transnas101")),
                  workers=workers, parallel="simulated", search=SearchConfig(method=name, budget=budget)).to_dict()
    if method == "gptnas-paper":
        set_dotted(d, "gpt.preset", "paper")
    if method == "lapt":
        set_dotted(d, "principles.source", SOURCE[dataset])
    st = run_in_memory(from_dict(d))
    return job, [(r["fitness"], r["elapsed_s"]) for r in st.archive.rows]


def best_at(rows, n: int) -> float:
    return max(f for f, _ in rows[:n])


def mean_curve(runs, grid: np.ndarray) -> np.ndarray:
    """Mean best-so-far over seeds at each time of ``grid`` (seconds), where every seed has a result."""
    return np.mean(np.array([curve(r, grid) for r in runs]), axis=0)


def curve(rows, grid: np.ndarray) -> np.ndarray:
    """Best fitness so far at each simulated time of ``grid`` (NaN before the first result)."""
    by_time = sorted((t, f) for f, t in rows)
    out = np.full(len(grid), np.nan)
    best, i = -math.inf, 0
    for j, g in enumerate(grid):
        while i < len(by_time) and by_time[i][0] <= g:
            best = max(best, by_time[i][1])
            i += 1
        if best > -math.inf:
            out[j] = best
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data"))
    ap.add_argument("--workers", type=int, default=1, help="searches run side by side")
    ap.add_argument("--cache")
    ap.add_argument("--out", default=str(RESULTS / "parallel_time"))
    args = ap.parse_args(argv)
    jobs = [(m, "nb201:cifar10", n, s, args.data, BUDGET) for m in TIME_METHODS for n in (1, 8, 32) for s in SEEDS]
    jobs += [(m, "nb201:cifar10", n, s, args.data, TIME_BUDGET) for m in TIME_METHODS for n in (8, 32) for s in SEEDS]
    jobs += [(m, t, n, s, args.data, BUDGET) for m in QUALITY_METHODS for t in TASKS[1:] for n in (1, 8)
             for s in SEEDS]
    key = lambda j: json.dumps(list(j[:4]) + ([j[5]] if j[5] != BUDGET else []))
    done, ran, secs = run_cached(jobs, one, args.workers, args.cache, key=key)
    print(f"{ran} searches run in {secs:.0f} s")
    get = lambda m, t, n, b=BUDGET: [done[json.dumps([m, t, n, s] + ([b] if b != BUDGET else []))] for s in SEEDS]

    lines = ["# Searches on N virtual workers: simulated time and the lag's cost (issue 20)", "",
             "`python experiments/parallel_time.py --data ../shared/data` — the simulated backend (`parallel: "
             "simulated`): each evaluation occupies a worker for its cell's NAS-Bench-201 CIFAR-10 training time; "
             f"`search.order=lag` (the default, lag = N); budget {BUDGET}; seeds 300–319 (held out); mean over 20 "
             "seeds.", "",
             "## Simulated time, NAS-Bench-201 CIFAR-10", "",
             "T(200): simulated hours until the 200th result; T(Q1): until the mean best-so-far first reaches the "
             "method's own 1-worker, 200-evaluation mean (Q1), in runs of N > 1 given a budget of "
             f"{TIME_BUDGET} (room to get there). Target: T(Q1) at N = 8 ≤ 1/6 of T(200) at N = 1.", "",
             "| method | Q1 (N=1 @200) | N=1 T(200) h | N=8 best @200 | N=8 T(200) h | N=8 T(Q1) h | T(Q1) ÷ T1 | "
             "N=32 best @200 | N=32 T(200) h | N=32 T(Q1) h |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    curves = {}
    for m in TIME_METHODS:
        runs = {n: get(m, "nb201:cifar10", n) for n in (1, 8, 32)}
        longer = {n: get(m, "nb201:cifar10", n, TIME_BUDGET) for n in (8, 32)}
        q1 = float(np.mean([best_at(r, BUDGET) for r in runs[1]]))
        t1 = float(np.mean([r[-1][1] for r in runs[1]])) / 3600
        horizon = max(r[-1][1] for r in runs[1]) / 3600
        grid = np.geomspace(0.05, horizon, 800)
        cells = [f"{q1:.2f}", f"{t1:.0f}"]
        for n in (8, 32):
            mean = mean_curve(longer[n], grid * 3600)
            reach = next((g for g, v in zip(grid, mean) if v >= q1 - 1e-6), None)
            tn = float(np.mean([r[-1][1] for r in runs[n]])) / 3600
            bn = float(np.mean([best_at(r, BUDGET) for r in runs[n]]))
            cells += [f"{bn:.2f}", f"{tn:.1f}", "not reached" if reach is None else f"{reach:.1f}"]
            if n == 8:
                cells.append("—" if reach is None else f"1/{t1 / reach:.1f}")
        curves[m] = {1: (grid, mean_curve(runs[1], grid * 3600)),
                     **{n: (grid, mean_curve(longer[n], grid * 3600)) for n in (8, 32)}}
        lines.append(f"| {m} | " + " | ".join(cells) + " |")

    lines += ["", "## The lag's cost at equal budget: N = 8 − N = 1 (mean ± standard error over 20 paired seeds)", "",
              "Validation values (room_layout: negative L2 loss). Bold: N = 8 more than one standard error behind.",
              "", "| method | task | " + " | ".join(f"@{c}" for c in CHECKS) + " |",
              "|---|---|" + "---:|" * len(CHECKS)]
    for m in QUALITY_METHODS:
        for t in TASKS:
            one_w, eight = get(m, t, 1), get(m, t, 8)
            cells = []
            for c in CHECKS:
                d = np.array([best_at(b, c) - best_at(a, c) for a, b in zip(one_w, eight)])
                mu, se = d.mean(), d.std(ddof=1) / math.sqrt(len(d))
                cell = f"{mu:+.3f} ± {se:.3f}"
                cells.append(f"**{cell}**" if mu < -se else cell)
            lines.append(f"| {m} | {t} | " + " | ".join(cells) + " |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(15, 7), sharey=True)
    for ax, m in zip(axes.flat, TIME_METHODS):
        for n, style in ((1, "-"), (8, "--"), (32, ":")):
            g, v = curves[m][n]
            ax.plot(g, v, style, label=f"N = {n}")
        ax.set_title(m)
        ax.axhline(curves[m][1][1][-1], color="grey", lw=0.6, ls="-.")
        ax.set_xscale("log")
        ax.set_xlim(0.05, None)
        ax.set_ylim(88, 91.8)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("best validation accuracy (%)")
    for ax in axes[1]:
        ax.set_xlabel("simulated wall-clock hours")
    axes.flat[-1].axis("off")
    axes.flat[0].legend(loc="lower right")
    fig.suptitle("NAS-Bench-201 CIFAR-10 on N virtual workers: mean of 20 seeds (budget 200 at N = 1, 300 at N > 1; "
                 "dash-dot: the 1-worker final mean)")
    fig.tight_layout()
    png = Path(args.out).with_suffix(".png")
    fig.savefig(png, dpi=110)
    lines += ["", f"![best against simulated time]({png.name})", ""]
    Path(args.out).with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
