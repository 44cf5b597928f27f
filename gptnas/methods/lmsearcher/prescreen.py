"""Ranked pre-screening: :class:`Prescreened` wraps any method (``Prescreened(REA(), prescreen=4)``, ``--method rea
--prescreen 4``), and :func:`sel_ranked` is the DEAP selection it uses — of many candidates, the ``k`` a ranker
expects to be best.

>>> toolbox.register("prescreen", sel_ranked, ranker=ranker, space=space, history=history)
>>> children = toolbox.prescreen(many_children, k=len(population))   # only these are evaluated

Candidates already evaluated (their key is in ``history``) or repeated are dropped first; the budget then counts
only what is evaluated. ``ranker`` is any object with ``scores(codes, scores, pool) -> array`` (the built-in
:class:`~gptnas.lm.ranker.BuiltinRanker`) or only ``choose(...)`` (an LLM), which is then asked ``k`` times.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

from ...errors import ConfigError
from ..base import Flag, Method, SearchContext, Wrapper
from .options import RankSettings


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


@dataclass
class Prescreened(Wrapper):
    """``inner`` with ranked pre-screening: each time it is asked it breeds ``prescreen`` × the children, and only
    the ones the ranker expects to be best are evaluated (the budget counts only those).
    ``Prescreened(REA(), prescreen=4)``; other keyword options are :class:`RankSettings`'s (``ranker``,
    ``source``, ...)."""

    name = "prescreened"
    nested = ("rank",)
    flags = (Flag("--prescreen", "prescreen", "breed K × the children and evaluate the ranker's best (any method "
                  "but lmsearcher)", type=int, metavar="K"),
             Flag("--ranker", "ranker", "lmsearcher / --prescreen: builtin (default) | llm | random"),
             Flag("--rank-from", "source", "tables' datasets/tasks (nb201:cifar10, tnb101:jigsaw) or run dirs the "
                  "built-in ranker trains on (default: every table but the target's own task, else synthetic problems); "
                  "synthetic: synthetic problems on the space's own decisions; synthetic,SOURCE: both",
                  metavar="SOURCE[,SOURCE]"))
    paths = {"source": "folder"}
    switch = "--prescreen K"
    inner: Method = None
    rank: RankSettings = field(default_factory=RankSettings)

    def __init__(self, inner: Method = None, prescreen: int | None = None, rank=None, **options):
        self.inner = inner
        merged = {**(dataclasses.asdict(RankSettings.from_dict(rank)) if rank is not None else {}), **options}
        if prescreen is not None:
            merged["prescreen"] = prescreen
        elif rank is None and "prescreen" not in options:
            merged["prescreen"] = 4  # the object's default; a config section says its own
        self.rank = RankSettings.from_dict(merged)
        self.__post_init__()

    @classmethod
    def active(cls, section: dict) -> bool:
        return (section.get("prescreen") or 1) > 1

    def validate(self) -> None:
        if not isinstance(self.inner, Method):
            raise ConfigError("Prescreened wraps a method: Prescreened(REA(), prescreen=4)")
        self.rank.validate()
        if self.rank.prescreen < 2:
            raise ConfigError(f"prescreened option prescreen must be at least 2 (children bred per one evaluated), "
                              f"got {self.rank.prescreen}")

    def check_target(self, dataset) -> None:
        from ..sources import check_source
        for src in self.rank.sources:
            check_source(src, dataset, "--rank-from")
        self.inner.check_target(dataset)

    def bind(self, ctx: SearchContext) -> None:
        from .rankers import RankerLearner, make_ranker, ranker_guard
        super().bind(ctx)
        if not hasattr(ctx.space, "ncode"):
            raise ConfigError(f"ranked pre-screening reads architectures as NCode and {ctx.space.name} has none")
        self.ranker = make_ranker(self.rank, ctx, ctx.progress)
        self.learner = RankerLearner(self.ranker)
        self.guard = ranker_guard(self.ranker, ctx)

    def register(self, toolbox) -> None:
        self.inner.register(toolbox)
        toolbox.register("prescreen", sel_ranked, ranker=self.ranker, space=self.space)

    def own_learners(self):
        return [self.learner] + ([self.guard] if self.guard is not None else [])

    def details(self) -> dict:
        from .rankers import learned_from
        return {**self.inner.details(), "prescreen": {"k": self.rank.prescreen, **learned_from(self.ranker)}}

    def offspring(self, toolbox, population, history):
        first = self.inner.offspring(toolbox, population, history)
        cands = list(first)
        for _ in range(self.rank.prescreen - 1):
            cands += self.inner.offspring(toolbox, population, history)
        return toolbox.prescreen(cands, k=len(first), history=history)
