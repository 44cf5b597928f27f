"""Training trajectories for rankers, by LM-Searcher's pruning-based subspace sampling.

From a scored source — a benchmark table's dataset or task, a user's imported table, the archive of a run (read
through its fitness, never its test accuracy; never the target's own task) — repeatedly:

1. **prune**: each decision keeps each of its options with probability 0.5 (at least one survives), giving a
   sub-space;
2. **sample** 100–200 of the source's architectures inside it (all of them when fewer);
3. **build samples**: shuffle them as a search would meet them; at several points ``t`` the first ``t`` are the
   history, and the pool holds 10 of the rest — half, by default, neighbours (one or two decisions changed) of the
   history's best five, the others random, as :class:`~gptnas.methods.lmsearcher.LMSearcher` builds its pools —
   with the pool's best as the target.

``uniform=True`` skips the pruning (the paper's ablation "without pruning-based sampling"); ``shuffle_scores=True``
shuffles the history's scores (the ablation "shuffled scores"). ``relabel=p`` renames the options of every decision
by a random permutation in a share ``p`` of the samples, so that a ranker must read the history to rank them, not
only a prior over digits.

Samples are written as JSON lines in LM-Searcher's own text (``{"prompt": ..., "completion": ...}``, the prompt
being :func:`~gptnas.methods.lmsearcher.prompt.format_prompt`) and as chat messages (``{"messages": [{"role":
"system", ...}, {"role": "assistant", ...}]}``, the released search code sends its prompt as the system message),
so a user can fine-tune their own LLM on them with the usual tools.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...spaces.base import grammar_is_exact
from .prompt import format_prompt


@dataclass
class Sample:
    """One ranking example: the history (codes with raw scores), the pool, and the pool's best."""

    codes: list[str]
    scores: list[float]
    pool: list[str]
    pool_scores: list[float]
    best: int
    source: str = ""


def prune(sizes: Sequence[int], rng: random.Random, keep: float = 0.5) -> list[list[int]]:
    """Per decision the options kept, each with probability ``keep``, at least one."""
    out = []
    for n in sizes:
        kept = [o for o in range(n) if rng.random() < keep]
        out.append(kept or [rng.randrange(n)])
    return out


def neighbours(code: str, widths: Sequence[int], sizes: Sequence[int]) -> list[str]:
    """Codes one decision away from ``code`` (fixed-width NCode groups)."""
    out, k = [], 0
    for w, n in zip(widths, sizes):
        cur = int(code[k:k + w])
        out += [code[:k] + str(o).zfill(w) + code[k + w:] for o in range(n) if o != cur]
        k += w
    return out


def build_pool(history: Sequence[str], hist_scores: Sequence[float], candidates: Sequence[str], size: int,
               rng: random.Random, local_share: float, widths, sizes) -> list[str]:
    """``size`` distinct codes of ``candidates`` (unseen): a ``local_share`` of them neighbours of the history's best
    five (within two decisions), the rest random."""
    cand = set(candidates)
    pool: list[str] = []
    best = [history[i] for i in sorted(range(len(history)), key=lambda i: -hist_scores[i])[:5]]
    local = []
    for b in best:
        one = neighbours(b, widths, sizes)
        local += one
        local += [c2 for c in rng.sample(one, min(3, len(one))) for c2 in neighbours(c, widths, sizes)]
    local = [c for c in dict.fromkeys(local) if c in cand]
    rng.shuffle(local)
    pool += local[:int(round(local_share * size))]
    rest = [c for c in candidates if c not in set(pool)]
    pool += rng.sample(rest, min(size - len(pool), len(rest)))
    rng.shuffle(pool)
    return pool


def relabelled(hist: Sequence[str], pool: Sequence[str], genomes: dict, space, rng: random.Random):
    """The same sample with each decision's options renamed by one random permutation (history and pool alike):
    no prior over digits survives it, so only what the history says about the pool predicts the best."""
    perms = [rng.sample(range(n), n) for n in space.sizes]
    renamed = {c: [p[v] for p, v in zip(perms, genomes[c])] for c in (*hist, *pool)}
    if not grammar_is_exact(space) and not all(space.is_valid(g) for g in renamed.values()):
        return list(hist), list(pool)  # renaming would leave the space's members: this sample keeps its names
    return [space.ncode(renamed[c]) for c in hist], [space.ncode(renamed[c]) for c in pool]


def samples_from(scored: Sequence[tuple[list, float]], space, rng: random.Random, n_subspaces: int = 300,
                 per_subspace: tuple[int, int] = (100, 200), steps: int = 8, pool: int = 10,
                 local_share: float = 0.5, uniform: bool = False, shuffle_scores: bool = False,
                 relabel: float = 0.0, source: str = "") -> list[Sample]:
    """Ranking samples from one source's ``(genome, fitness)`` pairs in ``space`` (see the module docstring)."""
    table = {space.ncode(g): float(f) for g, f in scored if math.isfinite(f)}
    sizes, widths = space.sizes, space.ncode_widths
    genomes = {c: space.from_ncode(c) for c in table}
    out: list[Sample] = []
    for _ in range(n_subspaces):
        allowed = [list(range(n)) for n in sizes] if uniform else prune(sizes, rng)
        members = [c for c, g in genomes.items() if all(v in a for v, a in zip(g, allowed))] if not uniform \
            else list(table)
        if len(members) < pool + 5:
            continue
        chosen = rng.sample(members, min(len(members), rng.randint(*per_subspace)))
        for _ in range(steps):
            rng.shuffle(chosen)
            t = rng.randint(5, max(5, min(len(chosen) - pool, 200)))
            hist, rest = chosen[:t], chosen[t:]
            hs = [table[c] for c in hist]
            cands = build_pool(hist, hs, rest, pool, rng, local_share, widths, sizes)
            if len(cands) < 2:
                continue
            ps = [table[c] for c in cands]
            if shuffle_scores:
                hs = rng.sample(hs, len(hs))
            if relabel and rng.random() < relabel:
                hist, cands = relabelled(hist, cands, genomes, space, rng)
            out.append(Sample(list(hist), hs, cands, ps, max(range(len(cands)), key=lambda i: ps[i]), source))
    return out


def write_jsonl(samples: Sequence[Sample], path, max_history: int = 200) -> tuple[Path, Path]:
    """``path`` (LM-Searcher's text: prompt / completion) and ``path`` with ``.chat.jsonl`` (chat messages)."""
    path = Path(path)
    chat = path.with_suffix(".chat.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as text, open(chat, "w") as msgs:
        for s in samples:
            prompt = format_prompt(s.codes, s.scores, s.pool, max_history)
            text.write(json.dumps({"prompt": prompt, "completion": s.pool[s.best], "source": s.source}) + "\n")
            msgs.write(json.dumps({"messages": [{"role": "system", "content": prompt},
                                                {"role": "assistant", "content": s.pool[s.best]}]}) + "\n")
    return path, chat


__all__ = ["Sample", "build_pool", "neighbours", "prune", "samples_from", "write_jsonl"]
