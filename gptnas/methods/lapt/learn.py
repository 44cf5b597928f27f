"""Learning principles for a search: from its sources or a file, with the extractor the settings name."""
from __future__ import annotations

import logging

from ...errors import ConfigError
from ..sources import scored_architectures
from .decisions import positions_of
from .options import paper_setting
from .principles import Principles
from .stats import FrequencyExtractor, StatsExtractor

log = logging.getLogger(__name__)
_CACHE: dict = {}  # (space, sources, settings) -> principles: a sweep of many seeds learns them once


def require_decisions(space, who: str) -> None:
    positions_of(space)  # raises ConfigError naming what principles need


def make_extractor(settings, space, ctx):
    m = settings.max_options or paper_setting(space, "max_options")
    stats = StatsExtractor(m, settings.top, settings.min_top, settings.effect_weight)
    if settings.extractor == "stats":
        return stats
    if settings.extractor == "frequency":
        return FrequencyExtractor(m)
    if settings.extractor == "gpt":
        from .gpt import GPTExtractor
        return GPTExtractor(m, settings.top, settings.min_top, settings.gpt_samples, pretrain=settings.pretrain,
                            cache_dir=ctx.cache_dir if ctx else None, seed=ctx.rngs.seed if ctx else 0,
                            progress=ctx.progress if ctx else False)
    from .llm import llm_extractor
    return llm_extractor(settings, ctx.llm if ctx else None, space, ctx.run_dir if ctx else None, stats, m)


def learn_principles(settings, space, ctx):
    """``(principles, extractor)`` for the search in ``ctx`` on ``space`` (the full space; the LLM and the model
    cache are ``ctx``'s)."""
    require_decisions(space, "design-principle transfer")
    extractor = make_extractor(settings, space, ctx)
    if settings.file:
        if settings.sources:
            raise ConfigError("give principles either from sources (--principles-from) or a file "
                              "(--principles-file), not both")
        return Principles.load(settings.file, space), extractor
    if not settings.sources:
        raise ConfigError("design-principle transfer needs a source: --principles-from DATASET|RUN_DIR[,...] "
                          "(or --principles-file FILE)")
    key = (space.name, repr(space.describe()), tuple(settings.sources), ctx.dataset, ctx.data, repr(settings))
    if settings.extractor in ("stats", "frequency") and key in _CACHE:
        import copy
        return copy.deepcopy(_CACHE[key]), extractor
    sources = [(src, scored_architectures(src, ctx, "--principles-from")) for src in settings.sources]
    for name, scored in sources:
        if not scored:
            raise ConfigError(f"--principles-from {name}: it holds no successful evaluation")
    principles = extractor.extract(sources, space)
    log.info("principles from %s (%s): refined space of %d architectures", ", ".join(settings.sources),
             principles.extractor, principles.size())
    if settings.extractor in ("stats", "frequency"):
        import copy
        _CACHE[key] = copy.deepcopy(principles)
    return principles, extractor
