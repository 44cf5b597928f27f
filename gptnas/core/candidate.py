"""What ``toolbox.map`` carries to a worker: a genome with its parent (no DEAP, no numpy: a worker process
unpickles it before anything else)."""
from __future__ import annotations


class Candidate(list):
    """A genome on its way to an evaluator (what ``toolbox.map`` carries), with where it came from.

    ``parent`` is the canonical key of the evaluated individual it was bred from (``None`` for a fresh one);
    evaluators that inherit weights (:mod:`gptnas.evaluators.inherit`) use it, the others see a plain list.
    """

    def __init__(self, genome=(), parent: str | None = None):
        super().__init__(genome)
        self.parent = parent
