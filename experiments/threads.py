"""How many torch threads a single gptnas process should use: the GPT work of a search (pre-training, online
fine-tunes, proposals) and the training of a candidate network, timed with 1, 2, ... threads.

    python experiments/threads.py [--threads 1 2] [--busy 0]

``--busy N`` starts N processes that keep a core each busy (a loaded machine: other searches, workers) while the
timings run. Prints a markdown table; BENCHMARKS.md records it with the machine.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1_000_003


def timings(threads: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    from gptnas.core.types import make_individual
    from gptnas.lm import GPTProposer, PretrainSettings, sample_architectures
    from gptnas.lm.cache import resolve
    from gptnas.methods.gptnas.options import PRESETS
    from gptnas.methods.gptnas.operators.local import mut_gpt_local
    from gptnas.spaces import NB201Space
    space, out = NB201Space(), {}
    for preset in ("local", "paper"):
        s = resolve(space, PretrainSettings.from_dict(PRESETS[preset]["pretrain"]))
        corpus = sample_architectures(space, s.corpus.n, s.corpus.seed)
        prop = GPTProposer(space, config=s.model, seed=0)
        t = time.perf_counter()
        prop.fit(corpus, s.train, progress=False)
        out[f"pre-training, {preset} GPT (s)"] = time.perf_counter() - t
        rng = random.Random(0)
        elites = [space.sample(rng) for _ in range(25)]
        t = time.perf_counter()
        prop.finetune(elites, epochs=50, lr=3e-3)
        out[f"fine-tune, 50 steps, {preset} GPT (s)"] = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(200):
            mut_gpt_local(make_individual(space.sample(rng)), prop, rng, temperature=0.5)
        out[f"local move, {preset} GPT (ms/child)"] = 1e3 * (time.perf_counter() - t) / 200
    from gptnas.evaluators.training import TrainingEvaluator
    ev = TrainingEvaluator(space, dataset="digits", epochs=1, device="cpu")
    ev.evaluate(space.sample(random.Random(1)))  # loads the data
    t = time.perf_counter()
    for seed in range(3):
        ev.evaluate(space.sample(random.Random(seed)))
    out["train an NB201 cell, 1 epoch on digits (s)"] = (time.perf_counter() - t) / 3
    return out


def _child(threads: int, q) -> None:
    q.put(timings(threads))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--busy", type=int, default=0, help="processes keeping a core busy meanwhile")
    args = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    spinners = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    results = {}
    try:
        for n in args.threads:  # each in a fresh process: torch's thread pool is set once per process
            q = ctx.Queue()
            p = ctx.Process(target=_child, args=(n, q))
            p.start()
            results[n] = q.get()
            p.join()
    finally:
        stop.set()
        for p in spinners:
            p.join()
    keys = list(next(iter(results.values())))
    print(f"{os.cpu_count()} cores, {args.busy} busy process(es) beside\n")
    print("| measurement | " + " | ".join(f"{n} thread(s)" for n in args.threads) + " |")
    print("|---|" + "---:|" * len(args.threads))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{results[n][k]:.2f}" for n in args.threads) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
