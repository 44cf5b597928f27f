"""What a search method is: a loop over generations (its options validated, its operators in a DEAP toolbox),
plus the learners that learn from the search as it goes.

A method is an object holding its options — ``gptnas.methods.REA(population=10, sample=5)`` — each with a
validated default. :meth:`Method.bind` attaches it to one search (space, generators, where the search runs);
:meth:`Method.register` puts its operators into the toolbox; the engine then calls, each generation::

    begin_generation → initial (first generation) or offspring → [evaluation] → survivors → end_generation

With several workers the engine asks (``begin_generation`` → ``initial`` / ``offspring``) whenever a worker is
free and tells each result (``survivors`` → ``end_generation``) as it comes: a method with ``steady_state = True``
is asked again before its earlier children are told, each child told on its own (REA); otherwise the next
generation is asked once the previous one is told (GA). ``history.in_flight`` holds the keys being evaluated.

Methods read the search so far only through a :class:`~gptnas.core.history.History` (keys, genomes, fitness,
failures, generations, origins — never test accuracy) and the population of individuals (genome + fitness).

A :class:`Learner` is what a method learns from the search (the GPT's fine-tuning, design principles, a ranker):
it has ``begin_generation`` / ``end_generation`` hooks and ``state_dict`` / ``load_state_dict``; the engine stores
its state under its ``name`` in every checkpoint, so a resumed run continues with what it had learned.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

from deap import base

from ..core.rng import Rngs
from ..core.types import clone, make_individual
from ..errors import ConfigError, ConfigTypeError, ConfigValueError
from ..operators.classic import cx_classic, mut_classic


@dataclass
class SearchContext:
    """Where a method runs: what :meth:`Method.bind` receives.

    Attributes:
        space: the search space. rngs: the run's generators (checkpointed).
        progress: whether long steps (model training) may show progress bars.
        dataset, fitness, data: the run's target dataset or task, fitness kind and benchmark data path, when the run
            has them (transfer sources and principles are checked against the target; a user's own fitness has
            none).
        run_dir: the run directory (files a person reads, e.g. principles), or None for an in-memory run.
        budget: unique evaluations the search may spend.
    """

    space: Any
    rngs: Rngs
    progress: bool = True
    dataset: Optional[str] = None
    fitness: Optional[str] = None
    data: Optional[str] = None
    run_dir: Optional[Path] = None
    budget: Optional[int] = None
    space_name: Optional[str] = None  # the registered name the space was built from (None for an object)
    llm: Any = None                   # LLM server settings (gptnas.lm.llm.LLMSettings), for methods that ask one
    gpt_pretrain: Optional[dict] = None  # the run's gpt.pretrain (methods that build the token GPT)
    gpt_cache_dir: Optional[str] = None
    workers: int = 1  # evaluations in flight at once: learners with several may train beside the search


class Learner:
    """What a method learns during the search; its state is checkpointed under :attr:`name`."""

    name = "learner"

    def begin_generation(self, history) -> None:
        """Before a generation is formed."""

    def end_generation(self, population, history) -> None:
        """After a generation was evaluated and selected (``history.running`` is False after the last one)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (called before the first generation of a resumed run)."""


def register_common(toolbox: base.Toolbox, space, rngs: Rngs) -> None:
    """Register ``clone``, ``individual``, ``population`` and the classic ``mutate`` / ``mate``."""
    toolbox.register("clone", clone)
    toolbox.register("individual", lambda: make_individual(space.sample(rngs.py), "random"))
    toolbox.register("population", lambda n: [toolbox.individual() for _ in range(n)])
    toolbox.register("mutate", mut_classic, space=space, rng=rngs.py)
    toolbox.register("mate", cx_classic, space=space, rng=rngs.py)


@dataclass
class Method:
    """Base of the search methods. Subclasses declare their options as dataclass fields and fill
    :meth:`offspring` and :meth:`survivors` (and :meth:`initial` when the first generation is special).

    Class attributes: ``name`` (the registry name, ``--method``); ``sections``: the config sections besides
    ``search`` that hold this method's options (``gpt`` for gptnas).
    """

    name: ClassVar[str] = "method"
    sections: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every option; raise :class:`ConfigError` naming the option and what it accepts."""

    # Binding to one search ----------------------------------------------------------------------------------------
    def bind(self, ctx: SearchContext) -> None:
        self.ctx, self.space, self.rngs = ctx, ctx.space, ctx.rngs

    def register(self, toolbox: base.Toolbox) -> None:
        register_common(toolbox, self.space, self.rngs)

    def learners(self) -> list[Learner]:
        return []

    # One generation -----------------------------------------------------------------------------------------------
    def begin_generation(self, toolbox, history) -> None:
        for learner in self.learners():
            learner.begin_generation(history)

    def end_generation(self, toolbox, population, history) -> None:
        for learner in self.learners():
            learner.end_generation(population, history)

    def initial(self, toolbox, history) -> list:
        return toolbox.population(n=self.population)

    def offspring(self, toolbox, population, history) -> list:
        raise NotImplementedError

    def survivors(self, toolbox, population, evaluated, history) -> list:
        raise NotImplementedError

    #: Whether the method may be asked for the next child before earlier children are told (with several workers):
    #: its ``survivors`` of several children, one at a time, are its survivors of all of them at once (REA's
    #: population in age order, random search). False: a generational method, asked for its next generation once
    #: the whole previous one is told (GA).
    steady_state: ClassVar[bool] = False
    #: Whether proposals depend on the results so far. False (random search): with several workers the engine asks
    #: whenever a worker is free without waiting for the lag (the proposals are the same whatever it was told).
    reads_results: ClassVar[bool] = True

    def steady(self) -> bool:
        """See :attr:`steady_state` (a method whose loop is an option decides per instance)."""
        return self.steady_state

    def has_generation_hooks(self) -> bool:
        """Whether :meth:`begin_generation`, :meth:`end_generation` or :meth:`learner_states` can do anything: the
        engine skips the three when not (REA's cache-answered generations cost a few microseconds each)."""
        cls = type(self)
        return bool(self.learners()) or any(getattr(cls, h) is not getattr(Method, h)
                                            for h in ("begin_generation", "end_generation", "learner_states"))

    # Checkpoints --------------------------------------------------------------------------------------------------
    def learner_states(self) -> dict:
        return {learner.name: learner.state_dict() for learner in self.learners()}

    def load_learner_states(self, states: dict) -> None:
        for learner in self.learners():
            if learner.name in states:
                learner.load_state_dict(states[learner.name])

    # Config -------------------------------------------------------------------------------------------------------
    @classmethod
    def option_names(cls) -> list[str]:
        """Options read from the config's ``search`` section (the dataclass fields not in :attr:`sections`)."""
        return [f.name for f in dataclasses.fields(cls) if f.name not in cls.sections]

    @classmethod
    def from_config(cls, options: dict, sections: dict) -> "Method":
        """The method with ``options`` (from ``search``; keys it does not know are other methods' and ignored)
        and its ``sections``."""
        names = set(cls.option_names())
        kw = {k: v for k, v in options.items() if k in names and v is not None}
        kw.update({s: sections[s] for s in cls.sections if sections.get(s) is not None})
        return cls(**kw)

    def config_options(self) -> dict:
        """This method's ``search`` options, resolved (what ``config.yaml`` records)."""
        return {k: getattr(self, k) for k in self.option_names()}

    def config_sections(self) -> dict:
        """This method's other sections as plain data."""
        return {s: _plain(getattr(self, s)) for s in self.sections}


def _plain(v):
    return dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v


# Validation helpers ---------------------------------------------------------------------------------------------
def check_int(method: str, option: str, v, minimum: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigTypeError(f"{method} option {option} must be an integer ≥ {minimum}, got {v!r}")
    if v < minimum:
        raise ConfigValueError(f"{method} option {option} must be an integer ≥ {minimum}, got {v!r}")


def check_probability(method: str, option: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigTypeError(f"{method} option {option} must be a probability in [0, 1], got {v!r}")
    if not 0 <= v <= 1:
        raise ConfigValueError(f"{method} option {option} must be a probability in [0, 1], got {v!r}")


def check_sources(source, flag: str, what: str) -> None:
    """A transfer source: None (none), or text / a list naming at least one (``--rank-from ""`` names none)."""
    if source is None:
        return
    if isinstance(source, str):
        names = [x for x in source.split(",") if x.strip()]
    elif isinstance(source, (list, tuple)) and all(isinstance(x, str) for x in source):
        names = [x for x in source if x.strip()]
    else:
        raise ConfigTypeError(f"{flag} must be text or a list of names, got {type(source).__name__} {source!r:.60}")
    if not names:
        raise ConfigError(f"{flag} is empty: name {what}")


def check_choice(method: str, option: str, v, choices) -> None:
    if v not in choices:
        raise ConfigError(f"{method} option {option} must be one of {', '.join(map(str, choices))}, got {v!r}")
