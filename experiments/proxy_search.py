"""Searching NAS-Bench-201 with a zero-cost proxy as fitness: what test accuracy does the proxy's choice reach?

    python experiments/proxy_search.py --data ../shared/data/nb201 --seeds 10 --budget 200

For each dataset, method and fitness it runs ``--seeds`` searches through the package (``run_in_memory``, the same
evaluators as ``python -m gptnas.run --fitness proxy:NAME --data PATH``) and reports the mean ± std of the 200-epoch
test accuracy of the best-by-fitness architecture. The proxy rows never see an accuracy: the benchmark's test
accuracy is only reported. The ``benchmark`` rows (validation accuracy as fitness, same seeds and budget) are the
reference. Also reported: the mean CPU time per search.

Writes ``experiments/results/proxy_search.md``. Data-free proxies only (synflow, params, flops): the data-dependent
ones would need CIFAR images, which this machine lacks.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gptnas.config import RunConfig, SearchConfig  # noqa: E402

DATASETS = ("cifar10", "cifar100")  # proxies take image datasets; ImageNet16-120 is a benchmark-only name here


def _init_worker() -> None:
    import torch
    torch.set_num_threads(1)


def one_run(job: tuple) -> tuple:
    """``(dataset, method, fitness, seed, budget, data)`` → (job, test % of the best, seconds)."""
    from gptnas.search.driver import run_in_memory

    dataset, method, fitness, seed, budget, data = job
    cfg = RunConfig(space="nb201", fitness=fitness, dataset=dataset, seed=seed, data=data,
                    search=SearchConfig(method=method, budget=budget))
    t0 = time.process_time()
    st = run_in_memory(cfg)
    return job, st.best_row()["test"], time.process_time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data/nb201"))
    ap.add_argument("--fitness", default="benchmark,proxy:synflow,proxy:params,proxy:synflow+params",
                    help="comma-separated fitness kinds")
    ap.add_argument("--methods", default="random,rea")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="experiments/results/proxy_search.md")
    args = ap.parse_args(argv)
    fits, methods, datasets = args.fitness.split(","), args.methods.split(","), args.datasets.split(",")
    jobs = [(d, m, f, s, args.budget, args.data) for d in datasets for m in methods for f in fits
            for s in range(args.seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init_worker) as ex:
        results = list(ex.map(one_run, jobs))
    wall = time.perf_counter() - t0
    by = {}
    for (d, m, f, *_), test, cpu in results:
        by.setdefault((d, m, f), []).append((test, cpu))
    lines = [
        "# Zero-cost proxies as fitness on NAS-Bench-201",
        "",
        f"Command: `python experiments/proxy_search.py --seeds {args.seeds} --budget {args.budget} "
        f"--fitness {args.fitness} --methods {args.methods} --datasets {args.datasets}`",
        "",
        f"Mean ± std over {args.seeds} seeds of the 200-epoch test accuracy (%) of the best-by-fitness architecture "
        f"after {args.budget} unique evaluations; CPU seconds per search (1 thread). `benchmark` = the table's "
        f"validation accuracy as fitness. Wall time {wall:.0f} s with {args.workers} processes.",
        "",
        "| method | fitness | " + " | ".join(f"test {d}" for d in datasets) + " | "
        + " | ".join(f"CPU s {d}" for d in datasets) + " |",
        "|---|---|" + "---|" * (2 * len(datasets)),
    ]
    for m in methods:
        for f in fits:
            cells = [np.array([t for t, _ in by[(d, m, f)]]) for d in datasets]
            cpu = [np.mean([c for _, c in by[(d, m, f)]]) for d in datasets]
            lines.append(f"| {m} | {f} | " + " | ".join(f"{v.mean():.2f} ± {v.std():.2f}" for v in cells) + " | "
                         + " | ".join(f"{c:.1f}" for c in cpu) + " |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
