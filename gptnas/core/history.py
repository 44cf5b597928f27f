"""The search so far, as methods and learners may read it.

A :class:`History` holds, per unique evaluation in order: the architecture's key and genome, its fitness, whether
it failed, the generation that evaluated it and the operator that made it. Nothing else: no test accuracy, no
value an evaluator recorded for reporting only (a proxy run's ``bench_val``), no timings. The engine appends to it
as results arrive and hands it to every method and learner hook; the run archive, which does hold test accuracy
for the reports, is never handed to them. Its own columns are separate lists, so no attribute leads from a
History to the archive.

Trajectory exports and learners (GPT fine-tuning, design principles, rankers) are built from this view only.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, NamedTuple, Optional, Sequence


class Evaluation(NamedTuple):
    """One evaluated architecture as a method sees it."""

    key: str             #: canonical key of the architecture
    genome: list         #: the genome, as the space parses the key (so equal keys give equal genomes)
    fitness: float       #: what the search maximises; -inf when the evaluation failed
    failed: bool
    generation: int      #: generation that evaluated it (0 = the initial population)
    origin: str          #: operator that produced it: random, mutation, crossover, gpt, ...


class History:
    """Read-only (to methods) record of the unique evaluations of a search.

    Args:
        parse: ``key -> genome`` (the space's ``parse``); genomes are parsed on first access.
        budget: the search's budget of unique evaluations (for :attr:`progress`).
    """

    __slots__ = ("_keys", "_fitness", "_failed", "_generation", "_origin", "_genomes", "_parse", "budget",
                 "generation", "running", "_best", "in_flight")

    def __init__(self, parse: Callable[[str], list], budget: Optional[int] = None):
        self._keys: list[str] = []
        self._fitness: list[float] = []
        self._failed: list[bool] = []
        self._generation: list[int] = []
        self._origin: list[str] = []
        self._genomes: dict[int, list] = {}
        self._parse = parse
        self._best: Optional[int] = None
        self.budget = budget
        self.generation = 0      #: the generation being formed or just finished
        self.running = True      #: False once the search has stopped (budget spent, stalled, ...)
        #: keys proposed and being evaluated on other workers, whose results the method has not been told yet
        self.in_flight: set = set()

    # Written by the engine ----------------------------------------------------------------------------------------
    def attach(self, parse: Callable[[str], list], budget: Optional[int]) -> None:
        """Set the space's ``parse`` and the budget (the engine's call when a search starts or resumes)."""
        self._parse, self.budget = parse, budget
        self._genomes.clear()

    def append(self, key: str, fitness: float, failed: bool, generation: int, origin: str) -> None:
        """Record one new evaluation (the engine's call; methods never need it)."""
        fitness = float(fitness)
        failed = bool(failed) or not math.isfinite(fitness)  # NaN / inf never count as a result (evaluators/base.py)
        self._keys.append(key)
        self._fitness.append(fitness)
        self._failed.append(failed)
        self._generation.append(int(generation))
        self._origin.append(origin or "")
        i = len(self._keys) - 1
        if not failed and (self._best is None or self._fitness[i] > self._fitness[self._best]):
            self._best = i

    # Read by methods and learners ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i: int) -> Evaluation:
        if i < 0:
            i += len(self._keys)
        return Evaluation(self._keys[i], self.genome(i), self._fitness[i], self._failed[i], self._generation[i],
                          self._origin[i])

    def __iter__(self) -> Iterator[Evaluation]:
        return (self[i] for i in range(len(self._keys)))

    @property
    def evaluations(self) -> int:
        """Unique architectures evaluated so far (what the budget counts)."""
        return len(self._keys)

    @property
    def progress(self) -> float:
        """Share of the budget used, 0..1 (0 without a budget)."""
        return min(1.0, len(self._keys) / self.budget) if self.budget else 0.0

    def genome(self, i: int) -> list:
        g = self._genomes.get(i)
        if g is None:
            g = self._genomes[i] = list(self._parse(self._keys[i]))
        return list(g)

    def keys(self) -> list[str]:
        return list(self._keys)

    def keys_from(self, start: int) -> list[str]:
        """Keys of the evaluations from number ``start`` on (what a method has not seen yet), without copying all."""
        return self._keys[start:]

    def proposed(self) -> set[str]:
        """Keys evaluated or still in flight: what a method proposing unseen architectures must avoid."""
        return set(self._keys) | self.in_flight

    def fitnesses(self) -> list[float]:
        """Fitness per evaluation, in order (-inf for failures)."""
        return list(self._fitness)

    def failed(self) -> list[bool]:
        return list(self._failed)

    def origins(self) -> list[str]:
        return list(self._origin)

    def generations(self) -> list[int]:
        return list(self._generation)

    def best(self) -> Optional[Evaluation]:
        """The best successful evaluation (the first one on ties), or None."""
        return None if self._best is None else self[self._best]

    def top(self, n: int) -> list[Evaluation]:
        """The ``n`` best evaluations by fitness, best first; ties keep evaluation order; failures last.

        The same order as sorting the archive rows by ``-fitness`` (a stable sort), which the GPT's fine-tuning set
        has always used.
        """
        fit, failed = self._fitness, self._failed
        order = sorted(range(len(self._keys)), key=lambda i: (failed[i], -fit[i]))[:n]
        return [self[i] for i in order]

    def successful(self) -> list[Evaluation]:
        """Every evaluation that did not fail, in order."""
        return [self[i] for i in range(len(self._keys)) if not self._failed[i]]

    def scored(self) -> list[tuple[list, float]]:
        """``(genome, fitness)`` of every successful evaluation with a finite fitness, in order."""
        return [(self.genome(i), f) for i, f in enumerate(self._fitness)
                if not self._failed[i] and math.isfinite(f)]

    def __repr__(self) -> str:
        best = self.best()
        return f"History({len(self)} evaluations, best {best.fitness if best else None})"

    # Pickling: a history travels (e.g. to a worker) as its columns; the parse function must pickle too.
    def __getstate__(self):
        return {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)


def history_from(items: Sequence[tuple[str, float]], parse: Callable[[str], list], origin: str = "table") -> History:
    """A History of ``(key, fitness)`` pairs (e.g. a source task's table), all in generation 0."""
    h = History(parse)
    for key, fit in items:
        h.append(key, fit, not math.isfinite(fit), 0, origin)
    return h
