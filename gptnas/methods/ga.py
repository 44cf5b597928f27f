"""DEAP's ``eaSimple`` with elitism: tournament selection, crossover with probability ``cxpb``, mutation with
probability ``mutpb``, the best ``elitism`` individuals carried over."""
from __future__ import annotations

from dataclasses import dataclass

from deap import tools

from ..errors import ConfigError
from .base import POPULATION, Method, check_int, check_probability


@dataclass
class GA(Method):
    """Args: population (20), tournament size (3), cxpb (0.9) and mutpb (0.3), the GPT-NAS paper's GA, and
    elitism (1: the best individual survives unchanged)."""

    name = "ga"
    flags = (POPULATION,)
    population: int = 20
    tournament: int = 3
    cxpb: float = 0.9
    mutpb: float = 0.3
    elitism: int = 1

    def validate(self) -> None:
        check_int(self.name, "population", self.population)
        check_int(self.name, "tournament", self.tournament)
        check_int(self.name, "elitism", self.elitism, minimum=0)
        check_probability(self.name, "cxpb", self.cxpb)
        check_probability(self.name, "mutpb", self.mutpb)
        if self.elitism >= self.population:
            raise ConfigError(f"{self.name} option elitism ({self.elitism}) must be smaller than the population "
                              f"({self.population})")

    def register(self, toolbox) -> None:
        super().register(toolbox)
        toolbox.register("select", tools.selTournament, tournsize=self.tournament)

    def offspring(self, toolbox, population, history):
        parents = toolbox.select(population, len(population))
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
        return children

    def survivors(self, toolbox, population, evaluated, history):
        if population is None:
            return evaluated
        elite = tools.selBest(population, self.elitism) if self.elitism else []
        rest = sorted(evaluated, key=lambda i: i.fitness, reverse=True)[:max(0, len(population) - len(elite))]
        return [toolbox.clone(e) for e in elite] + rest


GeneticAlgorithm = GA  # the name before methods had a folder of their own
