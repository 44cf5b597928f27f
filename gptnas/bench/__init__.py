"""Tabular benchmarks: a compact HDF5 table of NAS-Bench-201 (:class:`BenchTable`), importers of the official
releases (:func:`import_release`, :func:`open_table`) and the ``python -m gptnas.bench`` command."""
from .importers import DATA_ENV, default_cache_dir, discover, import_csv, import_json_tables, import_nats, import_release, \
    merge_tables, open_table, read_nats_meta, resolve_benchmark_path
from .table import DATASETS, BenchTable, canonical_dataset

#: The benchmark tables gptnas reads, per search space: the datasets (or tasks) each holds (``--fitness benchmark``).
BENCHMARK_DATASETS = {"nb201": DATASETS}

__all__ = ["BENCHMARK_DATASETS", "DATA_ENV", "BenchTable", "resolve_benchmark_path", "DATASETS", "canonical_dataset", "default_cache_dir", "discover", "import_csv",
           "import_json_tables", "import_nats", "import_release", "merge_tables", "open_table", "read_nats_meta"]
