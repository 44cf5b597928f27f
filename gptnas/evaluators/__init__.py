"""Fitness: tabular look-ups, zero-cost proxies, training. Evaluators are reached only through ``toolbox.evaluate``."""
from .base import WORST_FITNESS, EvalResult, Evaluator, as_result

__all__ = ["WORST_FITNESS", "EvalResult", "Evaluator", "as_result"]
