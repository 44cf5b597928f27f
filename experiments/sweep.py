"""Running an experiment's searches: in parallel worker processes, each finished search appended to a JSONL cache
the moment it arrives, so an interrupted sweep loses nothing and a rerun reuses what is there.

Used by the experiment scripts beside this file (``from sweep import run_cached``).
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Optional


def one_thread() -> None:
    """Worker initialiser: one torch thread per process (several processes share the cores)."""
    import torch
    torch.set_num_threads(1)


def benchmark_config(name: str, overrides: dict, space: str, dataset: str, budget: int, seed: int, data, cache):
    """The config of one tabular search: method ``name`` with dotted ``overrides``, models cached in ``cache``."""
    from gptnas.config import RunConfig, SearchConfig, from_dict, set_dotted
    d = RunConfig(space=space, fitness="benchmark", dataset=dataset, seed=seed, data=data,
                  search=SearchConfig(method=name, budget=budget)).to_dict()
    set_dotted(d, "gpt.cache_dir", cache)
    for k, v in overrides.items():
        set_dotted(d, k, v)
    return from_dict(d)


def run_cached(jobs: list, fn: Callable, workers: int, cache: Optional[str] = None,
               key: Callable = lambda job: json.dumps(list(job)), every: int = 50,
               initializer: Optional[Callable] = one_thread) -> tuple[dict, int, float]:
    """Run ``fn(job) -> (job, result)`` for every job whose ``key(job)`` is not in ``cache`` yet.

    ``result`` must be plain JSON data. The cache holds one ``{"key": ..., "rows": result}`` line per search
    (lines of the older ``{"job": [...], "rows": ...}`` form are read too). Prints progress every ``every``
    searches. Returns ``({key: result} for every job, searches run now, their wall time in seconds)``.
    """
    done: dict = {}
    if cache and Path(cache).exists():
        for line in Path(cache).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["key"] if "key" in r else json.dumps(r["job"])] = r["rows"]
    todo = [j for j in jobs if key(j) not in done]
    if done:
        print(f"{len(jobs) - len(todo)} of {len(jobs)} searches reused from {cache}", flush=True)
    t0 = time.time()
    if todo:
        with ProcessPoolExecutor(workers, initializer=initializer) as ex:
            for i, f in enumerate(as_completed([ex.submit(fn, j) for j in todo]), 1):
                job, result = f.result()
                done[key(job)] = result
                if cache:
                    with open(cache, "a") as fh:
                        fh.write(json.dumps({"key": key(job), "rows": result}) + "\n")
                if i % every == 0 or i == len(todo):
                    print(f"{i}/{len(todo)} searches ({time.time() - t0:.0f} s)", flush=True)
    return done, len(todo), time.time() - t0
