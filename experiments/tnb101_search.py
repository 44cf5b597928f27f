"""Search methods on TransNAS-Bench-101 micro (4,096 cells × 4 tasks), simulated on the table: the best validation
score found at each budget, mean ± std over seeds (the table has no test split: what the search maximises is what
is reported, as in LAPT's and LM-Searcher's TransNAS-Bench-101 tables).

    python experiments/tnb101_search.py --data ../shared/data --seeds 20 \\
        --methods rea,local_search,bananas,gptnas,lmsearcher --cache experiments/results/tmp/tnb101_search.jsonl

writes ``experiments/results/tnb101_search.md``.
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

from sweep import run_cached  # noqa: E402

TASKS = ("class_scene", "class_object", "jigsaw", "room_layout")


def one_run(job: tuple) -> tuple:
    """One search in memory: (job, [(validation, test) per evaluation, in order])."""
    import gptnas
    method, task, budget, seed, data = job
    r = gptnas.search("tnb101", "benchmark", method=method, budget=budget, seed=seed, dataset=task, data=data,
                      progress=False)
    return job, [(row["fitness"], row["test"]) for row in r.archive]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data"))
    ap.add_argument("--methods", default="rea,local_search,bananas")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--budgets", default="25,50,100,200")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="experiments/results/tnb101_search")
    ap.add_argument("--cache", help="JSONL file of finished searches, reused on a rerun")
    args = ap.parse_args(argv)
    methods, tasks = args.methods.split(","), args.tasks.split(",")
    budgets = [int(b) for b in args.budgets.split(",")]
    # None of these methods looks at its budget: the b-evaluation search is the first b of the longest one.
    jobs = [(m, t, max(budgets), s, args.data) for m in methods for t in tasks for s in range(args.seeds)]
    done, ran, elapsed = run_cached(jobs, one_run, args.workers, args.cache)
    acc = {}
    for j in jobs:
        rows = done[json.dumps(list(j))]
        for b in budgets:
            head = rows[:b]
            acc.setdefault((j[0], j[1], b), []).append(max(v for v, _ in head))
    lines = [f"Best validation score found, mean ± std over {args.seeds} seeds (TransNAS-Bench-101 micro, no test "
             "split; class_scene, class_object: top-1 %, jigsaw: accuracy %, room_layout: negative L2 loss).", "", "| method | budget | " + " | ".join(tasks) + " |",
             "|---|---:|" + "---|" * len(tasks)]
    for m in methods:
        for b in budgets:
            lines.append(f"| {m} | {b} | " + " | ".join(f"{np.mean(acc[m, t, b]):.3f} ± {np.std(acc[m, t, b]):.3f}"
                                                     for t in tasks) + " |")
    lines += ["", f"{len(jobs)} searches: {ran} run now in {elapsed:.0f} s with {args.workers} worker(s), the others "
                  f"read from the cache ({args.cache})."]
    text = "\n".join(lines)
    print(text)
    Path(args.out).with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
