"""The evaluator interface: ``evaluate(arch) -> EvalResult``.

``fitness`` is what the search maximises (validation accuracy in %, or a proxy score); it must never be test
accuracy. ``extras`` carries what is only reported: test accuracy, params, FLOPs, cost, proxy scores.

What an evaluate function may return (:func:`as_result` reads it): a number, a one-element tuple or list (DEAP's
``(fitness,)``), a one-element NumPy array, or an :class:`EvalResult`. A fitness that is not a finite number —
NaN (what a diverged training run gives), +inf or -inf — is a **failed evaluation**: it never becomes the best, is
never learned from, and counts towards ``search.max_failed_share``. Several values (``(accuracy, latency)``) are
refused with one line until multi-objective search is supported; put what is only reported in ``extras``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import ConfigTypeError

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


def _number(v) -> float | None:
    """``v`` as a float when it is a real number (bools and NumPy scalars included), else None."""
    if isinstance(v, numbers.Real):
        return float(v)
    item = getattr(v, "item", None)  # a NumPy or torch scalar
    if item is not None and getattr(v, "ndim", 1) == 0:
        x = item()
        return float(x) if isinstance(x, numbers.Real) else None
    return None


def as_result(value) -> EvalResult:
    """The :class:`EvalResult` of what an evaluate function returned (see the module docstring).

    A non-finite fitness becomes a failure naming the value; a value of the wrong type becomes a failure naming
    what is accepted; several values raise :class:`~gptnas.errors.ConfigTypeError` (one line: the search cannot
    use them yet, and silently keeping the first would be wrong).
    """
    if isinstance(value, EvalResult):
        if not value.failed and not _finite(value.fitness):
            return EvalResult.failure(_non_finite(value.fitness), **value.extras)
        t = value.extras.get("test") if isinstance(value.extras, dict) else None
        if t is not None and _number(t) is None:
            return EvalResult.failure(f"extras['test'] is {type(t).__name__} {str(t)[:40]!r}: it must be the test "
                                      "accuracy, a number (leave it out when there is none)")
        return value
    x = value
    if isinstance(value, (tuple, list)) or (hasattr(value, "shape") and getattr(value, "ndim", 0) >= 1):
        n = len(value) if isinstance(value, (tuple, list)) else \
            int(value.numel() if hasattr(value, "numel") else value.size)  # torch / NumPy
        if n > 1:
            shown = ", ".join(repr(v) for v in list(value)[:4]) + (", ..." if n > 4 else "")
            raise ConfigTypeError(f"evaluate returned {n} values ({shown}): several objectives are not supported yet "
                                  "(multi-objective search is coming); return one number, the fitness, or "
                                  "gptnas.evaluators.EvalResult(fitness, extras={...}) to record the others")
        if n == 0:
            return EvalResult.failure("evaluate returned an empty sequence: return a number, (fitness,) or an "
                                      "EvalResult")
        x = value[0] if isinstance(value, (tuple, list)) else value.reshape(-1)[0]
    f = _number(x)
    if f is None:
        return EvalResult.failure(f"evaluate returned {type(x).__name__} {str(x)[:40]!r}: return a number, "
                                  "(fitness,) or an EvalResult")
    if not math.isfinite(f):
        return EvalResult.failure(_non_finite(f))
    return EvalResult(f)


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except TypeError:
        return False


def _non_finite(v) -> str:
    return f"fitness {v!r} is not a finite number (a diverged training run gives nan): recorded as a failed evaluation"
