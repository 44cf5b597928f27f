"""CPU-scale reproduction of GPT-NAS's ablations on the block-chain space (issue: the paper's own method).

Three measurements, all with real training on a small dataset (default: scikit-learn's digits, 4 epochs):

1. Random baseline: the median validation accuracy of randomly sampled chains trained the same way.
2. Elimination rate (paper, Table "r"): for each seed, 15 random chains are reconstructed by the GPT with
   elimination rate r (r = 0: left as sampled) and trained; mean accuracy per r.
3. GPT vs "NAS without GPT": the embedded default search (``python -m gptnas.run``'s settings) with the GPT, and
   the same GA with ``gpt.enabled=false``; best-by-validation accuracy per seed.

    python experiments/gptnas_ablation.py --seeds 3 --workers 2

writes ``experiments/results/gptnas_ablation.md`` and ``.png``.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATES = (0.0, 0.2, 0.4, 0.6, 0.8)
#: The paper's ablation (15 architectures, 90 epochs, mean accuracy): CIFAR-10, CIFAR-100.
PAPER = {0.0: (.3792, .0453), 0.2: (.4226, .1257), 0.4: (.5134, .1392), 0.6: (.5056, .1278), 0.8: (.4828, .1261)}
PAPER_SEARCH = {"GPT-NAS": (97.69, 82.81), "NAS without GPT": (90.77, 75.20)}


def _init_worker(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


def _config(dataset: str, epochs: int, seed: int, budget: int | None = None, **gpt):
    from gptnas.config import RunConfig, validate
    cfg = RunConfig(dataset=dataset, seed=seed)
    cfg.train.epochs = epochs
    if budget:
        cfg.search.budget = budget
    cfg.sections["gptnas"] = dict(gpt)
    return validate(cfg)


def train_one(job: tuple) -> tuple:
    """(tag, seed, genome, dataset, epochs) → (tag, seed, genome, val %, test %)."""
    from gptnas.evaluators.factory import build_evaluator
    from gptnas.spaces import get_space
    tag, seed, arch, dataset, epochs = job
    cfg = _config(dataset, epochs, seed)
    r = build_evaluator(cfg, get_space(cfg.space, cfg.space_options))(list(arch))
    return tag, seed, list(arch), r.fitness, r.test


def search_one(job: tuple) -> tuple:
    """(tag, seed, dataset, epochs, budget, gpt enabled) → (tag, seed, best val, its test, seconds)."""
    from gptnas.search.driver import run_in_memory
    tag, seed, dataset, epochs, budget, enabled = job
    t0 = time.time()
    st = run_in_memory(_config(dataset, epochs, seed, budget, enabled=enabled))
    best = st.best_row()
    return tag, seed, best["fitness"], best["test"], time.time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-archs", type=int, default=15, help="chains per rate and seed (paper: 15)")
    ap.add_argument("--budget", type=int, default=None, help="search budget (default: the embedded default's)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: rates, search")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "gptnas_ablation"))
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    import torch
    torch.set_num_threads(args.threads)
    from gptnas.evaluators.factory import IMAGE_SHAPES
    from gptnas.methods.gptnas.layer_proposer import pretrained_layer_proposer
    from gptnas.spaces import get_space
    cfg = _config(args.dataset, args.epochs, 0)
    space = get_space(cfg.space, cfg.space_options)
    t0 = time.time()
    proposer = pretrained_layer_proposer(space, IMAGE_SHAPES[args.dataset][:3], cfg.sections["gptnas"]["layer_gpt"])  # cached once
    print(f"layer GPT ready in {time.time() - t0:.0f} s", flush=True)

    jobs = []
    if "rates" not in skip:
        for seed in range(args.seeds):
            rng = random.Random(1000 + seed)
            base = [space.sample(rng) for _ in range(args.n_archs)]
            for r in RATES:
                grng = random.Random(seed * 100 + int(r * 10))
                for arch in base:
                    gaps = [i for i in range(len(arch)) if grng.random() < r]
                    new = proposer.reconstruct(arch, gaps, grng) if gaps else list(arch)
                    jobs.append((f"r={r}", seed, new, args.dataset, args.epochs))
    sjobs = [] if "search" in skip else [(tag, seed, args.dataset, args.epochs, args.budget, enabled)
                                         for seed in range(args.seeds)
                                         for tag, enabled in (("GPT-NAS", True), ("NAS without GPT", False))]
    t0 = time.time()
    with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(args.threads,)) as ex:
        trained = list(ex.map(train_one, jobs))
        searched = list(ex.map(search_one, sjobs))
    elapsed = time.time() - t0

    lines = [f"GPT-NAS ablations at CPU scale: block-chain space, {args.dataset}, {args.epochs} training epochs per "
             f"network, {args.seeds} seeds ({elapsed:.0f} s with {args.workers} worker(s)).", ""]
    acc = {}
    for tag, seed, _a, val, test in trained:
        acc.setdefault(tag, []).append((val, test))
    if trained:
        rand = np.array([v for v, _ in acc["r=0.0"]])
        lines += [f"Random chains (r = 0), {len(rand)} trained: median validation accuracy {np.median(rand):.2f} %, "
                  f"mean {rand.mean():.2f} %, best {rand.max():.2f} %.", "",
                  f"Elimination rate: mean accuracy of {args.n_archs} chains per seed after GPT reconstruction "
                  "(paper: 15 architectures, 90 epochs, CIFAR-10 / CIFAR-100).", "",
                  "| r | val % (mean ± std over seeds) | test % | paper CIFAR-10 | paper CIFAR-100 |",
                  "|---:|---|---|---:|---:|"]
        for r in RATES:
            per_seed = {}
            for tag, seed, _a, val, test in trained:
                if tag == f"r={r}":
                    per_seed.setdefault(seed, []).append((val, test))
            vals = [np.mean([v for v, _ in x]) for x in per_seed.values()]
            tests = [np.mean([t for _, t in x]) for x in per_seed.values()]
            lines.append(f"| {r} | {np.mean(vals):.2f} ± {np.std(vals):.2f} | {np.mean(tests):.2f} ± "
                         f"{np.std(tests):.2f} | {PAPER[r][0]:.4f} | {PAPER[r][1]:.4f} |")
    if searched:
        budget = _config(args.dataset, args.epochs, 0, args.budget).search.budget
        lines += ["", f"Search, budget {budget} trained networks, best-by-validation (test reported only).", "",
                  "| method | best val % | its test % | seconds per run | paper CIFAR-10 / CIFAR-100 |",
                  "|---|---|---|---:|---|"]
        for tag in PAPER_SEARCH:
            rows = [x for x in searched if x[0] == tag]
            v, t, s = (np.array([x[i] for x in rows]) for i in (2, 3, 4))
            lines.append(f"| {tag} | {v.mean():.2f} ± {v.std():.2f} | {t.mean():.2f} ± {t.std():.2f} | "
                         f"{s.mean():.0f} | {PAPER_SEARCH[tag][0]} / {PAPER_SEARCH[tag][1]} |")
        lines.append("")
        lines.append("Per seed (best val): " + "; ".join(
            f"{tag}: " + ", ".join(f"{x[2]:.2f}" for x in searched if x[0] == tag) for tag in PAPER_SEARCH))
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(table + "\n")
    if trained:
        plot(trained, searched, out.with_suffix(".png"), args)
    print(f"wrote {out.with_suffix('.md')}")
    return 0


def plot(trained, searched, path, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    ax = axes[0]
    for r_i, r in enumerate(RATES):
        vals = [v for tag, _s, _a, v, _t in trained if tag == f"r={r}"]
        ax.scatter(np.full(len(vals), r) + np.random.default_rng(r_i).uniform(-0.03, 0.03, len(vals)), vals,
                   s=8, alpha=0.4, color="tab:blue")
        ax.plot(r, np.mean(vals), "o", color="tab:red", ms=7)
    ax2 = ax.twinx()
    ax2.plot(list(PAPER), [100 * PAPER[r][0] for r in PAPER], "k--", marker="*", label="paper CIFAR-10 (right)")
    ax2.set_ylabel("paper's mean accuracy (%)")
    ax2.legend(loc="lower right", fontsize=7)
    ax.set_xlabel("elimination rate r")
    ax.set_ylabel(f"val. accuracy on {args.dataset} (%)")
    ax.set_title("Chains reconstructed by the GPT (red: mean)")
    ax.grid(alpha=0.3)
    ax = axes[1]
    rand = [v for tag, _s, _a, v, _t in trained if tag == "r=0.0"]
    groups = [("random chains", rand)] + [(tag, [x[2] for x in searched if x[0] == tag]) for tag in PAPER_SEARCH]
    groups = [(n, v) for n, v in groups if v]
    ax.boxplot([v for _, v in groups], tick_labels=[n for n, _ in groups])
    ax.set_ylabel("val. accuracy (%)")
    ax.set_title("Random chains vs best found by search")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
