"""The ``stats`` extractor (default), the ``frequency`` baseline, and the statistical adaptation both share.

``stats``: from the source's scored architectures, per position and option,

- the smoothed **enrichment** among the good ones: ``log((n_good + 1/2) / (k + n/2)) - log((n_all + 1/2) / (N + n/2))``
  with ``k`` good (the top ``top`` share, at least ``min_top``) of ``N`` scored and ``n`` options — how much more
  often the option appears among the good than among all (it corrects for spaces whose options are not equally
  common: a valid-cell constraint, a user's archive);
- the additive **effect**: the ridge coefficient (λ = 1) of the option in a model of the source's standardised
  fitness over one-hot options, centred per position — what the option does on average, in standard deviations,
  all other positions accounted for, over *every* scored architecture, not only the top;

and the **score** ``enrichment + effect_weight × effect`` (``effect_weight`` 0.5 by default: chosen, with the
initial population's temperature 0.5, on the NAS-Bench-201 and TransNAS-Bench-101 pairs of BENCHMARKS.md). Each
position allows its ``max_options`` best-scored options. Plain frequency among the top 50 (``frequency``, the baseline, LAPT's released simulation) looks only at
how often an option appears among the 50 best; on NAS-Bench-201 it keeps none and skip on edges where the target's
best needs a 1×1 convolution (cifar10 → imagenet16-120), which the enrichment among the top 1 % and the effect over
all cells keep.
"""
from __future__ import annotations

import math

import numpy as np

from .decisions import counts, is_chain, option_index, positions_of
from .principles import Evidence, Position, Principles


def enrichment(top: np.ndarray, all_: np.ndarray, sizes) -> np.ndarray:
    """Smoothed log ratio of an option's share among the good to its share among all, per position; shares are
    of each position's total uses (the number of architectures for a fixed-length space, of blocks for chains)."""
    s = np.array(sizes, dtype=float)[:, None]
    t_top, t_all = top.sum(1, keepdims=True), all_.sum(1, keepdims=True)
    return np.log((top + 0.5) / (t_top + 0.5 * s)) - np.log((all_ + 0.5) / (t_all + 0.5 * s))


def additive_effects(uses: np.ndarray, fitness: np.ndarray, sizes, lam: float = 1.0) -> np.ndarray:
    """Ridge coefficients of standardised fitness on each position's option shares (one-hot for fixed-length
    spaces), centred per position; (positions, max options). ``uses``: (N, positions, max options) counts."""
    y = (fitness - fitness.mean()) / (fitness.std() + 1e-12)
    share = uses / np.maximum(uses.sum(2, keepdims=True), 1)
    X = np.concatenate([share[:, i, :n] for i, n in enumerate(sizes)], axis=1)
    w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ (y - y.mean()))
    out = np.zeros((len(sizes), max(sizes)))
    o = 0
    for i, n in enumerate(sizes):
        out[i, :n] = w[o:o + n] - w[o:o + n].mean()
        o += n
    return out


def good_count(n: int, top: float, min_top: int) -> int:
    k = int(round(top * n)) if top < 1 else int(top)
    return max(1, min(n, max(k, min_top)))


def _fmt_share(x: float) -> str:
    return f"{100 * x:.0f} %"


class StatsExtractor:
    """Principles from the statistics of the source's scored architectures (see the module docstring)."""

    name = "stats"

    def __init__(self, max_options: int, top: float = 0.01, min_top: int = 10, effect_weight: float = 0.5):
        self.max_options, self.top, self.min_top, self.effect_weight = max_options, top, min_top, effect_weight

    def evidence(self, scored, space):
        """(uses among the good, uses among all, enrichment, effects, k, N) of one source."""
        sizes = [len(o) for o in positions_of(space)[1]]
        uses = counts(space, [s[0] for s in scored])
        f = np.array([s[1] for s in scored], dtype=float)
        order = np.argsort(-f, kind="stable")
        k = good_count(len(f), self.top, self.min_top)
        top, all_ = uses[order[:k]].sum(0), uses.sum(0)
        eff = additive_effects(uses, f, sizes) if self.effect_weight else np.zeros_like(top)
        return top, all_, enrichment(top, all_, sizes), eff, k, len(f)

    def score(self, enr: np.ndarray, eff: np.ndarray) -> np.ndarray:
        return enr + self.effect_weight * eff

    def extract(self, sources: list[tuple[str, list]], space) -> Principles:
        """``sources``: ``[(name, [(genome, fitness), ...]), ...]``; several are averaged (each counts once)."""
        parts = [(name, self.evidence(scored, space)) for name, scored in sources]
        top = sum(p[1][0] for p in parts)
        all_ = sum(p[1][1] for p in parts)
        enr = np.mean([p[1][2] for p in parts], axis=0)
        eff = np.mean([p[1][3] for p in parts], axis=0)
        k, n = sum(p[1][4] for p in parts), sum(p[1][5] for p in parts)
        score = self.score(enr, eff)
        names = ", ".join(name for name, _ in sources)
        return build(space, score, top, all_, enr, eff, self.max_options, self.name, [s[0] for s in sources],
                     statements=statements(space, score, top, all_, enr, eff, k, n, self.max_options, names),
                     settings={"top": self.top, "min_top": self.min_top, "effect_weight": self.effect_weight,
                               "max_options": self.max_options, "good": k, "scored": n})


class FrequencyExtractor(StatsExtractor):
    """The baseline: the ``max_options`` most frequent options among the source's top 50 (LAPT's simulation)."""

    name = "frequency"

    def __init__(self, max_options: int, top: float = 50, **_):
        super().__init__(max_options, top=top, min_top=1, effect_weight=0.0)

    def score(self, enr, eff):
        return self._top_share

    def extract(self, sources, space):
        tops = [self.evidence(scored, space) for _, scored in sources]
        top = sum(t[0] for t in tops)
        self._top_share = top / np.maximum(top.sum(1, keepdims=True), 1)
        return super().extract(sources, space)


def build(space, score, top, all_, enr, eff, m: int, extractor: str, sources: list[str], statements=(),
          settings=None) -> Principles:
    """Principles keeping per position the ``m`` best-scored options (ties: the space's option order)."""
    names, options = positions_of(space)
    positions = []
    for i, name in enumerate(names):
        n = len(options[i])
        order = sorted(range(n), key=lambda o: (-score[i, o], o))
        keep = order[:max(1, m)]
        if is_chain(space):  # one position over 15 block types: keep those with evidence for them (at least two)
            keep = [o for o in keep if score[i, o] > 0] or keep[:2]
            keep = keep if len(keep) >= 2 else order[:2]
        keep = sorted(keep)
        ev = [Evidence(options[i][o], int(top[i, o]), int(all_[i, o]), float(enr[i, o]), float(eff[i, o]),
                       float(score[i, o]), ", ".join(sources)) for o in order]
        positions.append(Position(name, [options[i][o] for o in keep], ev))
    return Principles(space.name, positions, list(statements), extractor, list(sources), [], dict(settings or {}))


def statements(space, score, top, all_, enr, eff, k: int, n: int, m: int, source: str) -> list[str]:
    """The principles in words, generated from the numbers (so every statement can be checked against them)."""
    names, options = positions_of(space)
    chains = is_chain(space)
    out = []
    sizes = [len(o) for o in options]
    for i, name in enumerate(names):
        order = sorted(range(sizes[i]), key=lambda o: (-score[i, o], o))
        keep, rest = order[:m], order[m:]
        t_top, t_all = top[i].sum(), all_[i].sum()
        helps = []
        for o in keep:
            share_t, share_a = top[i, o] / max(t_top, 1), all_[i, o] / max(t_all, 1)
            where = f"{int(top[i, o])} of the {int(t_top)} blocks of the {k} best chains" if chains else \
                f"{int(top[i, o])} of the {k} best"
            why = f"effect {eff[i, o]:+.2f} SD" if share_t > share_a else \
                f"not more frequent among the best, kept for its effect {eff[i, o]:+.2f} SD"
            helps.append(f"{options[i][o]} ({where}, {_fmt_share(share_t)} vs {_fmt_share(share_a)} of all; {why})")
        hurts = [options[i][o] for o in rest if enr[i, o] < -0.5 and eff[i, o] < 0]
        text = f"On {name}, keep {' and '.join(helps)}" if not chains else \
            f"In the chains, keep {', '.join(helps)}"
        if hurts:
            text += f"; {', '.join(hurts)} hurt{'s' if len(hurts) == 1 else ''} there (rarer among the best, " \
                    "negative effect)"
        out.append(text + ".")
    # Options that are good or bad everywhere
    for j in range(max(sizes)):
        cols = [i for i in range(len(sizes)) if j < sizes[i]]
        opts = {options[i][j] for i in cols}
        if len(cols) == len(sizes) > 1 and len(opts) == 1:
            (opt,) = opts
            if all(eff[i, j] < -0.3 for i in cols):
                out.append(f"{opt} lowers fitness on every position (effect {min(eff[i, j] for i in cols):+.2f} to "
                           f"{max(eff[i, j] for i in cols):+.2f} SD) in {source}.")
            elif all(eff[i, j] > 0.1 for i in cols):
                out.append(f"{opt} raises fitness on every position (effect {min(eff[i, j] for i in cols):+.2f} to "
                           f"{max(eff[i, j] for i in cols):+.2f} SD) in {source}.")
    return out


def adapt_statistically(principles: Principles, space, source_score: np.ndarray, history, improved: bool,
                        top_k: int, target_weight: float, best_before: float) -> dict:
    """LAPT's principle adaptation from the target's own results (the paper's Algorithm 2, with statistics).

    - The best improved since the last adaptation: the principles are updated from the target's ``top_k`` best —
      the target's enrichment (its best vs all it evaluated) is added to the source's score with weight
      ``n / (n + target_weight)`` (``n`` target evaluations), and options the target's best use are kept allowed.
    - It did not improve: for every position, the best-scored option not yet allowed is added (widening; positions
      already allowing everything stay as they are, so adaptation terminates and never empties a position).

    Updates ``principles`` in place; returns the adaptation record (also appended to ``principles.adaptations``).
    """
    names, options = positions_of(space)
    sizes = [len(o) for o in options]
    scored = [e for e in history.successful() if math.isfinite(e.fitness)]
    best = max((e.fitness for e in scored), default=-math.inf)
    changes: dict[str, list[str]] = {}
    if improved and scored:
        uses = counts(space, [e.genome for e in scored])
        order = np.argsort(-np.array([e.fitness for e in scored]), kind="stable")
        k = min(top_k, len(scored))
        t_top, t_all = uses[order[:k]].sum(0), uses.sum(0)
        t_enr = enrichment(t_top, t_all, sizes) * (t_all > 0)
        w = len(scored) / (len(scored) + target_weight)
        score = source_score + w * t_enr
        for i, pos in enumerate(principles.positions):
            for e in pos.evidence:
                e.score = float(score[i, option_index(space, i, e.option)])
            pos.evidence.sort(key=lambda e: -e.score)
            used = {options[i][o] for o in range(sizes[i]) if t_top[i, o] > 0}
            added = sorted(used - set(pos.allowed), key=lambda o: options[i].index(o))
            if added:
                pos.allowed = [o for o in options[i] if o in set(pos.allowed) | used]
                changes[pos.name] = added
        kind, reason = "update", (f"the best rose from {best_before:.4g} to {best:.4g}: principles updated from the "
                                  f"target's {k} best of {len(scored)} (target evidence weight {w:.2f})")
    else:
        for i, pos in enumerate(principles.positions):
            out = [e for e in pos.evidence if e.option not in pos.allowed]
            if out:
                pick = max(out, key=lambda e: e.score).option
                pos.allowed = [o for o in options[i] if o in set(pos.allowed) | {pick}]
                changes[pos.name] = [pick]
        kind = "widen"
        reason = (f"no improvement since the last adaptation (best {best:.4g}): other operations added"
                  if changes else "no improvement, and every option is already allowed")
    record = {"evaluation": len(history), "kind": kind, "reason": reason, "changes": changes,
              "refined_size": principles.size()}
    principles.adaptations.append(record)
    return record


def adapt_by_frequency(principles: Principles, space, history, improved: bool, top_k: int, m: int,
                       best_before: float) -> dict:
    """The paper's adaptation (``adaptation: replace``) without an LLM: each answer *replaces* the lists.

    - Improved: every position allows the ``m`` options most frequent among the target's ``top_k`` best (ties: the
      source's score) — what the LLM is asked to read off the target's best.
    - Not improved: every position allows the ``m`` best-scored options it does not allow now — the "other
      operations" the paper asks for; a position that allows every option keeps them.

    Updates ``principles`` in place; returns the adaptation record (also appended to ``principles.adaptations``).
    """
    names, options = positions_of(space)
    scored = [e for e in history.successful() if math.isfinite(e.fitness)]
    best = max((e.fitness for e in scored), default=-math.inf)
    changes: dict[str, list[str]] = {}
    top = sorted(scored, key=lambda e: -e.fitness)[:top_k]
    uses = counts(space, [e.genome for e in top]).sum(0) if top else None  # (positions, max options)
    for i, pos in enumerate(principles.positions):
        by_score = [e.option for e in sorted(pos.evidence, key=lambda e: -e.score)] or list(options[i])
        by_score += [o for o in options[i] if o not in by_score]
        if improved and top:
            freq = {o: uses[i, j] for j, o in enumerate(options[i])}
            new = sorted((o for o in options[i] if freq[o] > 0), key=lambda o: (-freq[o], by_score.index(o)))[:m]
        else:
            new = [o for o in by_score if o not in pos.allowed][:m] or list(pos.allowed)
        new = [o for o in options[i] if o in new]
        if new != pos.allowed:
            changes[pos.name] = new
            pos.allowed = new
    if improved and top:
        kind, reason = "update", (f"the best rose from {best_before:.4g} to {best:.4g}: the lists replaced by the "
                                  f"options most frequent among the target's {len(top)} best")
    else:
        kind, reason = "widen", (f"no improvement over {best_before:.4g} (best {best:.4g}): the lists replaced by "
                                 "other operations")
    record = {"evaluation": len(history), "kind": kind, "reason": reason, "changes": changes,
              "refined_size": principles.size()}
    principles.adaptations.append(record)
    return record
