"""Random search: ``batch`` new random architectures per generation (the baseline every method must beat)."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Method, check_int


@dataclass
class RandomSearch(Method):
    """Args: batch: architectures drawn per generation (10)."""

    name = "random"
    steady_state = True  # asked for a child whenever a worker is free
    reads_results = False  # no result changes what it draws next
    batch: int = 10

    def validate(self) -> None:
        check_int(self.name, "batch", self.batch)

    def initial(self, toolbox, history):
        return toolbox.population(n=self.batch)

    def offspring(self, toolbox, population, history):
        return toolbox.population(n=self.batch)

    def survivors(self, toolbox, population, evaluated, history):
        return evaluated
