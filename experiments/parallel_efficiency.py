"""Parallel efficiency of every method on the process pool (and on Ray): speed-up ÷ workers, with evaluations that
sleep as long as NAS-Bench-201 trained each cell (its ``train_time_s``, scaled to a mean of ``--mean`` seconds).

Sleeping costs no CPU, so 2 cores run 8 workers; what the search process itself does (GPT fine-tunes, the ranker,
pool refills) is measured with it. Fitness is the table's CIFAR-10 validation accuracy.

    python experiments/parallel_efficiency.py --data ../shared/data/nb201            # N = 1, 2, 4, 8; all methods
    python experiments/parallel_efficiency.py --data ../shared/data/nb201 --ray      # and Ray at N = 4
    python experiments/parallel_efficiency.py --startup     # start-up included: the CLI, a user's sleeping fitness

``--startup`` times what a user meets, worker start-up included: ``python -m gptnas.run`` with a user's pure-Python
fitness (``startup_fitness.py``: sleeps 0.2–0.8 s, by the architecture's hash), random search, budget 60, with 1 and
4 worker processes, ``--repeats`` times each; speed-up of the search's wall time (``summary.json``'s
``search_time_s``: worker start-up included) and of the whole command. Writes results/worker_startup.{md,json}.

Writes experiments/results/parallel_efficiency.md (+ .png, + .json with every wall time).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gptnas.config import from_dict  # noqa: E402
from gptnas.evaluators.tabular import TabularEvaluator  # noqa: E402
from gptnas.search import driver  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: method label -> config overrides
METHODS = {
    "random": {"search": {"method": "random"}},
    "rea": {"search": {"method": "rea"}},
    "ga": {"search": {"method": "ga"}},  # steady-state on several workers (ga.steady=auto)
    "ga (generational)": {"search": {"method": "ga"}, "ga": {"steady": False}},
    "gptnas": {"search": {"method": "gptnas"}},
    "gptnas (paper)": {"search": {"method": "gptnas"}, "gpt": {"preset": "paper"}},
    "gptnas (paper) generational": {"search": {"method": "gptnas"}, "gpt": {"preset": "paper"},
                                     "gptnas": {"steady": False}},
    "lapt": {"search": {"method": "lapt"}, "principles": {"source": "cifar100"}},
    "lmsearcher": {"search": {"method": "lmsearcher"}},
}
MEAN_TRAIN_S = 1827.99  # NAS-Bench-201's mean CIFAR-10 training time per cell (nb201_extra.csv)


class Sleeping:
    """The table's result, after sleeping the cell's training time × ``mean`` / the table's mean (picklable)."""

    def __init__(self, data: str, mean: float):
        self.inner, self.mean = TabularEvaluator(data, "cifar10"), mean
        self.uses_global_rng = False

    def __call__(self, arch):
        res = self.inner(arch)
        time.sleep(res.extras["train_time_s"] / MEAN_TRAIN_S * self.mean)
        return res


def config(label: str, data: str, workers: int, budget: int, seed: int, parallel: str | None = None):
    d = {"space": "nb201", "fitness": "benchmark", "dataset": "cifar10", "data": data, "seed": seed,
         "workers": workers, **({"parallel": parallel} if parallel else {})}
    for k, v in METHODS[label].items():
        d[k] = {**d.get(k, {}), **v}
    d["search"]["budget"] = budget
    return from_dict(d)


def timed_run(label: str, data: str, workers: int, budget: int, seed: int, mean: float,
              parallel: str | None = None) -> dict:
    """Wall time of one search, from its first proposal to its last result (the GPT build and worker start-up,
    paid once per run whatever N, are outside: they are timed apart)."""
    cfg = config(label, data, workers, budget, seed, parallel)
    import parallel_efficiency  # the class by its module's name, not __main__'s: Ray's workers import it
    t0 = time.perf_counter()
    p = driver.prepare(cfg, parallel_efficiency.Sleeping(data, mean), progress=False)
    search = driver.make_search(p, progress=False)
    pool = search.pool()
    if pool is not None and hasattr(pool, "warm"):  # start the workers outside the timed search
        pool.warm(search.timed_evaluate())
    t1 = time.perf_counter()
    try:
        state = search.run()
    finally:
        driver.close_map(p)
    t2 = time.perf_counter()
    busy = sum(r["eval_time_s"] for r in state.archive.rows)
    return {"method": label, "workers": workers, "backend": parallel or ("serial" if workers == 1 else "process"),
            "seconds": t2 - t1, "prepare_s": t1 - t0, "evaluations": state.evaluations,
            "eval_seconds": busy, "best": state.best_row()["fitness"], "status": state.status}


def startup(repeats: int, budget: int, workers: int) -> int:
    """The ``--startup`` measurement (see the module's docstring)."""
    import shutil
    import statistics
    import subprocess
    import tempfile
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent)])}
    rows = []
    with tempfile.TemporaryDirectory(prefix="gptnas-startup-") as tmp:
        for rep in range(repeats):
            for n in (1, workers):
                out = Path(tmp) / f"r{n}-{rep}"
                cmd = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "startup_fitness:fit",
                       "--method", "random", "--budget", str(budget), "--workers", str(n), "--seed", str(rep),
                       "--out", str(out)]
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)
                whole = time.perf_counter() - t0
                s = json.loads((out / "summary.json").read_text())
                rows.append({"workers": n, "repeat": rep, "command_s": whole, "search_s": s["search_time_s"]})
                print(f"N={n} repeat {rep}: search {s['wall_time_s']:.2f} s, command {whole:.2f} s", flush=True)
                shutil.rmtree(out)
    med = {(n, k): statistics.median(r[k] for r in rows if r["workers"] == n)
           for n in (1, workers) for k in ("search_s", "command_s")}
    lines = ["# Worker start-up (issue 36 part 4)", "",
             f"`python experiments/parallel_efficiency.py --startup --repeats {repeats}` — `python -m gptnas.run "
             f"--space nb201 --fitness startup_fitness:fit --method random --budget {budget} --workers N`, a user's "
             "pure-Python fitness sleeping 0.2–0.8 s (mean 0.5 s); seeds 0.."
             f"{repeats - 1}; medians. Search = `summary.json`'s `search_time_s` (worker start-up included); "
             "command = the whole process, interpreter start to exit.", "",
             "| | N=1 | N=%d | speed-up |" % workers, "|---|---:|---:|---:|"]
    for k, name in (("search_s", "search"), ("command_s", "command")):
        lines.append(f"| {name} | {med[(1, k)]:.2f} s | {med[(workers, k)]:.2f} s | "
                     f"{med[(1, k)] / med[(workers, k)]:.2f}× |")
    out = RESULTS / "worker_startup"
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in METHODS:
        pts = sorted((r["workers"], r["efficiency"]) for r in rows if r["method"] == label and r["backend"] != "ray")
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
    ray = [r for r in rows if r["backend"] == "ray"]
    for r in ray:
        ax.scatter([r["workers"]], [r["efficiency"]], marker="*", s=120, color="black", zorder=5)
    if ray:
        ax.scatter([], [], marker="*", s=120, color="black", label="Ray (each method)")
    ax.axhline(0.9, color="grey", ls=":", lw=1)
    ax.axhline(0.8, color="grey", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
    ax.set_ylim(0, 1.3)
    ax.set_xlabel("workers N")
    ax.set_ylabel("parallel efficiency (T1 / TN) / N")
    ax.set_title("Parallel efficiency: NAS-Bench-201 training times (mean 0.5 s), budget 200", fontsize=10)
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data/nb201"))
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--mean", type=float, default=0.5, help="mean evaluation time, seconds")
    ap.add_argument("--workers", default="1,2,4,8")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray", action="store_true", help="also Ray at N = 4")
    ap.add_argument("--out", default=str(RESULTS / "parallel_efficiency"))
    ap.add_argument("--startup", action="store_true", help="time the CLI with a user's sleeping fitness instead")
    ap.add_argument("--repeats", type=int, default=3, help="--startup: runs per worker count")
    args = ap.parse_args(argv)
    if args.startup:
        return startup(args.repeats, 60, 4)
    logging.basicConfig(level=logging.WARNING)
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([here, str(Path(here).parent), os.environ.get("PYTHONPATH", "")])
    sys.path.insert(0, here)
    out = Path(args.out)
    cache = out.with_suffix(".json")
    rows = json.loads(cache.read_text()) if cache.exists() else []
    done = {(r["method"], r["workers"], r["backend"]) for r in rows}
    jobs = [(m, n, None) for m in args.methods.split(",") for n in map(int, args.workers.split(","))]
    if args.ray:
        jobs += [(m, 4, "ray") for m in args.methods.split(",")]
    for label, n, backend in jobs:
        if (label, n, backend or ("serial" if n == 1 else "process")) in done:
            continue
        r = timed_run(label, args.data, n, args.budget, args.seed, args.mean, backend)
        print(f"{label:15s} N={n} {r['backend']:8s} {r['seconds']:7.1f} s  best {r['best']:.2f}", flush=True)
        rows.append(r)
        cache.write_text(json.dumps(rows, indent=1))
    t1 = {r["method"]: r["seconds"] for r in rows if r["workers"] == 1}
    for r in rows:
        r["speedup"] = t1[r["method"]] / r["seconds"] if r["method"] in t1 else float("nan")
        r["efficiency"] = r["speedup"] / r["workers"]
    cache.write_text(json.dumps(rows, indent=1))
    plot(rows, out.with_suffix(".png"))
    ns = sorted({r["workers"] for r in rows if r["backend"] != "ray"})
    lines = [f"# Parallel efficiency (issue 20)", "",
             f"`python experiments/parallel_efficiency.py --data ../shared/data/nb201{' --ray' if args.ray else ''}`"
             f" — NAS-Bench-201 CIFAR-10, budget {args.budget}, each evaluation sleeps its cell's training time "
             f"scaled to a mean of {args.mean} s; seed {args.seed}; `search.order=lag` (the default). Wall time of the "
             "search from its first proposal to its last result (the GPT or ranker build and the worker start-up, "
             "paid once whatever N, are timed apart: `prepare_s` in the .json). Efficiency = T1 / (N · TN).", "",
             "| method | " + " | ".join(f"N={n}: s (eff.)" for n in ns) + (" | Ray N=4 (eff.) |" if args.ray else " |"),
             "|---|" + "---:|" * (len(ns) + bool(args.ray))]
    for label in METHODS:
        mine = {(r["workers"], r["backend"] == "ray"): r for r in rows if r["method"] == label}
        if not mine:
            continue
        cells = [f"{mine[(n, False)]['seconds']:.1f} ({mine[(n, False)]['efficiency']:.2f})" if (n, False) in mine
                 else "—" for n in ns]
        if args.ray:
            r = mine.get((4, True))
            cells.append(f"{r['seconds']:.1f} ({r['efficiency']:.2f})" if r else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"![efficiency]({out.with_suffix('.png').name})", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
