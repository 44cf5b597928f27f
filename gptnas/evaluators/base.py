"""The evaluator interface: ``evaluate(arch) -> EvalResult``.

``fitness`` is what the search maximises (validation accuracy in %, or a proxy score); it must never be test
accuracy. ``extras`` carries what is only reported: test accuracy, params, FLOPs, cost, proxy scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Fitness given to a candidate that failed (exception, NaN, out of memory, time limit).
WORST_FITNESS = -math.inf


@dataclass(frozen=True)
class EvalResult:
    """Outcome of evaluating one architecture.

    Attributes:
        fitness: value the search maximises (e.g. validation accuracy in %); ``WORST_FITNESS`` if failed.
        extras: reported-only values, e.g. ``{"test": 93.1, "params_mb": 1.2, "cost_s": 0.4}``; ``test`` is the
            test accuracy in % (or absent).
        failed: ``None`` on success, else a one-line reason recorded in the archive.
    """

    fitness: float
    extras: dict = field(default_factory=dict)
    failed: str | None = None

    @property
    def test(self) -> float | None:
        t = self.extras.get("test")
        return None if t is None or (isinstance(t, float) and math.isnan(t)) else float(t)

    @classmethod
    def failure(cls, reason: str, **extras: Any) -> "EvalResult":
        return cls(WORST_FITNESS, dict(extras), reason.splitlines()[0] if reason else "failed")


class Evaluator:
    """Base class: subclasses implement :meth:`evaluate`. Instances must be picklable (they travel to workers)."""

    #: Short name recorded in run configs, e.g. ``"benchmark"`` or ``"proxy:synflow"``.
    name: str = "evaluator"
    #: Whether evaluating may draw from (or seed) the global random generators. The engine shields the search's
    #: generators around such evaluations; a table lookup says False and skips that cost.
    uses_global_rng: bool = True

    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        raise NotImplementedError

    def __call__(self, arch: Sequence[int]) -> EvalResult:
        return self.evaluate(arch)
