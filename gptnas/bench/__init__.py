"""Tabular benchmarks: a compact HDF5 table of NAS-Bench-201 (:class:`BenchTable`), importers of the official
releases (:func:`import_release`, :func:`open_table`) and the ``python -m gptnas.bench`` command."""
from .importers import DATA_ENV, default_cache_dir, discover, import_csv, import_json_tables, import_nats, import_release, \
    merge_tables, open_table, read_nats_meta, resolve_benchmark_path
from .table import DATASETS, BenchTable, canonical_dataset

from .tnb101 import TASKS as TNB101_TASKS, TNB101Table

#: The benchmark tables gptnas reads, per search space: the datasets (or tasks) each holds (``--fitness benchmark``).
BENCHMARK_DATASETS = {"nb201": DATASETS, "tnb101": TNB101_TASKS}
#: What the fitness of each space's table is, and whether the table has a test split to report.
BENCHMARK_FITNESS = {"nb201": ("validation accuracy (%)", True), "tnb101": ("validation {metric}", False)}


def fitness_name(space: str, dataset: str) -> str:
    """How a benchmark's fitness reads: ``validation accuracy (%)``, or for TransNAS-Bench-101's room_layout
    ``validation negative L2 loss``."""
    if space == "tnb101":
        from .tnb101 import METRIC
        return f"validation {METRIC.get(dataset, 'value')}"
    return BENCHMARK_FITNESS.get(space, ("validation accuracy (%)", True))[0]


def scored_table(space: str, data, dataset: str) -> list[tuple[list[int], float]]:
    """Every ``(genome, validation value)`` of ``dataset`` in the benchmark table of ``space`` (data from ``--data``
    / ``$GPTNAS_DATA``): the source tasks of transfer."""
    import numpy as np
    if space == "tnb101":
        return TNB101Table.load(resolve_benchmark_path(data, space)).scored(dataset)
    table = open_table(resolve_benchmark_path(data, space))
    if dataset not in table.datasets:
        from ..errors import ConfigError
        raise ConfigError(f"{dataset}: not a dataset of the benchmark table (it has {', '.join(table.datasets)})")
    val = np.asarray(table.column(dataset, "val_acc"), dtype=float)
    ops = table.index_map.ops
    return [(list(ops(i)), float(val[i])) for i in np.flatnonzero(~np.isnan(val))]

__all__ = ["BENCHMARK_DATASETS", "BENCHMARK_FITNESS", "TNB101Table", "fitness_name", "scored_table", "DATA_ENV", "BenchTable", "resolve_benchmark_path", "DATASETS", "canonical_dataset", "default_cache_dir", "discover", "import_csv",
           "import_json_tables", "import_nats", "import_release", "merge_tables", "open_table", "read_nats_meta"]
