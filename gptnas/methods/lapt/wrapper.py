"""Any method in the space design principles refine: ``Principled(REA(), source="cifar100")`` (``--method rea
--principles-from cifar100``). The principles are learned once, before the search (LAPT's first step); only
``--method lapt`` adapts them as the search goes."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from ...errors import ConfigError
from ...spaces.base import count_members
from ..base import Flag, Method, SearchContext, Wrapper
from .options import PrinciplesSettings

log = logging.getLogger(__name__)
FLAGS = (
    Flag("--principles-from", "source", "learn design principles from another dataset/task of the table or a run "
         "dir; lapt adapts them, any other method searches the space they refine", metavar="SOURCE[,SOURCE]"),
    Flag("--principles", "extractor", "how principles are learned: stats (default) | gpt | llm | frequency"),
    Flag("--principles-file", "file", "principles written by hand or exported (python -m gptnas.principles export "
         "RUN)", metavar="FILE"),
)
PATHS = {"source": "folder", "file": "file"}


def check_sources_not_target(settings: PrinciplesSettings, dataset) -> None:
    from ..sources import check_source
    for src in settings.sources:
        check_source(src, dataset, "--principles-from")


@dataclass
class Principled(Wrapper):
    """``inner`` searching the space that principles learned from ``principled.source`` (or read from
    ``principled.file``) refine. Keyword options are :class:`PrinciplesSettings`'s
    (``Principled(GPTNAS(), source="cifar100", extractor="frequency")``)."""

    name = "principled"
    nested = ("principles",)
    flags = FLAGS
    paths = PATHS
    switch = "--principles-from SOURCE or --principles-file FILE"
    inner: Method = None
    principles: PrinciplesSettings = field(default_factory=PrinciplesSettings)

    def __init__(self, inner: Method = None, principles=None, **options):
        self.inner = inner
        base = dataclasses.asdict(PrinciplesSettings.from_dict(principles)) if principles is not None else {}
        self.principles = PrinciplesSettings.from_dict({**base, **options})
        self.__post_init__()

    @classmethod
    def active(cls, section: dict) -> bool:
        return bool(section.get("source") or section.get("file"))

    def validate(self) -> None:
        if not isinstance(self.inner, Method):
            raise ConfigError("Principled wraps a method: Principled(REA(), source=...)")
        self.principles.validate()
        if not self.principles.active:
            raise ConfigError("principles need a source: --principles-from DATASET|RUN_DIR[,...] (another task) or "
                              "--principles-file FILE")

    def check_target(self, dataset) -> None:
        check_sources_not_target(self.principles, dataset)
        self.inner.check_target(dataset)

    def own_learners(self):
        return [self.guard] if getattr(self, "guard", None) is not None else []

    def bind(self, ctx: SearchContext) -> None:
        from .learn import learn_principles
        principles, _ = learn_principles(self.principles.resolved(ctx.space), ctx.space, ctx)
        refined = principles.refine(ctx.space)
        if ctx.run_dir is not None:
            principles.save(ctx.run_dir)
        p = self.principles
        log.info("searching the refined space (%d architectures) of principles from %s", principles.size(),
                 ", ".join(p.sources) or p.file)
        members = count_members(refined, refined.size()) if hasattr(refined, "allowed") else None
        if members is not None and ctx.budget is not None and members < ctx.budget:
            log.warning("the refined space holds %d members, fewer than the budget of %d: the search stops when it "
                        "has evaluated them (--method lapt widens it as it goes)", members, ctx.budget)
        super().bind(dataclasses.replace(ctx, space=refined))
        from ..sources import guard
        self.guard = guard(ctx, p.sources, "--principles-from")
