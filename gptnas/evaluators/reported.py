"""Report a benchmark table's accuracies beside another fitness: a proxy-driven search on NAS-Bench-201 shows what
its architectures really reach after 200 epochs, without the search ever seeing it.

>>> ev = WithBenchmarkReport(ProxyEvaluator(NB201Space(), "synflow"), TabularEvaluator(table, "cifar10"))
>>> r = ev.evaluate(ops); r.fitness, r.extras["test"], r.extras["bench_val"]   # synflow score, test %, val %
"""
from __future__ import annotations

from typing import Sequence

from .base import EvalResult, Evaluator


class WithBenchmarkReport(Evaluator):
    """``inner``'s fitness, with the table's test accuracy (%) as ``extras["test"]`` and its validation accuracy (%)
    as ``extras["bench_val"]``. Only for an ``inner`` that reports no test accuracy of its own (proxies): a trained
    network's own test accuracy is never replaced. Fitness is ``inner``'s alone."""

    def __init__(self, inner: Evaluator, table: Evaluator):
        self.inner, self.table = inner, table
        self.name = inner.name

    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        r = self.inner.evaluate(arch)
        t = self.table.evaluate(arch)
        extras = {**r.extras, "bench_val": t.fitness}
        if t.test is not None and r.test is None:
            extras["test"] = t.test
        return EvalResult(r.fitness, extras, r.failed)

    def __repr__(self) -> str:
        return f"WithBenchmarkReport({self.inner!r}, {self.table!r})"
