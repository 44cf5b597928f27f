"""NAS as ranking (issue 12, LM-Searcher): the built-in ranker, trained without the target, on NAS-Bench-201 and
across spaces; its ablations; its cost.

- **In domain**: for each NAS-Bench-201 dataset, the ranker trained on every other table (the two other datasets and
  TransNAS-Bench-101's four tasks), at 25 / 50 / 100 / 200 queries: ``lmsearcher``, ``rea`` and ``gptnas`` with
  ranked pre-screening (``rank.prescreen=4``), beside ``lmsearcher:preset=paper``, plain ``rea`` and ``gptnas``;
  test accuracy of the best-by-validation cell, and its validation accuracy (ImageNet16-120 is judged by
  validation).
  ``lmsearcher:preset=paper`` is LM-Searcher's paper preset (docs/lmsearcher_paper.md) with the built-in ranker:
  the paper's random pools (its other rule, a new pool when an LLM's reply names no candidate, does not apply to
  the built-in ranker, which always names one); ``lmsearcher`` is ours (the default: mixed pools).
- **Cross-domain**: trained on NAS-Bench-201 only, searching TransNAS-Bench-101's tasks (20 and 50 queries); trained
  on TransNAS-Bench-101 only, searching NAS-Bench-201.
- **Ablations** on CIFAR-100 at 100 queries (the paper's): uniform sampling instead of pruning-based, shuffled
  scores, random choice from the pool; with our mixed pool and with the paper preset's random pool.
- **Cost**: the ranker's training time on a cold cache, and the time per choice.

    python experiments/lmsearcher_nb201.py --data ../shared/data --seeds 20 --workers 1 \
        --cache experiments/results/tmp/lms_cache.jsonl --model-cache experiments/results/tmp/lms_models

writes ``experiments/results/lmsearcher_nb201.md`` and ``.png`` (a cold ``--model-cache`` measures the rankers'
training time; rankers train with ``rank.seed`` 0 whatever the search seeds). Held-out search seeds (issue 22):

    python experiments/lmsearcher_nb201.py --data ../shared/data --seeds 20 --seed-start 100 --workers 1 \
        --cache experiments/results/tmp/lms_heldout_cache.jsonl --model-cache experiments/results/tmp/lms_models \
        --out experiments/results/lmsearcher_heldout
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import benchmark_config, run_cached  # noqa: E402

NB = ("cifar10", "cifar100", "imagenet16-120")
TN = ("class_scene", "class_object", "jigsaw", "room_layout")
BUDGETS = (25, 50, 100, 200)
PUBLISHED = {"cifar10": 94.20, "cifar100": 72.96, "imagenet16-120": 46.51}  # LM-Searcher, test, 100 queries
PAPER = "lmsearcher:preset=paper"  # the paper preset: its random pools (the built-in ranker needs no redraw)
NB_ONLY = ",".join(f"nb201:{d}" for d in NB)
TN_ONLY = ",".join(f"tnb101:{t}" for t in TN)


def label(method: str) -> str:
    """How a spec is named in the tables: which row is the paper's, which ours."""
    if method == "lmsearcher":
        return "lmsearcher (ours, default: mixed pool)"
    if method == PAPER:
        return "lmsearcher, paper preset (the paper's random pool, built-in ranker)"
    return method.replace(NB_ONLY, "NB201")


def spec(method: str) -> tuple[str, dict]:
    """``lmsearcher``, ``rea+prescreen``, ``gptnas+prescreen``, ``lmsearcher:key=value`` → (method, overrides):
    keys of the rank section, ``preset`` the method's preset."""
    import re
    import yaml
    head, *sets = re.split(r":(?=\w+=)", method)  # values may hold colons (source=nb201:cifar10,...)
    name, _, extra = head.partition("+")
    over = {"rank.prescreen": 4} if extra == "prescreen" else {}
    for kv in sets:
        k, v = kv.split("=", 1)
        over[f"{name}.preset" if k == "preset" else f"rank.{k}"] = yaml.safe_load(v)
    return name, over


def budget_dependent(method: str) -> bool:
    # the paper's GPT-NAS decays its elimination rate over the budget (lmsearcher's paper preset does not)
    return method.startswith("gptnas") and "preset=paper" in method


def config(method, space, dataset, budget, seed, data, cache):
    return benchmark_config(*spec(method), space, dataset, budget, seed, data, cache)


def one(job):
    from gptnas.search.driver import run_in_memory
    method, space, dataset, budget, seed, data, cache = job
    st = run_in_memory(config(method, space, dataset, budget, seed, data, cache))
    return job, [(r["fitness"], r["test"]) for r in st.archive.rows]


def build_rankers(jobs, data, cache) -> dict:
    """Train every distinct ranker the jobs need, once, here (workers then load them); returns their timings."""
    from gptnas.config import validate
    from gptnas.core.rng import Rngs
    from gptnas.methods.base import SearchContext
    from gptnas.methods.lmsearcher.rankers import builtin_ranker
    from gptnas.spaces import get_space
    done, times = set(), {}
    for method, space, dataset, _, _, _, _ in jobs:
        name, over = spec(method)
        if name != "lmsearcher" and "rank.prescreen" not in over or over.get("rank.ranker") == "random":
            continue
        cfg = validate(config(method, space, dataset, 10, 0, data, cache))
        rank = ranker_settings(cfg)
        key = (space, dataset, json.dumps(rank.to_dict(), sort_keys=True))
        if key in done:
            continue
        done.add(key)
        ctx = SearchContext(get_space(space), Rngs(0), progress=False, dataset=dataset, fitness="benchmark", data=data,
                            space_name=space, cache_dir=cache)
        t0 = time.perf_counter()
        r = builtin_ranker(rank, ctx, progress=False)
        if not getattr(r, "loaded_from_cache", True):
            times[f"{space}:{dataset} {method}"] = (time.perf_counter() - t0, r.train_log[-1])
    return times


def ranker_settings(cfg):
    """The RankSettings of a validated config: the method's own section, or the pre-screening wrapper's."""
    from gptnas.methods.lmsearcher.options import RankSettings
    d = dict(cfg.sections.get("lmsearcher") or cfg.sections.get("prescreened") or {})
    d.pop("preset", None)  # the method's, not the ranker's
    return RankSettings.from_dict(d)


def choice_time(data, cache) -> float:
    """Milliseconds per choice of the built-in ranker: 200 choices with a 100-entry history and a pool of 10."""
    import random
    from gptnas.config import validate
    from gptnas.core.rng import Rngs
    from gptnas.methods.base import SearchContext
    from gptnas.methods.lmsearcher.rankers import builtin_ranker
    from gptnas.spaces import NB201Space
    import torch
    torch.set_num_threads(1)
    cfg = validate(config("lmsearcher", "nb201", "cifar100", 10, 0, data, cache))
    ctx = SearchContext(NB201Space(), Rngs(0), dataset="cifar100", fitness="benchmark", data=data,
                        space_name="nb201", cache_dir=cache)
    r = builtin_ranker(ranker_settings(cfg), ctx, progress=False)
    rng = random.Random(0)
    codes = ["".join(str(rng.randrange(5)) for _ in range(6)) for _ in range(110)]
    scores = [rng.random() for _ in codes]
    t0 = time.perf_counter()
    for _ in range(200):
        r.choose(codes[:100], scores[:100], codes[100:])
    return 1000 * (time.perf_counter() - t0) / 200


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-start", type=int, default=0, help="first search seed (seeds N .. N + --seeds - 1; the "
                    "rankers train with rank.seed 0 whatever this is)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--parts", default="domain,cross,ablation")
    ap.add_argument("--methods", default=f"lmsearcher,{PAPER},rea+prescreen,gptnas+prescreen,rea,gptnas",
                    help="in-domain methods (comma-separated)")
    ap.add_argument("--cache", help="JSONL of finished searches, reused on a rerun")
    ap.add_argument("--model-cache", help="where rankers and GPTs are cached (default: a fresh temporary folder, so "
                                          "the training time is measured on a cold cache)")
    ap.add_argument("--out", default="experiments/results/lmsearcher_nb201")
    args = ap.parse_args(argv)
    cache = args.model_cache or tempfile.mkdtemp(prefix="gptnas-rankers-")
    parts = args.parts.split(",")
    S = range(args.seed_start, args.seed_start + args.seeds)
    jobs = []
    domain_methods = args.methods.split(",")
    if "domain" in parts:
        for m in domain_methods:
            for d in NB:
                for b in (BUDGETS if budget_dependent(m) else [max(BUDGETS)]):
                    jobs += [(m, "nb201", d, b, s, args.data, cache) for s in S]
    cross = [f"lmsearcher:source={NB_ONLY}", f"lmsearcher:source={NB_ONLY}:relabel=0", "rea"]
    if "cross" in parts:
        for m in cross:
            for t in TN:
                jobs += [(m, "tnb101", t, 50, s, args.data, cache) for s in S]
        for d in NB:
            jobs += [(f"lmsearcher:source={TN_ONLY}", "nb201", d, 200, s, args.data, cache) for s in S]
    variants = ["", ":relabel=0", ":uniform=true", ":shuffle_scores=true", ":ranker=random"]
    pools = {"mixed (ours, default)": "lmsearcher", "random (the paper's: preset=paper)": PAPER}
    ablations = [p + v for p in pools.values() for v in variants]
    if "ablation" in parts:
        for m in ablations:
            jobs += [(m, "nb201", "cifar100", 100, s, args.data, cache) for s in S]
    jobs = list(dict.fromkeys(jobs))
    t0 = time.time()
    train_times = build_rankers(jobs, args.data, cache)
    t_rankers = time.time() - t0
    done, n_run, _ = run_cached(jobs, one, args.workers, args.cache, key=lambda j: json.dumps(list(j[:5])))
    elapsed = time.time() - t0

    def at(m, space, d, b):
        """(test, val) of the best-by-validation cell within the first b evaluations, per seed."""
        out = []
        for s in S:
            rows = None
            for bb in ([b] if budget_dependent(m) else [max(BUDGETS), 50, 100]):
                rows = done.get(json.dumps([m, space, d, bb, s]))
                if rows is not None:
                    break
            rows = rows[:b]
            i = int(np.argmax([r[0] for r in rows]))
            out.append((rows[i][1], rows[i][0]))
        return np.array(out)

    fmt = lambda a, k: f"{a[:, k].mean():.2f} ± {a[:, k].std():.2f}"
    lines = [f"NAS as ranking, {args.seeds} seeds (seeds {S[0]}–{S[-1]}) per cell (searches see only the target's "
             "validation accuracy; the built-in ranker never trains on the target's own task, and trains with "
             "rank.seed 0 whatever the search seed).", ""]
    summary = {}
    if "domain" in parts:
        lines += ["### NAS-Bench-201: test accuracy (validation in brackets) of the best-by-validation cell", "",
                  "| method | budget | " + " | ".join(NB) + " |", "|---|---:|" + "---|" * len(NB)]
        for m in domain_methods:
            for b in BUDGETS:
                cells = []
                for d in NB:
                    a = at(m, "nb201", d, b)
                    summary[(m, d, b)] = (a[:, 0].mean(), a[:, 1].mean())
                    cells.append(f"{fmt(a, 0)} ({a[:, 1].mean():.2f})")
                lines.append(f"| {label(m)} | {b} | " + " | ".join(cells) + " |")
        lines.append("| LM-Searcher (published, 8B) | 100 | " + " | ".join(f"{PUBLISHED[d]:.2f}" for d in NB) + " |")
        lines.append("")
        if "lmsearcher" in domain_methods and PAPER in domain_methods:
            lines += ["Against the published LM-Searcher at 100 queries (test): " + "; ".join(
                published_line(d, summary[(PAPER, d, 100)][0], summary[("lmsearcher", d, 100)][0]) for d in NB) +
                ". Which side of the published figure a row lands on is the pool's doing, not the ranker's: both rows "
                "use the same built-in ranker.", ""]
    if "cross" in parts:
        lines += ["### Cross-domain", "", "Ranker trained on NAS-Bench-201 only, searching TransNAS-Bench-101 "
                  "(validation values; room_layout is a negative L2 loss):", "",
                  "| method | budget | " + " | ".join(TN) + " |", "|---|---:|" + "---|" * len(TN)]
        for m in cross:
            for b in (20, 50):
                cells = []
                for t in TN:
                    rows = [done[json.dumps([m, "tnb101", t, 50, s])][:b] for s in S]
                    v = np.array([max(r[0] for r in rr) for rr in rows])
                    summary[(m, t, b)] = (v.mean(), v.mean())
                    cells.append(f"{v.mean():.4f} ± {v.std():.4f}")
                lines.append(f"| {label(m)} | {b} | " + " | ".join(cells) + " |")
        lines += ["", "Ranker trained on TransNAS-Bench-101 only, searching NAS-Bench-201 (test, validation in "
                  "brackets):", "", "| method | budget | " + " | ".join(NB) + " |", "|---|---:|" + "---|" * len(NB)]
        m = f"lmsearcher:source={TN_ONLY}"
        for b in BUDGETS:
            cells = []
            for d in NB:
                rows = [done[json.dumps([m, "nb201", d, 200, s])][:b] for s in S]
                a = np.array([max(rr, key=lambda r: r[0])[::-1] for rr in rows])
                cells.append(f"{fmt(a, 0)} ({a[:, 1].mean():.2f})")
            lines.append(f"| lmsearcher (TNB101-trained) | {b} | " + " | ".join(cells) + " |")
        lines.append("")
    if "ablation" in parts:
        lines += ["### Ablations, CIFAR-100, 100 queries: test accuracy (validation in brackets) by the pool the ranker "
                  "chooses from (the paper, random pools: full 72.96, without pruning-based sampling 70.98, shuffled "
                  "scores 71.89, without ranking 69.51)", "",
                  "| variant | " + " | ".join(f"{k} pool" for k in pools) + " |", "|---|" + "---|" * len(pools)]
        names = {"": "full", ":relabel=0": "no relabelled samples in training",
                 ":uniform=true": "uniform sampling instead of pruning-based",
                 ":shuffle_scores=true": "shuffled scores in training", ":ranker=random": "random choice (no ranking)"}
        full = {}
        for v in variants:
            cells = []
            for p in pools.values():
                rows = [done[json.dumps([p + v, "nb201", "cifar100", 100, s])][:100] for s in S]
                a = np.array([max(rr, key=lambda r: r[0])[::-1] for rr in rows])
                cells.append(f"{fmt(a, 0)} ({a[:, 1].mean():.2f})")
                if not v:
                    full[p] = a[:, 0].mean()
            lines.append(f"| {names[v]} | " + " | ".join(cells) + " |")
        lines += ["", "Against the published: " + published_line("cifar100", full[PAPER], full["lmsearcher"]) + ".",
                  ""]
    ms = choice_time(args.data, cache)
    lines += ["### Cost", ""]
    for name, (sec, log) in train_times.items():
        lines.append(f"- ranker for {name}: {log['samples']:,} samples, {log['epochs']} epochs, {sec:.0f} s to build "
                     f"(training {log['seconds']:.0f} s; loss {log['losses'][-1]:.3f}, chance {log['chance_loss']:.3f})")
    lines += [f"- time per choice (history of 100, pool of 10): {ms:.2f} ms", "",
              f"{len(jobs)} searches ({n_run} run now) and the rankers in {elapsed:.0f} s ({t_rankers:.0f} s "
              f"building rankers) with {args.workers} worker(s)."]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    if "domain" in parts:
        plot(summary, domain_methods, out.with_suffix(".png"))
    return 0


def published_line(d: str, paper: float, ours: float) -> str:
    """One dataset's comparison with the published LM-Searcher at 100 queries: the paper preset's random pool, the
    published figure, our mixed pool."""
    side = lambda v: "above" if v > PUBLISHED[d] else "below" if v < PUBLISHED[d] else "equal to"
    return (f"{d} — the paper's random pool (preset paper) {paper:.2f}, {side(paper)} the published "
            f"{PUBLISHED[d]:.2f}; our mixed pool (default) {ours:.2f}, {side(ours)} it")


def plot(summary, methods, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110)
    for ax, d in zip(axes, NB):
        for m in methods:
            ax.plot(BUDGETS, [summary[(m, d, b)][1 if d == "imagenet16-120" else 0] for b in BUDGETS], marker="o",
                    label=label(m), ls="--" if m == PAPER else "-")
        ax.plot([100], [PUBLISHED[d]], "k*", ms=10, label="LM-Searcher (published, test)")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
        ax.set_title(d + (" (validation)" if d == "imagenet16-120" else " (test)"), fontsize=10)
        ax.set_xlabel("queries")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy of the best-by-validation cell (%)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
