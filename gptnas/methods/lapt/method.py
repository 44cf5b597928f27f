"""Method ``lapt``: design-principle transfer (Zhou et al., AAAI 2025, arXiv 2408.11330).

Principles learned from a source task's good architectures refine the new task's search space; regularised
evolution runs inside the refined space; principle adaptation updates the principles from the new task's own
results as they come in (:class:`PrinciplesLearner`): after ``adapt_first`` evaluations and then every
``adapt_every``, if the best improved since the last adaptation the target's ``adapt_top`` best update the
principles, else other operations are added to the refined space.

Loop sizes are the paper's per space: NAS-Bench-201 population 5, tournament 2, 2 options per edge, adaptation at
10 and then every 5 evaluations from the top 5; TransNAS-Bench-101 population 10, tournament 5, 3 options, every 10
from the top 15 (the paper's first adaptation there at 20, ours at 10). Ours beyond the paper (``preset: default``):
principles from the ``stats`` extractor; ``guided``: the initial population is drawn from the refined space by the
principles' scores and each mutation takes the best-scored neighbour not yet evaluated; an adaptation only ever
widens the lists. ``preset: paper`` (docs/lapt_paper.md) is LAPT as published: the LLM reads the source's top 50
(the frequency among them stands in offline), uniform sampling and mutation, every adaptation's answer replaces the
lists, "improved" is judged against the initial population's best. Sources are other tasks only, never the target.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Optional

from ...errors import ConfigError
from .operators import init_principled, mut_principled
from ...spaces.base import grammar_is_exact
from ..base import POPULATION, PRESET, SAMPLE, Learner, Method, SearchContext, check_choice, check_int
from ..rea import REA
from .decisions import is_chain, set_allowed
from .options import PRESETS, PrinciplesSettings, paper_setting
from ..sources import guard
from .learn import mark_adapted
from .stats import adapt_by_frequency, adapt_statistically
from .wrapper import FLAGS as PRINCIPLE_FLAGS, PATHS as PRINCIPLE_PATHS, check_sources_not_target

log = logging.getLogger(__name__)
#: What the summary and the log say when the paper preset runs offline.
STAND_IN = ("no LLM given (--llm-url, --llm-model): the frequency among the source's top 50 stands in for the "
            "paper's LLM")
#: Generations without a new architecture after which the refined space of a space with rules of its own counts as
#: exhausted and is widened at once, whatever the schedule says (the rules can leave it fewer members than the
#: budget, and the paper's schedule, counted in evaluations, would then never come). On the benchmark spaces the
#: paper's schedule alone, as published.
EXHAUSTED_AFTER = 20


class PrinciplesLearner(Learner):
    """The principles during a search: adapted on schedule (and widened as soon as the refined space is exhausted),
    written to the run directory, checkpointed."""

    name = "principles"

    def __init__(self, principles, extractor, space, refined, settings: PrinciplesSettings, ctx: SearchContext,
                 population: int = 0):
        """``settings``: resolved (:meth:`PrinciplesSettings.resolved`); ``population``: the loop's, whose best is
        the paper's baseline for "improved" (``baseline: initial``)."""
        self.principles, self.extractor, self.space, self.refined = principles, extractor, space, refined
        self.settings, self.ctx, self.population = settings, ctx, population
        self.source_scores = principles.scores(space)
        self.scores = self.source_scores.copy()
        self.first, self.every, self.top = settings.adapt_first, settings.adapt_every, settings.adapt_top
        self.next_at, self.best_before = self.first, -math.inf
        self.seen, self.idle = 0, 0  # evaluations at the last generation; generations since one was new
        self.widen_exhausted = not grammar_is_exact(space)
        self.write()

    def write(self) -> None:
        if self.ctx.run_dir is not None:
            self.principles.save(self.ctx.run_dir)

    def end_generation(self, population, history) -> None:
        if not self.settings.adapt or not history.running:
            return
        self.idle = 0 if len(history) > self.seen else self.idle + 1
        self.seen = len(history)
        exhausted = self.widen_exhausted and self.idle >= EXHAUSTED_AFTER
        if len(history) < self.next_at and not exhausted:
            return
        while self.next_at <= len(history):
            self.next_at += self.every
        best = history.best()
        best = best.fitness if best is not None else -math.inf
        if self.settings.baseline == "initial" and self.best_before == -math.inf:
            initial = [e.fitness for e in list(history)[:self.population] if not e.failed]
            self.best_before = max(initial, default=-math.inf)  # the paper's current_best
        improved = best > self.best_before and not exhausted
        if exhausted:
            log.info("no new architecture in %d generations: the refined space is exhausted, widening it", self.idle)
        replace = self.settings.adaptation == "replace"
        if hasattr(self.extractor, "adapt"):
            record = self.extractor.adapt(self.principles, self.space, history, improved, self.top, self.best_before,
                                          replace=replace)
        elif replace:
            record = adapt_by_frequency(self.principles, self.space, history, improved, self.top,
                                        self.settings.max_options, self.best_before)
        else:
            record = adapt_statistically(self.principles, self.space, self.source_scores, history, improved,
                                         self.top, self.settings.target_weight, self.best_before)
        if exhausted:
            record["reason"] = f"the refined space is exhausted ({self.idle} generations without a new " \
                               f"architecture); {record['reason']}"
            self.idle = 0
        self.best_before = max(self.best_before, best)
        mark_adapted(self.principles, self.ctx)
        set_allowed(self.refined, self.principles.allowed(self.space))
        self.scores = self.principles.scores(self.space)
        log.info("principle adaptation after %d evaluations: %s; refined space now %d architectures",
                 len(history), record["reason"], self.principles.size())
        self.write()

    def state_dict(self) -> dict:
        d = {"principles": self.principles.to_dict(), "next_at": self.next_at, "best_before": self.best_before,
             "seen": self.seen, "idle": self.idle}
        if hasattr(self.extractor, "state_dict"):
            d["extractor"] = self.extractor.state_dict()
        return d

    def load_state_dict(self, state: dict) -> None:
        from .principles import Principles
        self.principles = Principles.from_dict(state["principles"])
        self.next_at, self.best_before = state["next_at"], state["best_before"]
        self.seen, self.idle = state.get("seen", 0), state.get("idle", 0)
        if "extractor" in state and hasattr(self.extractor, "load_state_dict"):
            self.extractor.load_state_dict(state["extractor"])
        set_allowed(self.refined, self.principles.allowed(self.space))
        self.scores = self.principles.scores(self.space)


@dataclass
class LAPT(Method):
    """Regularised evolution inside the space the principles refine, with principle adaptation.

    Args:
        population, sample: REA's population and tournament (None: the paper's for the space, see the module).
        principles: :class:`~gptnas.methods.lapt.PrinciplesSettings` (or a dict of its fields): where principles
            come from (``source`` or ``file``), the extractor, the options per position, adaptation.
    """

    name = "lapt"
    steady_state = True  # asked for a child whenever a worker is free
    nested = ("principles",)
    flags = (POPULATION, SAMPLE, PRESET, *PRINCIPLE_FLAGS)
    paths = PRINCIPLE_PATHS
    population: Optional[int] = None
    sample: Optional[int] = None
    preset: str = "default"           # default (ours) | paper (LAPT as published: docs/lapt_paper.md)
    principles: PrinciplesSettings = field(default_factory=PrinciplesSettings)

    def __post_init__(self) -> None:
        if isinstance(self.principles, dict):
            self.principles = PrinciplesSettings.from_dict(self.principles)
        super().__post_init__()

    def validate(self) -> None:
        check_choice(self.name, "preset", self.preset, PRESETS)
        for opt in ("population", "sample"):
            if getattr(self, opt) is not None:
                check_int(self.name, opt, getattr(self, opt))
        if not isinstance(self.principles, PrinciplesSettings):
            raise ConfigError("lapt option principles must be PrinciplesSettings or a mapping")
        self.principles.validate()
        if not self.principles.active:
            raise ConfigError("method lapt needs a source task for its principles: --principles-from "
                              "DATASET|RUN_DIR[,...] (another task, never the target) or --principles-file FILE")

    def check_target(self, dataset) -> None:
        check_sources_not_target(self.principles, dataset)

    def bind(self, ctx: SearchContext) -> None:
        from .learn import learn_principles
        super().bind(ctx)
        full = ctx.space
        self.settings = self.principles.resolved(full, self.preset, ctx.llm is not None and ctx.llm.given())
        s = self.settings
        self.stand_in = self.preset == "paper" and self.principles.extractor is None and s.extractor == "frequency"
        if self.stand_in:
            log.info("lapt --preset paper: %s", STAND_IN)
        log.info("lapt: preset %s (extractor %s, %s sampling, adaptation %s, improved against %s)", self.preset,
                 s.extractor, "guided" if s.guided else "uniform", s.adaptation,
                 "the initial population's best" if s.baseline == "initial" else "the last adaptation's best")
        self.principles_obj, extractor = learn_principles(s, full, ctx)
        self.refined = self.principles_obj.refine(full)
        pop = self.population or paper_setting(full, "population")
        self.learner = PrinciplesLearner(self.principles_obj, extractor, full, self.refined, s, ctx, pop)
        self.loop = REA(population=pop, sample=self.sample or paper_setting(full, "sample"))
        self.loop.bind(dataclasses.replace(ctx, space=self.refined))
        self.space = self.refined  # keys, genomes: the parent's (a Subspace shares them)
        self._history = None
        self.guard = guard(ctx, s.sources, "--principles-from")

    def learners(self):
        return [self.learner] + ([self.guard] if self.guard is not None else [])

    def details(self) -> dict:
        s = self.settings
        return {"preset": self.preset, "extractor": s.extractor, "sampling": "guided" if s.guided else "uniform",
                "adaptation": s.adaptation if s.adapt else "off", "principles_from": self.principles_obj.sources,
                **({"stand_in": STAND_IN} if self.stand_in else {})}

    def register(self, toolbox) -> None:
        self.loop.register(toolbox)
        if self.settings.guided and not is_chain(self.refined):  # chains: the sub-space's own operators
            scores = lambda: self.learner.scores
            toolbox.register("population", init_principled, space=self.refined, scores=scores, rng=self.rngs.py,
                             temperature=self.settings.temperature)
            toolbox.register("mutate", mut_principled, space=self.refined, scores=scores,
                             evaluated=lambda: self._history.proposed() if self._history is not None else set(),
                             rng=self.rngs.py)

    def begin_generation(self, toolbox, history) -> None:
        self._history = history
        super().begin_generation(toolbox, history)

    def initial(self, toolbox, history):
        return self.loop.initial(toolbox, history)

    def offspring(self, toolbox, population, history):
        return self.loop.offspring(toolbox, population, history)

    def survivors(self, toolbox, population, evaluated, history):
        return self.loop.survivors(toolbox, population, evaluated, history)
