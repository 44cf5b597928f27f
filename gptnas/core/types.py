"""DEAP ``creator`` types, defined once at import time so individuals pickle into worker processes.

The names are prefixed so they never collide with a user's own ``creator.FitnessMax`` / ``creator.Individual``.
An individual is a ``list`` of ints (the genome, see :mod:`gptnas.spaces.base`) with a single-objective maximising
fitness and an ``origin`` tag saying which operator produced it.
"""
import copy

from deap import base, creator

if not hasattr(creator, "GptnasFitness"):
    creator.create("GptnasFitness", base.Fitness, weights=(1.0,))
if not hasattr(creator, "GptnasIndividual"):
    creator.create("GptnasIndividual", list, fitness=creator.GptnasFitness, origin="random")

Fitness = creator.GptnasFitness
Individual = creator.GptnasIndividual


_SHARED = frozenset({str, int, float, bool, tuple, type(None)})  # immutable tags: shared, not copied


def _copy_individual(self, memo):
    """``copy.deepcopy`` (DEAP's ``toolbox.clone``) of an individual: the genome, the fitness and the tags, without
    the generic deepcopy's reflection — the search clones a parent for every child."""
    new = list.__new__(Individual)
    flat = not self or type(self[0]) is int  # genomes are lists of ints (spaces/base.py): a shallow copy is deep
    new.extend(self if flat else copy.deepcopy(list(self), memo))
    d = new.__dict__
    for k, v in self.__dict__.items():
        if k != "fitness":
            d[k] = v if type(v) in _SHARED else copy.deepcopy(v, memo)
    fitness = d["fitness"] = Fitness.__new__(Fitness)  # Fitness() with no values, without its checks
    fitness.wvalues = self.fitness.wvalues  # a tuple of floats: shared safely
    return new


Individual.__deepcopy__ = _copy_individual


def clone(ind):
    """``toolbox.clone``: a deep copy (the fast path for :data:`Individual`)."""
    return _copy_individual(ind, {}) if type(ind) is Individual else copy.deepcopy(ind)


def make_individual(genome, origin: str = "random", fitness: float | None = None):
    """A new :data:`Individual` holding a copy of ``genome``."""
    ind = Individual(list(genome))
    ind.origin = origin
    if fitness is not None:
        ind.fitness.values = (float(fitness),)
    return ind


from .candidate import Candidate  # noqa: E402,F401 - its home is deap-free: a worker process unpickles it
