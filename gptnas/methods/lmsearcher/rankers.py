"""The rankers a search can use, and where the built-in one learns: every scored table the project can read but the
target's own task (or ``--rank-from``), by pruning-based subspace sampling."""
from __future__ import annotations

import dataclasses
import logging
import random

import numpy as np

from ...errors import ConfigError, DataError
from ..base import Learner
from ..sources import check_not_target_content, check_source, is_run_dir, scored_architectures
from .prompt import format_prompt, parse_reply

log = logging.getLogger(__name__)


def _space_for(name: str):
    from ...spaces import get_space
    return get_space(name)


def training_sources(settings, ctx, required: bool = True) -> list[tuple[str, object, list]]:
    """``[(label, space, [(genome, fitness), ...]), ...]`` the built-in ranker trains on; never the target.
    ``required=False``: an empty list, not an error, when no table is found (the ranker then trains on synthetic
    problems)."""
    from ...bench import BENCHMARK_DATASETS, scored_table
    target = (ctx.space_name or getattr(ctx.space, "name", None), ctx.dataset)
    out = []
    if settings.sources:
        for src in settings.sources:
            if is_run_dir(src):
                out.append((src, ctx.space, scored_architectures(src, ctx, "--rank-from")))
                continue
            space_name, _, ds = src.rpartition(":")
            tables = [space_name] if space_name else [target[0]] + [s for s in BENCHMARK_DATASETS if s != target[0]]
            where = next((s for s in tables if s in BENCHMARK_DATASETS and ds in BENCHMARK_DATASETS[s]), None)
            if where is None:
                known = "; ".join(f"{s}: " + ", ".join(d) for s, d in BENCHMARK_DATASETS.items())
                raise ConfigError(f"--rank-from {src}: not a dataset or task of a benchmark table ({known}) nor a "
                                  "run directory")
            if (where, ds) == target:
                check_source(ds, ds, "--rank-from")
            scored = scored_table(where, ctx.data, ds)
            check_not_target_content(f"{where}:{ds}", scored, ctx, "--rank-from", same_space=where == target[0])
            out.append((f"{where}:{ds}", _space_for(where), scored))
        return out
    for space_name, datasets in BENCHMARK_DATASETS.items():
        for ds in datasets:
            if (space_name, ds) == target:
                continue
            try:
                scored = scored_table(space_name, ctx.data, ds)
            except (DataError, ConfigError) as e:
                log.info("the ranker does not train on %s:%s (%s)", space_name, ds, e)
                continue
            # every table but the target's: a copy of the target's under another name is refused, not skipped
            check_not_target_content(f"{space_name}:{ds}", scored, ctx, "the built-in ranker's source",
                                     same_space=space_name == target[0])
            out.append((f"{space_name}:{ds}", _space_for(space_name), scored))
    if not out and required:
        raise ConfigError("the built-in ranker trains on benchmark tables and found none: pass --data (the folder "
                          "holding them) or --rank-from RUN_DIR")
    return out


def builtin_ranker(settings, ctx, progress: bool = True):
    """The built-in ranker for ``ctx``'s search: trained on :func:`training_sources` and/or synthetic problems on the
    target's space (``lmsearcher.prior``, :mod:`~gptnas.methods.lmsearcher.synthetic`), cached by what it saw."""
    from .ranker import EVIDENCE, BuiltinRanker, RankerConfig, RankerTraining, cached_ranker
    from .synthetic import SyntheticPrior, shape, synthetic_samples
    from .trajectories import samples_from
    prior = SyntheticPrior.from_dict(settings.synthetic)
    sources = [] if settings.prior == "synthetic" else \
        training_sources(settings, ctx, required=settings.prior != "auto" or bool(settings.sources))
    synthetic = settings.prior in ("synthetic", "both") or not sources
    if synthetic and settings.prior == "auto":
        log.info("the built-in ranker found no benchmark table: it trains on %d synthetic search problems on the "
                 "space's own decisions (pass --data or --rank-from to train it on tables)", prior.problems)
    cfg = RankerConfig(**settings.model)
    if synthetic and "evidence" not in settings.model:  # no prior over digits to learn: it must read the history
        cfg = dataclasses.replace(cfg, evidence=True)
    train = RankerTraining(epochs=settings.epochs, seed=settings.seed)
    description = {"sources": [s[0] for s in sources], "sizes": [len(s[2]) for s in sources],
                   "data": str(ctx.data), "subspaces": settings.subspaces, "uniform": settings.uniform,
                   "shuffle_scores": settings.shuffle_scores, "local_share": settings.local_share,
                   "pool": settings.pool, "model": cfg.to_dict(), "train": train.to_dict()}
    if settings.relabel:  # absent at 0, so rankers trained before the option keep their cache key
        description["relabel"] = settings.relabel
    if cfg.evidence:  # what the candidates' evidence holds (ranker.EVIDENCE features)
        description["evidence_features"] = EVIDENCE
    if synthetic:  # absent for tables alone, so table-trained rankers keep their cache key
        description["synthetic"], description["shape"] = prior.to_dict(), shape(ctx.space)
        if not sources:  # the tables' folder does not matter then
            description["data"] = None

    def build():
        rng = random.Random(settings.seed)
        samples = []
        for label, space, scored in sources:
            samples += samples_from(scored, space, rng, n_subspaces=settings.subspaces, pool=settings.pool,
                                    local_share=settings.local_share, uniform=settings.uniform,
                                    shuffle_scores=settings.shuffle_scores, relabel=settings.relabel,
                                    source=label)
        if synthetic:
            samples += synthetic_samples(ctx.space, prior, settings.seed, pool=settings.pool,
                                         local_share=settings.local_share, shuffle_scores=settings.shuffle_scores,
                                         uniform=settings.uniform)
        if not samples and not sources:
            raise ConfigError(f"the built-in ranker's synthetic problems found too few members of {ctx.space.name} "
                              f"for a sample (a pool of {settings.pool} and 5 more): lower lmsearcher.pool, or use "
                              "lmsearcher.ranker random")
        if not samples:
            n = sum(len(src[2]) for src in sources)
            raise ConfigError(f"the built-in ranker found no training sample in {', '.join(src[0] for src in sources)} "
                              f"({n} scored architectures; its sub-spaces need {settings.pool + 5} or more each): "
                              "give --rank-from a larger run (a few hundred evaluations) or a benchmark table")
        r = BuiltinRanker(cfg, seed=settings.seed)
        stats = r.fit(samples, train, progress=progress)
        # what it trained on, kept with the ranker (ranker.json's train_log)
        stats["sources"] = [s[0] for s in sources] + ([f"synthetic ({prior.problems} problems)"] if synthetic else [])
        stats["prior"] = "both" if synthetic and sources else "synthetic" if synthetic else "tables"
        return r

    r = cached_ranker(description, build, ctx.cache_dir)
    r.sources_read = [(label, scored) for label, _, scored in sources]  # for ranker_guard, not read twice
    return r


def ranker_guard(ranker, ctx):
    """A :class:`~gptnas.methods.sources.SourceGuard` over the tables ``ranker`` (or an LLM ranker's built-in
    fallback) learned from, where the target has no table to compare them with up front; else None."""
    from ..sources import SourceGuard, target_table
    read = getattr(_builtin(ranker), "sources_read", None)
    if not read or target_table(ctx) is not None:
        return None
    return SourceGuard(read, "the built-in ranker's source")


class RandomRanker:
    """Chooses uniformly from the pool (the ablation "without ranking")."""

    name = "random"

    def __init__(self, rng: random.Random):
        self.rng = rng

    def choose(self, codes, scores, pool) -> int:
        return self.rng.randrange(len(pool))


class RidgeRanker:
    """Chooses the candidate a ridge regression fitted on the history's ranks predicts best (the built-in ranker's
    evidence column, with no network on top): trains on nothing, so it needs neither tables nor synthetic problems.
    Ties (an empty history) go to the pool's first."""

    name = "ridge"

    def scores(self, codes, scores, pool) -> np.ndarray:
        """The prediction per candidate (float64 (len(pool),)); zeros with no history. One fit for the whole pool,
        so ranked pre-screening does not refit it for each of its ``k`` picks."""
        from .ranker import evidence
        return evidence(codes, scores, pool)[:, 2].astype(float) if codes else np.zeros(len(pool))

    def choose(self, codes, scores, pool) -> int:
        return int(np.argmax(self.scores(codes, scores, pool)))


class LLMRanker:
    """LM-Searcher's prompt to any OpenAI-compatible model; a reply outside the pool is asked again ``retries``
    times, then ``fallback`` chooses (and :attr:`fallbacks` counts it)."""

    name = "llm"

    def __init__(self, client, fallback, retries: int = 3, max_history: int = 200):
        self.client, self.fallback, self.retries, self.max_history = client, fallback, retries, max_history
        self.fallbacks = 0
        self.last_fallback = False

    def choose(self, codes, scores, pool) -> int:
        return self._ask(codes, scores, pool, lambda same: same)[1]

    def choose_redrawing(self, codes, scores, pool: list, draw, ncode) -> tuple[list, int]:
        """LM-Searcher's rule: when the reply names no candidate, a new pool is drawn (``draw()``, genomes) and the
        model asked again, ``retries`` times (the released loop redraws without end); then ``fallback`` chooses from
        the last pool. Returns ``(pool, index)``: the genomes of the pool chosen from, and the choice in it."""
        genomes: dict = {}

        def codes_of(gs) -> list[str]:
            out = [ncode(g) for g in gs]
            genomes.update(zip(out, gs))
            return out

        last, i = self._ask(codes, scores, codes_of(pool), lambda old: codes_of(draw() or [genomes[c] for c in old]))
        return [genomes[c] for c in last], i

    def _ask(self, codes, scores, pool: list[str], after_miss) -> tuple[list[str], int]:
        """Ask about ``pool`` (NCode) until a reply names one of it, ``1 + retries`` times, the pool after a miss
        being ``after_miss(pool)`` (the same one, or a new draw); then ``fallback`` chooses. ``(pool, index)``."""
        for attempt in range(1 + self.retries):
            reply = self.client.chat([{"role": "system",
                                       "content": format_prompt(codes, scores, pool, self.max_history)}])
            code = parse_reply(reply, pool)
            if code is not None:
                self.last_fallback = False
                return pool, pool.index(code)
            log.warning("the LLM named no candidate of the pool (attempt %d of %d)", attempt + 1, 1 + self.retries)
            if attempt < self.retries:
                pool = after_miss(pool)
        self.fallbacks += 1
        self.last_fallback = True
        log.warning("the LLM's replies stayed outside the pool: the %s ranker chooses", self.fallback.name)
        return pool, self.fallback.choose(codes, scores, pool)


def _builtin(ranker):
    """The built-in ranker a ranker is or falls back on (an LLM ranker's fallback), or None."""
    return ranker if hasattr(ranker, "train_log") else getattr(ranker, "fallback", None)


def learned_from(ranker) -> dict:
    """What a ranker (or an LLM ranker's built-in fallback) learned from, for the run's summary: ``{"ranker",
    "prior": tables | synthetic | both, "sources": [...]}``."""
    out = {"ranker": getattr(ranker, "name", type(ranker).__name__)}
    inner = _builtin(ranker)
    if inner is not None and getattr(inner, "train_log", None):
        last = inner.train_log[-1]
        out.update(prior=last.get("prior", "tables"), sources=last.get("sources", []))
    return out


def make_ranker(settings, ctx, progress: bool = True):
    """The ranker ``settings`` name (``builtin``, ``llm`` with its fallback, ``random`` or ``ridge``)."""
    if settings.ranker == "random":
        return RandomRanker(random.Random(ctx.rngs.derive("random-ranker")))
    if settings.ranker == "ridge":
        return RidgeRanker()
    if settings.ranker == "builtin":
        return builtin_ranker(settings, ctx, progress)
    from ...lm.llm import ChatClient
    record = None if ctx.run_dir is None else ctx.run_dir / "llm_exchanges.jsonl"
    client = ChatClient(ctx.llm, record=record)
    client.check()  # before the fallback ranker trains (minutes): a server nobody runs is said at once
    fallback = builtin_ranker(settings, ctx, progress) if settings.fallback == "builtin" else \
        RandomRanker(random.Random(ctx.rngs.derive("fallback")))
    return LLMRanker(client, fallback, settings.retries, settings.history)


__all__ = ["LLMRanker", "RandomRanker", "RidgeRanker", "builtin_ranker", "learned_from", "make_ranker", "ranker_guard",
           "training_sources", "np"]


class RankerLearner(Learner):
    """What a ranked search keeps: which ranker (its cache key), and how often an LLM needed the fallback."""

    name = "ranker"

    def __init__(self, ranker):
        self.ranker = ranker

    def state_dict(self) -> dict:
        return {"ranker": self.ranker.name, "key": getattr(self.ranker, "key", None),
                "fallbacks": getattr(self.ranker, "fallbacks", 0)}

    def load_state_dict(self, state: dict) -> None:
        key = getattr(self.ranker, "key", None)
        if state.get("key") and key and state["key"] != key:
            raise ConfigError(f"this run's ranker was {state['key']}, and {key} was built now: the sources or "
                              "settings differ from the run's")
        if hasattr(self.ranker, "fallbacks"):
            self.ranker.fallbacks = state.get("fallbacks", 0)
