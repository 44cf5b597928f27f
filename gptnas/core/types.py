"""DEAP ``creator`` types, defined once at import time so individuals pickle into worker processes.

The names are prefixed so they never collide with a user's own ``creator.FitnessMax`` / ``creator.Individual``.
An individual is a ``list`` of ints (the genome, see :mod:`gptnas.spaces.base`) with a single-objective maximising
fitness and an ``origin`` tag saying which operator produced it.
"""
from deap import base, creator

if not hasattr(creator, "GptnasFitness"):
    creator.create("GptnasFitness", base.Fitness, weights=(1.0,))
if not hasattr(creator, "GptnasIndividual"):
    creator.create("GptnasIndividual", list, fitness=creator.GptnasFitness, origin="random")

Fitness = creator.GptnasFitness
Individual = creator.GptnasIndividual


def make_individual(genome, origin: str = "random", fitness: float | None = None):
    """A new :data:`Individual` holding a copy of ``genome``."""
    ind = Individual(list(genome))
    ind.origin = origin
    if fitness is not None:
        ind.fitness.values = (float(fitness),)
    return ind


class Candidate(list):
    """A genome on its way to an evaluator (what ``toolbox.map`` carries), with where it came from.

    ``parent`` is the canonical key of the evaluated individual it was bred from (``None`` for a fresh one);
    evaluators that inherit weights (:mod:`gptnas.evaluators.inherit`) use it, the others see a plain list.
    """

    def __init__(self, genome=(), parent: str | None = None):
        super().__init__(genome)
        self.parent = parent
