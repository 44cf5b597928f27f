"""Which operator makes the children that improve a search: per operator (the archive's ``origin``), how many of a
search's first children it made, their mean fitness, the share that set a new best, and the mean gain over the best
before them (0 for a child that did not improve it). Issue 13's question at small budgets: at 25 queries (10 random
architectures, then 15 children) does the GPT's move improve the best more often than REA's mutation?

    python experiments/gptnas_children.py --data ../shared/data --seeds 40 --tables nb201:cifar10 \\
        --methods gptnas,rea --budget 25

prints a markdown table (one row per method × table × operator). Tables and method specs as in
``gptnas_no_prior.py`` (``gptnas:gpt.key=value``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gptnas_no_prior import run_search  # noqa: E402
from sweep import run_cached  # noqa: E402


def one(job: tuple) -> tuple:
    """One search; returns (job, [(origin, validation fitness) per evaluation, in order])."""
    return job, [(r["origin"], float(r["fitness"])) for r in run_search(*job)]


def children_stats(searches: list[list], population: int = 10) -> dict[str, dict]:
    """Per operator over ``searches`` (each a list of ``(origin, fitness)`` in evaluation order, the first
    ``population`` the initial architectures): ``n`` children, ``mean`` fitness, ``new_best`` (share of children
    better than every evaluation before them), ``gain`` (mean improvement of the best, 0 when none)."""
    acc: dict[str, list] = {}
    for rows in searches:
        best = max(f for _, f in rows[:population])
        for origin, f in rows[population:]:
            acc.setdefault(origin, []).append((f, float(f > best), max(0.0, f - best)))
            best = max(best, f)
    out = {}
    for origin, v in sorted(acc.items()):
        a = np.array(v)
        out[origin] = {"n": len(a), "mean": float(a[:, 0].mean()), "new_best": float(a[:, 1].mean()),
                       "gain": float(a[:, 2].mean())}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data"))
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--tables", default="nb201:cifar10")
    ap.add_argument("--methods", default="gptnas,rea")
    ap.add_argument("--budget", type=int, default=25)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", help="JSONL of finished searches, reused on a rerun")
    ap.add_argument("--model-cache", default=None, help="pre-trained GPTs (default: gptnas's own cache)")
    args = ap.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tables, methods = args.tables.split(","), args.methods.split(",")
    jobs = [(m, t, args.budget, s, args.data, args.model_cache) for m in methods for t in tables for s in seeds]
    key = lambda j: json.dumps(list(j[:4]))
    for m, t in sorted({(m, t) for m, t, *_ in jobs if m.startswith("gptnas") and "enabled=false" not in m}):
        one((m, t, 12, 0, args.data, args.model_cache))  # build each pre-trained GPT once, before the pool
    done, _, _ = run_cached(jobs, one, args.workers, args.cache, key=key)
    print(f"\nThe first {args.budget} evaluations of {len(seeds)} seeds (seeds {seeds[0]}-{seeds[-1]}), children only.\n")
    print("| method | table | operator | children | mean fitness | new best | mean gain |")
    print("|---|---|---|---:|---:|---:|---:|")
    for m in methods:
        for t in tables:
            stats = children_stats([done[key(j)] for j in jobs if j[0] == m and j[1] == t])
            for origin, s in stats.items():
                print(f"| {m} | {t} | {origin} | {s['n']} | {s['mean']:.3f} | {s['new_best']:.3f} | {s['gain']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
