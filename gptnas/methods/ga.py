"""The genetic algorithm: tournament selection, crossover with probability ``cxpb``, mutation with probability
``mutpb``, in one of two loops:

- generational (DEAP's ``eaSimple`` with elitism, the GPT-NAS paper's GA): a generation of ``population`` children
  is bred from the whole previous one, the best ``elitism`` individuals carried over;
- steady-state (``steady``; chosen by default when several workers evaluate at once, where the generational loop
  leaves workers idle while each generation waits for its slowest child): each ask breeds one pair from the
  population as it stands, and each child, once told, replaces the population's worst if it is better and not
  already in it.
"""
from __future__ import annotations

from dataclasses import dataclass

from deap import tools

from ..errors import ConfigError, ConfigTypeError
from .base import POPULATION, Method, check_int, check_probability


def check_steady(method: str, v) -> None:
    """``steady`` is ``"auto"`` (steady-state when several workers evaluate at once), true or false."""
    if not (isinstance(v, bool) or v == "auto"):
        raise ConfigTypeError(f"{method} option steady must be auto, true (the steady-state loop) or false (the "
                              f"generational loop), got {v!r}")


def steady_survivors(population: list, evaluated: list, key) -> list:
    """Steady-state replacement, one child at a time in the order given: a child not already in the population
    (by ``key``) takes the place of the worst individual when it is better (the first of equals stays). Told one
    at a time or together, the survivors are the same. Returns a new list."""
    pop = list(population)
    keys = {key(i) for i in pop}
    for child in evaluated:
        if not child.fitness.valid or key(child) in keys:
            continue
        worst = min(range(len(pop)), key=lambda j: (pop[j].fitness, -j))  # the youngest of equal worst goes
        if child.fitness > pop[worst].fitness:
            keys.discard(key(pop[worst]))
            keys.add(key(child))
            pop[worst] = child
    return pop


@dataclass
class GA(Method):
    """Args: population (20), tournament size (3), cxpb (0.9) and mutpb (0.3), the GPT-NAS paper's GA, and
    elitism (1: the best individual survives unchanged; the generational loop's). steady: ``"auto"`` (the
    steady-state loop when the run has several workers, the generational one otherwise), true or false."""

    name = "ga"
    flags = (POPULATION,)
    population: int = 20
    tournament: int = 3
    cxpb: float = 0.9
    mutpb: float = 0.3
    elitism: int = 1
    steady: object = "auto"
    #: Runs recorded before the steady-state loop existed ran the generational loop whatever their workers.
    recorded_before = {"steady": False}

    def validate(self) -> None:
        check_int(self.name, "population", self.population)
        check_int(self.name, "tournament", self.tournament)
        check_int(self.name, "elitism", self.elitism, minimum=0)
        check_probability(self.name, "cxpb", self.cxpb)
        check_probability(self.name, "mutpb", self.mutpb)
        check_steady(self.name, self.steady)
        if self.elitism >= self.population:
            raise ConfigError(f"{self.name} option elitism ({self.elitism}) must be smaller than the population "
                              f"({self.population})")

    def register(self, toolbox) -> None:
        super().register(toolbox)
        toolbox.register("select", tools.selTournament, tournsize=self.tournament)

    def is_steady(self) -> bool:
        """Whether this run uses the steady-state loop (``steady``; ``auto``: several workers). Read after bind."""
        if self.steady == "auto":
            return getattr(self, "ctx", None) is not None and self.ctx.workers > 1
        return bool(self.steady)

    def offspring(self, toolbox, population, history):
        parents = toolbox.select(population, 2 if self.is_steady() else len(population))
        children = [toolbox.clone(p) for p in parents]
        for child, parent in zip(children, parents):
            child.parent_key = self.space.key(parent)  # for weight inheritance
        rng = self.rngs.py
        for i in range(1, len(children), 2):  # DEAP's varAnd, drawing from our generator
            if rng.random() < self.cxpb:
                children[i - 1], children[i] = toolbox.mate(children[i - 1], children[i])
        for i in range(len(children)):
            if rng.random() < self.mutpb:
                (children[i],) = toolbox.mutate(children[i])
        if self.is_steady():
            self._fresh(toolbox, children, history)
        return children

    #: Mutations a steady-state child gets at most to differ from everything proposed so far.
    RETRIES = 20

    def _fresh(self, toolbox, children: list, history) -> None:
        """Mutate each child again while it repeats an architecture already proposed (evaluated, in flight, or its
        sibling), at most :attr:`RETRIES` times: a steady-state population converges, and a repeat tells it nothing
        (the generational loop breeds a whole generation, so it moves on with what repeats there are)."""
        if history is None:
            return
        if getattr(self, "_seen_n", len(history) + 1) > len(history):  # the first ask of a search
            self._seen, self._seen_n = set(), 0
        self._seen.update(history.keys_from(self._seen_n))  # only the new ones
        self._seen_n = len(history)
        taken = self._seen | history.in_flight
        for i, child in enumerate(children):
            for _ in range(self.RETRIES):
                if self.space.key(child) not in taken:
                    break
                (child,) = toolbox.mutate(child)
            children[i] = child
            taken.add(self.space.key(child))

    def survivors(self, toolbox, population, evaluated, history):
        if population is None:
            return evaluated
        if self.is_steady():
            return steady_survivors(population, evaluated, self.space.key)
        elite = tools.selBest(population, self.elitism) if self.elitism else []
        rest = sorted(evaluated, key=lambda i: i.fitness, reverse=True)[:max(0, len(population) - len(elite))]
        return [toolbox.clone(e) for e in elite] + rest


GeneticAlgorithm = GA  # the name before methods had a folder of their own
