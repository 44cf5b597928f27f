"""Engine overhead per evaluation: gptnas's REA vs a bare DEAP loop doing the same work on the same table.

Both evaluate the same number of unique NAS-Bench-201 architectures with the same tabular evaluator; the bare loop
has no cache object, archive, logbook, hall of fame, progress bar or checkpoints. A third row adds the run
directory: every evaluation journaled the moment it arrives, journals and checkpoint written atomically at most once a
second; the final HDF5 archive, summary and plot (written once per run) are timed apart.

    python experiments/engine_overhead.py --data ../shared/data/nb201 --budget 2000
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deap import base, tools  # noqa: E402

from gptnas.bench import open_table  # noqa: E402
from gptnas.config import RunConfig, SearchConfig  # noqa: E402
from gptnas.evaluators.factory import resolve_benchmark_path  # noqa: E402
from gptnas.evaluators.tabular import TabularEvaluator  # noqa: E402
from gptnas.search import driver  # noqa: E402
from deap import creator  # noqa: E402

# The bare loop uses DEAP's own types, as a user's hand-written loop would.
creator.create("BareFitness", base.Fitness, weights=(1.0,))
creator.create("BareIndividual", list, fitness=creator.BareFitness)
from gptnas.spaces import NB201Space  # noqa: E402


def bare_deap_rea(evaluator, budget: int, seed: int, population: int = 10, sample: int = 5) -> float:
    """Regularised evolution written directly against DEAP; returns the best validation accuracy."""
    space, rng = NB201Space(), random.Random(seed)
    tb = base.Toolbox()
    tb.register("evaluate", lambda ind: (evaluator.evaluate(ind).fitness,))
    seen: dict[tuple, float] = {}

    def evaluate(ind):
        key = tuple(ind)
        if key not in seen:
            seen[key] = tb.evaluate(ind)[0]
        ind.fitness.values = (seen[key],)

    pop = []
    while len(pop) < population:
        ind = creator.BareIndividual(space.sample(rng))
        evaluate(ind)
        pop.append(ind)
    while len(seen) < budget:
        parent = tools.selBest(rng.sample(pop, sample), 1)[0]
        child = tb.clone(parent)
        child[:] = space.mutate(list(child), rng)
        evaluate(child)
        pop.append(child)
        pop.pop(0)
    return max(seen.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data/nb201"))
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each loop (the fastest counts)")
    args = ap.parse_args(argv)
    data = str(resolve_benchmark_path(args.data, "nb201"))
    ev = TabularEvaluator(open_table(data), "cifar10")
    cfg = lambda **kw: RunConfig(space="nb201", fitness="benchmark", data=data, seed=args.seed,
                                 search=SearchConfig(method="rea", budget=args.budget),
                                 **kw)

    # The results a person reads (HDF5 archive, summary, plot) are written once at the end (and every 30 s):
    # timed apart, as a cost per run rather than per evaluation.
    t_results = [0.0]
    write_results = driver.write_results

    def timed_results(*a, **kw):
        t0 = time.perf_counter()
        write_results(*a, **kw)
        t_results[0] += time.perf_counter() - t0

    def with_run_dir():
        t_results[0] = 0.0
        driver.write_results = timed_results
        try:
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                driver.start(cfg(out=str(Path(tmp) / "run")), progress=False)
                return time.perf_counter() - t, t_results[0]
        finally:
            driver.write_results = write_results

    def timed(fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    # Interleaved repeats, the fastest of each kept: the least disturbed by whatever else the machine runs.
    bare, engine, rundir = [], [], []
    for _ in range(args.repeats):
        bare.append(timed(lambda: bare_deap_rea(ev, args.budget, args.seed)))
        engine.append(timed(lambda: driver.run_in_memory(cfg(), evaluator=ev)))
        rundir.append(with_run_dir())
    t_bare, t_engine = min(bare), min(engine)
    t_dir, t_res = min(rundir)
    n = args.budget
    rows = [("bare DEAP loop", t_bare), ("gptnas engine, in memory", t_engine),
            ("gptnas engine + run directory (every evaluation journaled as it arrives, checkpoint at most once a "
             "second), without the final results", t_dir - t_res),
            ("… the same, with the final results (HDF5 archive, summary, plot; once per run)", t_dir)]
    print(f"REA on NB201/cifar10 tables, {n} unique evaluations, seed {args.seed}, fastest of {args.repeats} "
          f"interleaved runs each\n")
    print("| loop | total (s) | per evaluation (ms) | ratio to bare |\n|---|---:|---:|---:|")
    for name, tt in rows:
        print(f"| {name} | {tt:.3f} | {1000 * tt / n:.3f} | {tt / t_bare:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
