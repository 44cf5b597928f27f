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
        workers: evaluations in flight at once.
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
    cache_dir: Optional[str] = None   # where pre-trained models are cached (None: $GPTNAS_CACHE or ~/.cache/gptnas)
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

    What the framework reads from the class, so that it names no method (each declares its own):

    - ``name``: the registry name (``--method``) and the config section that holds every option of the method;
    - ``nested``: fields that hold a settings dataclass whose keys sit in that same section, flat (``gptnas.loop``
      is ``GPTNAS.gpt.loop``);
    - ``flags``: the command-line flags it owns (:class:`Flag`);
    - ``paths``: options that are paths (made absolute so a resume from elsewhere reads the same files): ``"file"``
      always, ``"folder"`` only when the value names an existing folder (a transfer source may be a dataset name);
    - ``aliases``: old config keys a user's own method answers to (``"old.*": "*"``, ``"old.key": "option"``),
      besides ``search.<option>`` (the built-in methods' old keys are in :mod:`gptnas.compat`);
    - ``recorded_before``: values of options added since, for a run recorded before they existed (its resume then
      computes what it computed).
    """

    name: ClassVar[str] = "method"
    nested: ClassVar[tuple[str, ...]] = ()
    flags: ClassVar[tuple["Flag", ...]] = ()
    paths: ClassVar[dict] = {}
    aliases: ClassVar[dict] = {}
    recorded_before: ClassVar[dict] = {}

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

    def is_steady(self) -> bool:
        """See :attr:`steady_state` (a method whose loop is an option decides per instance, once bound; called
        ``steady()`` before GA's option of that name)."""
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
        """The keys of this method's config section: its fields, with the ``nested`` settings' keys in their place."""
        out = []
        for f in dataclasses.fields(cls):
            if f.name in cls.nested:
                out += [g.name for g in dataclasses.fields(_settings_class(cls, f.name))]
            else:
                out.append(f.name)
        return out

    @classmethod
    def from_section(cls, section: Optional[dict], **objects) -> "Method":
        """The method from its config section (plain data; ``objects``: fields that are not, e.g. a wrapper's
        ``inner``); an unknown key is a one-line error naming it."""
        section = dict(section or {})
        check_keys(cls.name, section, cls.option_names())
        own = {f.name for f in dataclasses.fields(cls)} - set(cls.nested)
        kw = {k: v for k, v in section.items() if k in own and v is not None}
        for n in cls.nested:
            sub = {g.name for g in dataclasses.fields(_settings_class(cls, n))}
            kw[n] = {k: v for k, v in section.items() if k in sub}
        return cls(**kw, **objects)

    def to_section(self) -> dict:
        """This method's options, resolved, as plain data (what ``config.yaml`` records under :attr:`name`)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Method):  # a wrapper's inner method: its own section
                continue
            out.update(dataclasses.asdict(v) if f.name in self.nested else {f.name: _plain(v)})
        return out

    def config_sections(self) -> dict:
        """Every config section this method (with any wrappers around it) stands for: ``{section: options}``."""
        return {self.name: self.to_section()}

    @property
    def base_name(self) -> str:
        """The registered method at the core (a wrapper's innermost method)."""
        return self.name

    @property
    def label(self) -> str:
        """What a person reads in logs, plots and the progress bar: ``rea``, ``rea+prescreened``."""
        return self.name

    def check_target(self, dataset: Optional[str]) -> None:
        """Refuse options that would read the target task's own data (a transfer source that is the target)."""

    def details(self) -> dict:
        """What the run's summary says of the method beyond its options (``summary.json``'s ``method_details``):
        what stood in for a paper's LLM, what a model learned from. Read after :meth:`bind`."""
        return {}

    def default_budget(self) -> Optional[int]:
        """Evaluations this method runs when the user gives no budget (None: the fitness kind's default); a preset
        that reproduces a paper may name the paper's."""
        return None


class Wrapper(Method):
    """A method that modifies another one it holds (``Prescreened(REA(), prescreen=4)``, ``Principled(GPTNAS(),
    source="cifar100")``): it is asked and told in the inner method's place and passes on what it does not change.
    Its options sit in a config section of its own (:attr:`name`); the config wraps the run's method in it when
    :meth:`active` says its section asks for it (the CLI: one of its flags)."""

    switch: ClassVar[str] = ""  #: the flag that turns the wrapper on, for messages (``--prescreen K``)

    @classmethod
    def active(cls, section: dict) -> bool:
        return True

    @classmethod
    def option_names(cls) -> list[str]:
        return [n for n in super().option_names() if n != "inner"]

    def config_sections(self) -> dict:
        return {**self.inner.config_sections(), self.name: self.to_section()}

    @property
    def base_name(self) -> str:
        return self.inner.base_name

    @property
    def label(self) -> str:
        return f"{self.inner.label}+{self.name}"

    def check_target(self, dataset) -> None:
        self.inner.check_target(dataset)

    def default_budget(self) -> Optional[int]:
        return self.inner.default_budget()

    def details(self) -> dict:
        return self.inner.details()

    # Asked and told in the inner method's place
    def bind(self, ctx: SearchContext) -> None:
        self.inner.bind(ctx)
        self.ctx, self.space, self.rngs = ctx, ctx.space, ctx.rngs

    def register(self, toolbox) -> None:
        self.inner.register(toolbox)

    def learners(self):
        return self.inner.learners() + self.own_learners()

    def own_learners(self) -> list:
        """The wrapper's learners beside the inner method's (their hooks run after the inner method's)."""
        return []

    def is_steady(self) -> bool:
        return self.inner.is_steady()

    @property
    def reads_results(self) -> bool:
        return self.inner.reads_results

    def begin_generation(self, toolbox, history) -> None:
        self.inner.begin_generation(toolbox, history)
        for learner in self.own_learners():
            learner.begin_generation(history)

    def end_generation(self, toolbox, population, history) -> None:
        self.inner.end_generation(toolbox, population, history)
        for learner in self.own_learners():
            learner.end_generation(population, history)

    def initial(self, toolbox, history):
        return self.inner.initial(toolbox, history)

    def offspring(self, toolbox, population, history):
        return self.inner.offspring(toolbox, population, history)

    def survivors(self, toolbox, population, evaluated, history):
        return self.inner.survivors(toolbox, population, evaluated, history)

    def has_generation_hooks(self) -> bool:
        return True


@dataclass(frozen=True)
class Flag:
    """A command-line flag a method or wrapper owns: ``Flag("--transfer-from", "transfer_from", "...")``. A flag
    several methods own sets the option of the run's method; a wrapper's flag wraps a method that has none."""

    flag: str
    option: str
    help: str
    type: Any = str
    metavar: Optional[str] = None


#: Flags several methods own (each sets the option of the run's method).
POPULATION = Flag("--population", "population", "population size (the method's default if omitted)", type=int)
SAMPLE = Flag("--sample", "sample", "tournament (sample) size of the REA loop", type=int)
PRESET = Flag("--preset", "preset", "named settings: paper (the method as published, docs/<method>_paper.md: "
              "gptnas, lapt, lmsearcher) | default (ours); gptnas also local (its token GPT's default)",
              metavar="NAME")


def _settings_class(cls, field_name: str):
    f = next(f for f in dataclasses.fields(cls) if f.name == field_name)
    factory = f.default_factory
    return factory if isinstance(factory, type) else type(factory())


def check_keys(section: str, d: dict, valid) -> None:
    """One line naming the first key of ``d`` not in ``valid`` (a typo in a config section)."""
    bad = sorted(set(d) - set(valid))
    if bad:
        raise ConfigError(f"unknown config key '{section}.{bad[0]}': valid keys are {', '.join(sorted(valid))}")


def settings_from_dict(cls, d: Optional[dict], section: str):
    """A settings dataclass from plain data, refusing unknown keys by name (values: the class's ``validate``)."""
    if dataclasses.is_dataclass(d) and not isinstance(d, type):
        return d
    if d is not None and not isinstance(d, dict):
        raise ConfigTypeError(f"config section {section} must be a mapping of its keys, got {type(d).__name__} "
                              f"{d!r:.60}")
    d = dict(d or {})
    check_keys(section, d, [f.name for f in dataclasses.fields(cls)])
    return cls(**d)


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
