"""Classic (model-free) variation: the space's own mutation and crossover, wrapped as DEAP operators."""
from __future__ import annotations

import random

from ..spaces.base import SearchSpace


def mut_classic(individual, space: SearchSpace, rng: random.Random):
    """Mutate ``individual`` in place with ``space.mutate`` (NB201: one edge gets another op).

    Returns ``(individual,)`` with its fitness invalidated, as DEAP mutations do.
    """
    individual[:] = space.mutate(individual, rng)  # spaces return a new list
    individual.fitness.wvalues = ()  # what `del fitness.values` does
    individual.origin = "mutation"
    return (individual,)


def cx_classic(ind1, ind2, space: SearchSpace, rng: random.Random):
    """Cross two individuals in place with ``space.crossover`` (default: one-point); returns ``(ind1, ind2)``."""
    c1, c2 = space.crossover(list(ind1), list(ind2), rng)
    ind1[:], ind2[:] = c1, c2
    del ind1.fitness.values, ind2.fitness.values
    ind1.origin = ind2.origin = "crossover"
    return ind1, ind2
