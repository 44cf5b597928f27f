"""Learning principles for a search: from its sources or a file, with the extractor the settings name."""
from __future__ import annotations

import logging

from ...errors import ConfigError
from ..sources import scored_architectures, target_table, values_fingerprint
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
    if settings.extractor is None:  # unresolved: the default preset's
        settings = settings.resolved(space)
    extractor = make_extractor(settings, space, ctx)
    if settings.file:
        if settings.sources:
            raise ConfigError("give principles either from sources (--principles-from) or a file "
                              "(--principles-file), not both")
        principles = Principles.load(settings.file, space)
        check_provenance(principles, settings.file, ctx)
        return principles, extractor
    if not settings.sources:
        raise ConfigError("design-principle transfer needs a source: --principles-from DATASET|RUN_DIR[,...] "
                          "(or --principles-file FILE)")
    key = (space.name, repr(space.describe()), tuple(settings.sources), ctx.dataset, ctx.data, repr(settings))
    if settings.extractor in ("stats", "frequency") and key in _CACHE:
        import copy
        principles = copy.deepcopy(_CACHE[key])
        principles.provenance["run_dir"] = str(ctx.run_dir) if ctx.run_dir else None
        return principles, extractor
    sources = [(src, scored_architectures(src, ctx, "--principles-from")) for src in settings.sources]
    for name, scored in sources:
        if not scored:
            raise ConfigError(f"--principles-from {name}: it holds no successful evaluation")
    principles = extractor.extract(sources, space)
    principles.provenance = provenance(ctx, space, sources)
    log.info("principles from %s (%s): refined space of %d architectures", ", ".join(settings.sources),
             principles.extractor, principles.size())
    if settings.extractor in ("stats", "frequency"):
        import copy
        _CACHE[key] = copy.deepcopy(principles)
    return principles, extractor


def _target(ctx) -> dict:
    """The target a search works on, as provenance records it."""
    t = target_table(ctx)
    return {"target": ctx.dataset if ctx else None, "fitness": ctx.fitness if ctx else None,
            "values": t[0] if t else None, "run_dir": str(ctx.run_dir) if ctx and ctx.run_dir else None}


def provenance(ctx, space, sources) -> dict:
    """Where principles learned from ``sources`` (``[(name, [(genome, value), ...]), ...]``) come from: the source
    names and a fingerprint of each one's values (:func:`~gptnas.methods.sources.values_fingerprint`), the space
    and its fingerprint, and the search that learned them (its target and run directory); ``adapted_on`` lists the
    targets whose results later changed them (:func:`mark_adapted`)."""
    from ...spaces.base import fingerprint
    here = _target(ctx)
    return {"sources": [n for n, _ in sources], "source_values": {n: values_fingerprint(sc) for n, sc in sources},
            "space": space.name, "space_fingerprint": fingerprint(space), "learned_for": here["target"],
            "run_dir": here["run_dir"], "adapted_on": []}


def mark_adapted(principles: Principles, ctx) -> None:
    """Record in the provenance that ``ctx``'s target adapted ``principles`` (once per search)."""
    here = _target(ctx)
    seen = principles.provenance.setdefault("adapted_on", [])
    if here not in seen:
        seen.append(here)


def check_provenance(principles: Principles, path, ctx) -> None:
    """Refuse a principles file learned from, or adapted on, the target of ``ctx`` — by name, or by the values'
    fingerprint where the target is a table (the same numbers under another name)."""
    prov, target = principles.provenance, (ctx.dataset if ctx else None)
    if not prov:
        if principles.adaptations:
            log.warning("--principles-file %s: adapted during a search but holds no provenance (written before "
                        "gptnas recorded it), so it cannot be checked against the target", path)
        return
    t = target_table(ctx)
    fp = t[0] if t else None
    for src in prov.get("sources", []):
        if target is not None and src == target or fp and prov.get("source_values", {}).get(src) == fp:
            raise ConfigError(f"--principles-file {path}: learned from {src}, which is the target {target} itself: "
                              "principles must come from another task (--principles-from SOURCE)")
    for a in prov.get("adapted_on", []):
        if target is not None and a.get("target") == target or fp and a.get("values") == fp:
            raise ConfigError(f"--principles-file {path}: adapted on {target}'s own results (run {a.get('run_dir')}): "
                              "use principles learned before that search (python -m gptnas.principles extract) or "
                              "--principles-from SOURCE")
