"""Fitness from a tabular benchmark: one array look-up per architecture, no training, no file I/O."""
from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from ..encodings import nb201 as enc
from ..errors import ConfigError, DataError
from .base import EvalResult, Evaluator

log = logging.getLogger(__name__)

#: Reported-only columns copied into ``extras`` when the table has them (``test`` is ``test_acc``).
EXTRA_METRICS = ("params_mb", "flops_m", "train_time_s", "latency_ms")


class TabularEvaluator(Evaluator):
    """``evaluate(ops) -> EvalResult(fitness=val_acc, extras={"test": test_acc, "params_mb": ..., ...})``.

    Fitness is the validation accuracy (%) only; test accuracy goes to ``extras["test"]``, never to fitness.
    At construction the needed columns are copied out of the table into one small float64 matrix of shape
    ``(n_columns, 15625)`` indexed by the op list's base-5 code, so the evaluator pickles in well under 1 MB and
    a call costs one index computation and one column read.

    Args:
        table: a :class:`~gptnas.bench.BenchTable`, or a path that :func:`~gptnas.bench.open_table` accepts.
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16-120`` (must be in the table).

    Raises:
        ConfigError: the table has no such dataset (the message lists the ones it has), or no ``val_acc``.
        DataError (from :meth:`evaluate`): the architecture is missing from a partial table.
    """

    name = "benchmark"
    uses_global_rng = False  # a table lookup

    def __init__(self, table, dataset: str):
        from ..bench.table import BenchTable, canonical_dataset

        if not isinstance(table, BenchTable):
            from ..bench.importers import open_table
            table = open_table(table)
        ds = canonical_dataset(dataset)
        if ds not in table.datasets:
            raise ConfigError(f"dataset {dataset!r} is not in benchmark table {table.name}: "
                              f"it has {', '.join(table.datasets) or 'none'}")
        if "val_acc" not in table.own_metrics(ds):
            raise ConfigError(f"benchmark table {table.name} has no val_acc for {ds}: "
                              "import the nb201_<dataset>.json tables or the NATS-Bench release")
        self.dataset = ds
        self.table_name = table.name
        self.num_present = table.num_present(ds)
        self._keys = ["val", "test"] + [m for m in EXTRA_METRICS if m in table.metrics(ds)]
        cols = ["val_acc", "test_acc" if "test_acc" in table.metrics(ds) else None] + self._keys[2:]
        code_to_index = table.code_to_index
        self._by_code = np.full((len(self._keys), enc.NUM_ARCHS), np.nan)
        for row, m in enumerate(cols):
            if m is not None:
                self._by_code[row] = table.column(ds, m)[code_to_index]
        self._present = table.present_mask(ds)[code_to_index] & ~np.isnan(self._by_code[0])
        if self.num_present < enc.NUM_ARCHS:
            log.warning("benchmark table %s holds %d of %d architectures for %s; evaluating a missing one "
                        "raises DataError", table.name, self.num_present, enc.NUM_ARCHS, ds)

    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        code = enc.ops_to_int(arch)
        if not self._present[code]:
            raise DataError(
                f"architecture {enc.ops_to_string(arch)} has no validation accuracy in table {self.table_name} "
                f"for {self.dataset} (it holds {self.num_present:,} of {enc.NUM_ARCHS:,} architectures); "
                "import the full release")
        values = self._by_code[:, code].tolist()
        extras = {k: v for k, v in zip(self._keys[1:], values[1:]) if not math.isnan(v)}
        return EvalResult(fitness=values[0], extras=extras)

    def table_fitness(self) -> np.ndarray:
        """The fitness (validation accuracy, %) of every architecture the table holds: float64 (N,)."""
        return self._by_code[0][self._present]

    def __repr__(self) -> str:
        return f"TabularEvaluator({self.table_name!r}, {self.dataset!r})"


class TNB101Evaluator(Evaluator):
    """TransNAS-Bench-101 micro: ``evaluate(ops) -> EvalResult(fitness=the task's validation value)``.

    The table has one number per task and cell, from the validation split, so nothing is reported as test
    accuracy (``EvalResult.test`` is None). ``room_layout``'s number is a negative L2 loss (higher is better).

    Args:
        table: a :class:`~gptnas.bench.tnb101.TNB101Table`, or a path :meth:`TNB101Table.load` accepts.
        task: ``class_scene``, ``class_object``, ``jigsaw`` or ``room_layout``.
    """

    name = "benchmark"
    uses_global_rng = False  # a table lookup

    def __init__(self, table, task: str):
        from ..bench.tnb101 import TNB101Table
        if not isinstance(table, TNB101Table):
            table = TNB101Table.load(table)
        self.task, self.table_name = task, table.name
        self._values = np.array(table.column(task))

    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        from ..encodings import tnb101
        v = self._values[tnb101.ops_to_int(arch)]
        if math.isnan(v):
            raise DataError(f"cell {tnb101.ops_to_tuple_string(arch)} has no {self.task} value in {self.table_name}")
        return EvalResult(float(v))

    def table_fitness(self) -> np.ndarray:
        """The fitness (the task's validation value) of every cell the table holds: float64 (N,)."""
        return self._values[~np.isnan(self._values)].astype(float)

    def __repr__(self) -> str:
        return f"TNB101Evaluator({self.table_name!r}, {self.task!r})"
