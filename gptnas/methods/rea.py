"""Regularised evolution (Real et al. 2019): a population of P kept in age order; each child is a mutation of the
best of S individuals sampled from it; the oldest dies."""
from __future__ import annotations

from dataclasses import dataclass

from deap import tools

from .base import POPULATION, SAMPLE, Method, check_int


@dataclass
class REA(Method):
    """Args: population: P (10, as in the NAS-Bench-201 reference); sample: the tournament S (5);
    batch: children per generation (1 = the sequential original)."""

    name = "rea"
    steady_state = True  # asked for a child whenever a worker is free
    flags = (POPULATION, SAMPLE)
    population: int = 10
    sample: int = 5
    batch: int = 1

    def validate(self) -> None:
        for option in ("population", "sample", "batch"):
            check_int(self.name, option, getattr(self, option))

    def register(self, toolbox) -> None:
        super().register(toolbox)
        toolbox.register("select", tools.selBest)

    def offspring(self, toolbox, population, history):
        children = []
        rng, key, k = self.rngs.py, self.space.key, min(self.sample, len(population))
        for _ in range(self.batch):
            parent = toolbox.select(rng.sample(population, k), 1)[0]
            child = toolbox.clone(parent)
            child.parent_key = key(parent)  # for weight inheritance
            children.extend(toolbox.mutate(child))
        return children

    def survivors(self, toolbox, population, evaluated, history):
        if population is None:
            return evaluated
        pop = population + evaluated  # a new list; its order is age order: the oldest first
        del pop[:len(pop) - self.population]
        return pop


RegularizedEvolution = REA  # the name before methods had a folder of their own
