"""Each method on a user's space with rules of its own (issue 19 §2), beside REA.

Two spaces of 8 positions × {conv3, conv5, pool} whose ``is_valid`` has rules (``tests/helpers/constrained.py``):
``rules8`` (no leading pool, no two pools in a row: 37 % of the genomes are members) and ``rare8`` (exactly two
pools, none at the ends, at least four conv5: 5 %, its ``sample`` rejection-sampling), and ``plain8``, the same
positions without rules, as the control (what a method does without them). Two fitnesses on each: the
README's chain8 score and a rugged NK landscape (K = 2). LAPT's principles and LM-Searcher's ranker come from a
random search of 300 on another task of the same space, never the target: a related one (the same preferences
with other weights; an NK table 70 % shared) or an unrelated one (opposite preferences; an independent table). Reports the
best fitness found (mean ± SE over seeds) at 25, 50 and 100 evaluations — the first 25 and 50 of each 100-evaluation
search — with the optimum (by enumerating the members), the share of seeds that found it, and any non-member or
failed evaluation (there must be none).

    python experiments/constrained_space.py --seeds 20 --workers 2 [--cache experiments/results/tmp/constrained.jsonl]
    python experiments/constrained_space.py --seeds 20 --workers 2 --methods "lmsearcher (synthetic ranker)" \
        --out experiments/results/constrained_synthetic.md    # issue 33: the synthetic ranker against REA
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]
from sweep import run_cached  # noqa: E402

METHODS = {
    "random": {"method": "random"},
    "rea": {"method": "rea"},
    "ga": {"method": "ga"},
    "gptnas": {"method": "gptnas"},
    "gptnas (paper)": {"method": "gptnas", "gpt": {"preset": "paper"}},
    "lapt (related task)": {"method": "lapt", "principles": "related"},
    "lmsearcher (related task)": {"method": "lmsearcher", "rank": "related"},
    "lapt (unrelated task)": {"method": "lapt", "principles": "unrelated"},
    "lmsearcher (unrelated task)": {"method": "lmsearcher", "rank": "unrelated"},
    "lmsearcher (random ranker)": {"method": "lmsearcher", "rank_settings": {"ranker": "random"}},
    # issue 33: no source run at all, the built-in ranker trained on synthetic problems on the space's decisions
    "lmsearcher (synthetic ranker)": {"method": "lmsearcher", "rank_settings": {"prior": "synthetic"}},
}
#: target fitness, a related source task (the same preferences, other weights / a 70 % shared NK table), an
#: unrelated one (opposite preferences / an independent NK table)
TASKS = {"chain8": ("evaluate", "evaluate_related", "evaluate_b"), "nk": ("nk", "nk_related", "nk_b")}
BUDGETS = (25, 50, 100)
SPACES = ("rules8", "rare8", "plain8")


def _source(space_name: str, task: str, kind: str, root: str) -> str:
    """A random search of 300 on another task (``related`` or ``unrelated``; run once, in its own directory):
    what transfer reads."""
    import gptnas
    from tests.helpers import constrained as c
    out = Path(root) / f"source-{space_name}-{task}-{kind}"
    if not (out / "summary.json").is_file():
        fitness = TASKS[task][1 if kind == "related" else 2]
        gptnas.search(getattr(c, space_name[:-1]), getattr(c, fitness), method="random",
                      budget=300, seed=1000, out=out, overwrite=True, progress=False)
    return str(out)


def run(job):
    space_name, task, method, seed, root = job
    import gptnas
    from tests.helpers import constrained as c
    space = getattr(c, space_name[:-1])
    kw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in METHODS[method].items()}
    for section in ("principles", "rank"):
        if section in kw:
            kw[section] = {"source": _source(space_name, task, kw[section], root)}
    if "rank_settings" in kw:  # the loop without a learned ranker: its pool, a uniform choice
        kw["rank"] = kw.pop("rank_settings")
    kw.setdefault("gpt", {})["cache_dir"] = str(Path(root) / "gpt-cache")
    r = gptnas.search(space, getattr(c, TASKS[task][0]), budget=100, seed=seed, progress=False, **kw)
    fits = [row["fitness"] if not row["failed"] else -math.inf for row in r.archive]
    members = all(space.is_valid(space.parse(row["arch"])) for row in r.archive)
    return job, {"best": [max(fits[:b]) for b in BUDGETS], "status": r.status, "failed": sum(bool(x["failed"])
                 for x in r.archive), "members": members, "n": len(fits)}


def optimum(space_name: str, task: str) -> float:
    from tests.helpers import constrained as c
    space, f = getattr(c, space_name[:-1]), getattr(c, TASKS[task][0])
    return max(f(list(g)) for g in itertools.product(range(3), repeat=8) if space.is_valid(list(g)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--root", default=None, help="where the source runs and GPT cache live (default: a temp dir)")
    ap.add_argument("--out", default=str(REPO / "experiments/results/constrained_space.md"))
    ap.add_argument("--methods", default=",".join(METHODS), help="a subset, comma-separated (rea is always run)")
    args = ap.parse_args()
    methods = ["rea"] + [m for m in args.methods.split(",") if m != "rea"]
    for m in methods:
        if m not in METHODS:
            ap.error(f"unknown method {m!r}: choose from {', '.join(METHODS)}")
    root = args.root or tempfile.mkdtemp(prefix="gptnas-constrained-")
    for sp in SPACES:  # sources first, once, not in every worker at the same time
        for task in TASKS:
            for kind in ("related", "unrelated"):
                _source(sp, task, kind, root)
    jobs = [(sp, task, m, s, root) for sp in SPACES for task in TASKS for m in methods
            for s in range(args.seeds)]
    done, ran, secs = run_cached(jobs, run, args.workers, args.cache, key=lambda j: repr(j[:4]))
    lines = ["# Methods on a user's space with rules of its own", "",
             f"`python experiments/constrained_space.py --seeds {args.seeds} --workers {args.workers}"
             + (f" --methods \"{args.methods}\"" if methods != ["rea"] + [m for m in METHODS if m != "rea"] else "")
             + "` "
             f"({ran} searches run in {secs:.0f} s). Best fitness found, mean ± SE over {args.seeds} seeds, at 25 / "
             "50 / 100 evaluations (the prefixes of one 100-evaluation search; GPT-NAS's paper preset decays its rate "
             "over the 100); Δ is against REA at 100; 'optimum' is the share of seeds that found the best member. "
             "Every evaluation of every search was a member and none failed, unless the last column says so.", ""]
    problems = 0
    for sp in SPACES:
        for task in TASKS:
            opt = optimum(sp, task)
            lines += [f"## {sp}, {task} (best member: {opt:.4g})", "",
                      "| method | @25 | @50 | @100 | Δ vs REA @100 | optimum | status / non-members / failed |",
                      "|---|---:|---:|---:|---:|---:|---|"]
            rea = np.array([done[repr((sp, task, "rea", s))]["best"][2] for s in range(args.seeds)])
            for m in methods:
                rs = [done[repr((sp, task, m, s))] for s in range(args.seeds)]
                b = np.array([r["best"] for r in rs])
                se = b.std(0, ddof=1) / math.sqrt(len(b))
                d = b[:, 2] - rea
                dse = d.std(ddof=1) / math.sqrt(len(d))
                hit = np.mean(np.isclose(b[:, 2], opt))
                statuses = sorted({r["status"] for r in rs})
                nonmem = sum(not r["members"] for r in rs)
                failed = sum(r["failed"] for r in rs)
                problems += nonmem + failed  # a stall (the method found nothing new) is reported, not a fault
                cells = " | ".join(f"{b[:, k].mean():.4g} ± {se[k]:.2g}" for k in range(3))
                delta = "—" if m == "rea" else f"{d.mean():+.3g} ± {dse:.2g}"
                lines.append(f"| {m} | {cells} | {delta} | {hit:.0%} | {', '.join(statuses)} / {nonmem} / {failed} |")
            lines.append("")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
