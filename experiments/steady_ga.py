"""The GA's steady-state loop against the generational one it replaces on several workers, at equal budget.

``ga.steady`` (and ``gptnas.steady`` for GPT-NAS's paper preset) defaults to ``auto``: the generational loop with one
worker, the steady-state loop with several. This measures what a user with 4 workers gets from it against the
published generational loop, on seeds 300–319 (no default was chosen on them; the replacement rule was tried on seeds
100–109 of CIFAR-10 with GA only):

- ``generational``: the paper's loop (one worker; on N workers it gives this same archive, slower);
- ``steady@4``: the steady-state loop on 4 virtual workers (``parallel: simulated``, lag 4: each proposal is made
  without the 3 newest results, the cost of keeping the workers busy);
- ``steady@1``: the steady-state loop on one worker (the loop alone, without the lag).

Each evaluation occupies a virtual worker for its cell's NAS-Bench-201 training time, so the simulated hours to
finish the budget are measured too. Fitness: validation accuracy of the table; the best validation accuracy after
50 / 100 / 200 evaluations is reported, mean ± standard error over seeds, and steady@4 − generational paired.

    python experiments/steady_ga.py --data ../shared/data             # GA on three datasets, GPT-NAS on CIFAR-10

Writes experiments/results/steady_ga.md (the searches' rows: experiments/results/tmp/steady_ga.jsonl).
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
LOOPS = {"generational": (1, False), "steady@4": (4, True), "steady@1": (1, True)}
JOBS = [("ga", d) for d in ("cifar10", "cifar100", "imagenet16-120")] + [("gptnas-paper", "cifar10")]
BUDGET = 200
CHECKS = (50, 100, 200)


def one(job):
    """(job, [(fitness, elapsed_s)] in archive order)."""
    import torch
    torch.set_num_threads(1)
    from gptnas.config import from_dict
    from gptnas.search.driver import run_in_memory
    method, dataset, loop, seed, data = job
    workers, steady = LOOPS[loop]
    name = "gptnas" if method == "gptnas-paper" else method
    d = {"space": "nb201", "fitness": "benchmark", "dataset": dataset, "seed": seed, "data": str(Path(data) / "nb201"),
         "workers": workers, "parallel": "simulated", "search": {"method": name, "budget": BUDGET},
         name: {"steady": steady}}
    if method == "gptnas-paper":
        d[name]["preset"] = "paper"
    st = run_in_memory(from_dict(d))
    return job, [(r["fitness"], r["elapsed_s"]) for r in st.archive.rows]


def best_at(rows, n: int) -> float:
    return max(f for f, _ in rows[:n])


def mean_se(xs) -> tuple[float, float]:
    xs = np.asarray(xs, float)
    return float(xs.mean()), float(xs.std(ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data"))
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "steady_ga"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    jobs = [(m, d, loop, s, args.data) for m, d in JOBS for loop in LOOPS for s in SEEDS]
    cache = RESULTS / "tmp" / "steady_ga.jsonl"  # every search's rows (not committed)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done, ran, secs = run_cached(jobs, one, args.procs, cache=str(cache),
                                 key=lambda j: json.dumps(list(j[:4])))
    print(f"{ran} searches in {secs:.0f} s", flush=True)
    lines = ["# The GA's steady-state loop against the generational one (issue 35 part 3)", "",
             "`python experiments/steady_ga.py --data ../shared/data` — NAS-Bench-201, seeds 300–319 (held out), "
             f"budget {BUDGET}; best validation accuracy after n evaluations, mean ± s.e. over 20 seeds; "
             "Δ = steady@4 − generational, paired, ± its s.e.; within 2 s.e.: Δ ≥ −2 s.e.",
             "", "| method | dataset | n | generational | steady@4 | steady@1 | Δ steady@4 | within 2 s.e. |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for m, d in JOBS:
        runs = {loop: [done[json.dumps([m, d, loop, s])] for s in SEEDS] for loop in LOOPS}
        for n in CHECKS:
            cells = {loop: mean_se([best_at(r, n) for r in runs[loop]]) for loop in LOOPS}
            diff = mean_se([best_at(a, n) - best_at(b, n) for a, b in zip(runs["steady@4"], runs["generational"])])
            ok = "yes" if diff[0] >= -2 * diff[1] else "**no**"
            lines.append(f"| {m} | {d} | {n} | " + " | ".join(f"{cells[lp][0]:.2f} ± {cells[lp][1]:.2f}"
                                                              for lp in LOOPS)
                         + f" | {diff[0]:+.2f} ± {diff[1]:.2f} | {ok} |")
    lines += ["", "Simulated hours to the last of the 200 results, mean over seeds (4 workers for steady@4; the "
              "generational loop's hours are on 1 worker, its archive the same on 4):", "",
              "| method | dataset | generational (1 worker) | steady@4 | speed-up | efficiency at 4 |",
              "|---|---|---:|---:|---:|---:|"]
    for m, d in JOBS:
        h = {loop: float(np.mean([max(e for _, e in done[json.dumps([m, d, loop, s])]) for s in SEEDS])) / 3600
             for loop in ("generational", "steady@4")}
        lines.append(f"| {m} | {d} | {h['generational']:.1f} | {h['steady@4']:.1f} | "
                     f"{h['generational'] / h['steady@4']:.2f} | {h['generational'] / h['steady@4'] / 4:.2f} |")
    lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
