"""Ranked pre-screening as a DEAP selection: of many candidates, the ``k`` a ranker expects to be best.

>>> toolbox.register("prescreen", sel_ranked, ranker=ranker, space=space, history=history)
>>> children = toolbox.prescreen(many_children, k=len(population))   # only these are evaluated

Candidates already evaluated (their key is in ``history``) or repeated are dropped first; the budget then counts
only what is evaluated. ``ranker`` is any object with ``scores(codes, scores, pool) -> array`` (the built-in
:class:`~gptnas.lm.ranker.BuiltinRanker`) or only ``choose(...)`` (an LLM), which is then asked ``k`` times.
"""
from __future__ import annotations

from typing import Sequence


def unseen(individuals: Sequence, space, history) -> list:
    """Distinct individuals (by key) not yet in ``history``, in order."""
    seen = history.proposed()
    out, keys = [], set()
    for ind in individuals:
        k = space.key(ind)
        if k not in seen and k not in keys:
            keys.add(k)
            out.append(ind)
    return out


def sel_ranked(individuals: Sequence, k: int, ranker, space, history) -> list:
    """The ``k`` unseen individuals ``ranker`` scores highest (ties: the earlier), given ``history``'s codes and
    fitness; fewer when fewer are unseen. Each gets ``origin`` + ``"+ranked"``."""
    cands = unseen(individuals, space, history)
    if len(cands) <= k:
        chosen = cands
    else:
        codes = [space.ncode(e.genome) for e in history if not e.failed]
        fits = [e.fitness for e in history if not e.failed]
        pool = [space.ncode(list(c)) for c in cands]
        if hasattr(ranker, "scores"):
            s = ranker.scores(codes, fits, pool)
            order = sorted(range(len(cands)), key=lambda i: -s[i])[:k]
        else:  # a ranker that only chooses: one at a time
            order, left = [], list(range(len(cands)))
            for _ in range(k):
                j = ranker.choose(codes, fits, [pool[i] for i in left])
                order.append(left.pop(j))
        chosen = [cands[i] for i in sorted(order)]
    for ind in chosen:
        ind.origin = (ind.origin or "random") + "+ranked"
    return chosen
