"""DEAP operators, one concern per module.

Every operator has DEAP's shape: it takes individuals (``list`` subclasses holding a genome) plus parameters bound
with ``toolbox.register`` and returns a tuple of individuals, modifying them in place and deleting their fitness
values. Each also sets ``individual.origin`` (``"random"``, ``"mutation"``, ``"crossover"``, ``"gpt"``, ...) so the
run archive can say where a candidate came from.
"""
from .classic import cx_classic, mut_classic

__all__ = ["cx_classic", "mut_classic"]
