"""Search methods as toolbox recipes: each registers its operators and says how a generation is formed.

- ``random``: random search, ``batch`` new random architectures per generation.
- ``rea``: regularised evolution (Real et al. 2019): a population of P kept in age order; each child is a mutation of
  the best of S individuals sampled from it; the oldest dies.
- ``ga``: DEAP's ``eaSimple`` with elitism: tournament selection, crossover with probability ``cxpb``, mutation with
  probability ``mutpb``, the best ``elitism`` individuals carried over.

Methods use only ``toolbox.*`` operators, so a user can swap any of them with ``toolbox.register`` (the ``gptnas``
method is the GA with GPT operators registered).
"""
from __future__ import annotations

from deap import base, tools

from ..errors import ConfigError
from ..operators.classic import cx_classic, mut_classic
from ..spaces.base import SearchSpace
from .rng import Rngs
from .types import make_individual


def register_common(toolbox: base.Toolbox, space: SearchSpace, rngs: Rngs) -> None:
    """Register ``individual``, ``population``, ``clone`` defaults and the classic ``mutate`` / ``mate``."""
    toolbox.register("individual", lambda: make_individual(space.sample(rngs.py), "random"))
    toolbox.register("population", lambda n: [toolbox.individual() for _ in range(n)])
    toolbox.register("mutate", mut_classic, space=space, rng=rngs.py)
    toolbox.register("mate", cx_classic, space=space, rng=rngs.py)


class Method:
    """Base: subclasses fill :meth:`initial`, :meth:`offspring` and :meth:`survivors`.

    ``self.cfg`` is the run's ``search`` section; ``self.run_cfg`` the whole :class:`~gptnas.config.RunConfig`.
    """

    name = "method"

    def __init__(self, run_cfg, space: SearchSpace, rngs: Rngs):
        self.run_cfg, self.cfg, self.space, self.rngs = run_cfg, run_cfg.search, space, rngs

    def register(self, toolbox: base.Toolbox) -> None:
        register_common(toolbox, self.space, self.rngs)

    def begin_generation(self, toolbox, state, progress: float) -> None:
        """Hook before a generation; ``progress`` is the fraction of the budget used (0..1)."""

    def end_generation(self, toolbox, state) -> None:
        """Hook after a generation has been selected (before the checkpoint)."""

    def initial(self, toolbox, state) -> list:
        return toolbox.population(n=self.cfg.population)

    def offspring(self, toolbox, state) -> list:
        raise NotImplementedError

    def survivors(self, toolbox, state, evaluated: list) -> list:
        raise NotImplementedError


class RandomSearch(Method):
    name = "random"

    def initial(self, toolbox, state):
        return toolbox.population(n=self.cfg.batch)

    def offspring(self, toolbox, state):
        return toolbox.population(n=self.cfg.batch)

    def survivors(self, toolbox, state, evaluated):
        return evaluated


class RegularizedEvolution(Method):
    name = "rea"

    def register(self, toolbox):
        super().register(toolbox)
        toolbox.register("select", tools.selBest)

    def offspring(self, toolbox, state):
        children = []
        for _ in range(self.cfg.rea_batch):
            sample = self.rngs.py.sample(state.population, min(self.cfg.sample, len(state.population)))
            parent = toolbox.select(sample, 1)[0]
            child = toolbox.clone(parent)
            child.parent_key = self.space.key(parent)  # for weight inheritance
            children.extend(toolbox.mutate(child))
        return children

    def survivors(self, toolbox, state, evaluated):
        if state.generation == 0:
            return evaluated
        pop = list(state.population) + evaluated  # list order is age order: the oldest first
        return pop[max(0, len(pop) - self.cfg.population):]


class GeneticAlgorithm(Method):
    name = "ga"

    def register(self, toolbox):
        super().register(toolbox)
        toolbox.register("select", tools.selTournament, tournsize=self.cfg.tournament)

    def offspring(self, toolbox, state):
        parents = toolbox.select(state.population, len(state.population))
        children = [toolbox.clone(p) for p in parents]
        for child, parent in zip(children, parents):
            child.parent_key = self.space.key(parent)  # for weight inheritance
        rng = self.rngs.py
        for i in range(1, len(children), 2):  # DEAP's varAnd, drawing from our generator
            if rng.random() < self.cfg.cxpb:
                children[i - 1], children[i] = toolbox.mate(children[i - 1], children[i])
        for i in range(len(children)):
            if rng.random() < self.cfg.mutpb:
                (children[i],) = toolbox.mutate(children[i])
        return children

    def survivors(self, toolbox, state, evaluated):
        if state.generation == 0:
            return evaluated
        elite = tools.selBest(state.population, self.cfg.elitism) if self.cfg.elitism else []
        rest = sorted(evaluated, key=lambda i: i.fitness, reverse=True)[:max(0, len(state.population) - len(elite))]
        return [toolbox.clone(e) for e in elite] + rest


#: name -> class, or "module:Class" imported on first use (the GPT method pulls in torch and transformers).
METHODS: dict[str, type[Method] | str] = {
    "random": RandomSearch, "rea": RegularizedEvolution, "ga": GeneticAlgorithm,
    "gptnas": "gptnas.search.gpt_method:GPTNAS",
}


def get_method(name: str) -> type[Method]:
    try:
        m = METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(sorted(METHODS))}") from None
    if isinstance(m, str):
        import importlib
        module, cls = m.split(":")
        m = getattr(importlib.import_module(module), cls)
    return m
