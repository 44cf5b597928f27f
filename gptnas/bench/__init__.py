"""Tabular benchmarks: a compact HDF5 table of NAS-Bench-201 (:class:`BenchTable`), importers of the official
releases (:func:`import_release`, :func:`open_table`) and the ``python -m gptnas.bench`` command."""
from .importers import default_cache_dir, discover, import_csv, import_json_tables, import_nats, import_release, \
    merge_tables, open_table, read_nats_meta
from .table import DATASETS, BenchTable, canonical_dataset

__all__ = ["BenchTable", "DATASETS", "canonical_dataset", "default_cache_dir", "discover", "import_csv",
           "import_json_tables", "import_nats", "import_release", "merge_tables", "open_table", "read_nats_meta"]
