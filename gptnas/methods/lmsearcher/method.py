"""Method ``lmsearcher``: NAS as ranking (Hu et al., "LM-Searcher", EMNLP 2025).

Every architecture is its NCode; ``lmsearcher.initial`` (5) random architectures first, then one choice per trial:
a pool of ``lmsearcher.pool`` (10) unseen candidates, of which the ranker names the one it expects to be best, given
the history. Pools (``lmsearcher.pool_source``): ``random`` — the paper's, unseen random architectures; ``mixed``
(default) — half of them neighbours (one or two decisions changed) of the history's five best, half random; ``gpt`` — the
GPT's reconstructions of the five best (GPT-NAS's proposals), topped up at random. With ``--principles-from`` the
candidates come from the refined space. Why ``mixed`` by default: with random pools even an oracle that always
picks the pool's true best stays below regularised evolution on NAS-Bench-201 at 100 queries (BENCHMARKS.md).

The released search loop cannot run — from trial 6 it passes the history where the space is expected
(``TypeError``), its de-duplication compares codes with trial names and never removes a repeat, and its
normalisation divides by zero when every score is equal; here pools hold unseen codes only, the history is
de-duplicated by key, and equal scores normalise to 1.0 (``tests/test_lmsearcher.py`` pins all three).
"""
from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field

from ...core.types import make_individual
from ...errors import ConfigError
from ..base import PRESET, Method, SearchContext, check_choice, register_common
from .options import PRESETS, RankSettings
from .prescreen import Prescreened
from .rankers import RankerLearner
from .trajectories import neighbours

log = logging.getLogger(__name__)


def codes_and_scores(space, history) -> tuple[list[str], list[float]]:
    """NCode and fitness of every successful evaluation (the ranker's view of the history)."""
    ok = [e for e in history if not e.failed]
    return [space.ncode(e.genome) for e in ok], [e.fitness for e in ok]


def candidate_pool(space, history, size: int, rng: random.Random, source: str, local_share: float,
                   propose=None) -> list[list[int]]:
    """``size`` distinct unseen valid genomes of ``space`` (see the module docstring for the sources)."""
    seen = history.proposed()
    out, keys = [], set()

    def add(g) -> None:
        if not space.is_valid(g):  # a neighbour may break a rule of the user's space
            return
        k = space.key(g)
        if k not in seen and k not in keys:
            keys.add(k)
            out.append(list(g))

    if source in ("mixed", "gpt") and len(history):
        best = [e.genome for e in history.top(5) if not e.failed]
        want = int(round(local_share * size)) if source == "mixed" else size
        if source == "gpt" and propose is not None:
            for g in propose(best * max(1, -(-2 * want // max(1, len(best)))), rng):
                if len(out) >= want:
                    break
                add(g)
        else:
            local = []
            for b in best:
                one = [space.from_ncode(c) for c in neighbours(space.ncode(b), space.ncode_widths, space.sizes)]
                local += one
                local += [space.from_ncode(c) for g in rng.sample(one, min(3, len(one)))
                          for c in neighbours(space.ncode(g), space.ncode_widths, space.sizes)]
            rng.shuffle(local)
            for g in local:
                if len(out) >= want:
                    break
                add(g)
    for _ in range(200 * size):
        if len(out) >= size:
            break
        add(space.sample(rng))
    return out


@dataclass
class LMSearcher(Method):
    """The LM-Searcher loop. Args: rank (:class:`RankSettings` or a dict of its fields)."""

    name = "lmsearcher"
    steady_state = True  # asked for a child whenever a worker is free
    nested = ("rank",)
    flags = (PRESET, *(f for f in Prescreened.flags if f.option != "prescreen"))
    paths = Prescreened.paths
    preset: str = "default"           # default (ours) | paper (LM-Searcher as published: docs/lmsearcher_paper.md)
    rank: RankSettings = field(default_factory=RankSettings)

    def __post_init__(self) -> None:
        if isinstance(self.rank, dict):
            self.rank = RankSettings.from_dict(self.rank)
        super().__post_init__()

    def default_budget(self):
        from .options import PAPER_BUDGET
        return PAPER_BUDGET if self.preset == "paper" else None

    def validate(self) -> None:
        check_choice(self.name, "preset", self.preset, PRESETS)
        if not isinstance(self.rank, RankSettings):
            raise ConfigError("lmsearcher option rank must be RankSettings or a mapping")
        self.rank.validate()

    def check_target(self, dataset) -> None:
        from ..sources import check_source
        for src in self.rank.sources:
            check_source(src, dataset, "--rank-from")

    def bind(self, ctx: SearchContext) -> None:
        from .rankers import make_ranker
        super().bind(ctx)
        if not hasattr(ctx.space, "ncode"):
            raise ConfigError(f"method lmsearcher reads architectures as NCode and {ctx.space.name} has none (a "
                              "CategoricalSequenceSpace has: NB201, TransNAS-Bench-101, your own)")
        self.settings = self.rank.resolved(self.preset)
        llm = ctx.llm
        if self.preset == "paper" and llm is not None and llm.max_tokens is None:
            from .options import PAPER_MAX_TOKENS
            llm = dataclasses.replace(llm, max_tokens=PAPER_MAX_TOKENS)
        log.info("lmsearcher: preset %s (%s pools of %d%s)", self.preset, self.settings.pool_source,
                 self.settings.pool, ", a new pool when the LLM names none" if self.settings.ranker == "llm" and
                 self.settings.on_miss == "redraw" else "")
        self.ranker = make_ranker(self.settings, dataclasses.replace(ctx, llm=llm), ctx.progress)
        self.learner = RankerLearner(self.ranker)
        self.propose = None
        from .rankers import ranker_guard
        self.guard = ranker_guard(self.ranker, ctx)

    def learners(self):
        return [self.learner] + ([self.guard] if self.guard is not None else [])

    def details(self) -> dict:
        from .rankers import learned_from
        return {"preset": self.preset, "pool": self.settings.pool_source, **learned_from(self.ranker)}

    def register(self, toolbox) -> None:
        register_common(toolbox, self.space, self.rngs)
        if self.settings.pool_source == "gpt":
            from ...lm.cache import token_proposer
            gpt = token_proposer(self.space, self.settings.pretrain, self.ctx.cache_dir, self.ctx.progress,
                                 "lmsearcher.pretrain")

            def propose(genomes, rng):
                positions = [[i for i in range(len(g)) if rng.random() < 0.4] or [rng.randrange(len(g))]
                             for g in genomes]
                return gpt.reconstruct_many(genomes, positions, rng, exclude_original=True)
            self.propose = propose

    def initial(self, toolbox, history):
        pop, keys = [], set()
        for _ in range(100 * self.settings.initial):
            if len(pop) >= self.settings.initial:
                break
            ind = toolbox.individual()
            k = self.space.key(ind)
            if k not in keys:
                keys.add(k)
                pop.append(ind)
        return pop

    def offspring(self, toolbox, population, history):
        s = self.settings

        def draw():
            return candidate_pool(self.space, history, s.pool, self.rngs.py, s.pool_source, s.local_share,
                                  self.propose)
        pool = draw()
        if not pool:
            return []
        codes, scores = codes_and_scores(self.space, history)
        if len(pool) == 1:
            i = 0
        elif s.on_miss == "redraw" and hasattr(self.ranker, "choose_redrawing"):
            pool, i = self.ranker.choose_redrawing(codes, scores, pool, draw, self.space.ncode)
        else:
            i = self.ranker.choose(codes, scores, [self.space.ncode(g) for g in pool])
        origin = "ranker-fallback" if getattr(self.ranker, "last_fallback", False) else f"ranker:{self.ranker.name}"
        return [make_individual(pool[i], origin)]

    def survivors(self, toolbox, population, evaluated, history):
        return evaluated
