"""A compact tabular benchmark of the NAS-Bench-201 space, stored as one small HDF5 file.

Layout of the file (all arrays have length 15,625 and are indexed by the *official* benchmark index)::

    /                       attrs: format="gptnas.bench.table", format_version, space="nb201", num_archs,
                                   source, source_version, source_paths (JSON list), index_source,
                                   created_by, created_at
    /arch_str               (15625,) utf-8 strings, official index order (this also yields the IndexMap)
    /datasets/<dataset>/<metric>   float64 (15625,), attr ``unit``; NaN where the source lacks the arch
    /shared/<metric>        float64 (15625,): dataset-independent columns (e.g. per-device latencies ``lat_*``)

``<dataset>`` is one of ``cifar10``, ``cifar100``, ``imagenet16-120``. Every dataset the importers write has at
least ``val_acc`` and ``test_acc`` (%, 200 epochs) when the source has them; see :mod:`gptnas.bench.importers`
for the other metrics and their exact provenance. Shared columns are listed by :meth:`BenchTable.metrics` for every
dataset.

The whole table is read into memory at once (a few MB); a query is one dense-array lookup from the op list's
base-5 code to the official index, then one column read, so it costs O(1) and does no file I/O.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .. import __version__
from ..encodings import nb201 as enc
from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

FORMAT = "gptnas.bench.table"
FORMAT_VERSION = 1
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
_ALIASES = {"imagenet": "imagenet16-120", "imagenet16": "imagenet16-120", "imagenet16-120": "imagenet16-120",
            "cifar10": "cifar10", "cifar100": "cifar100"}

#: Unit of each known metric name (written as an HDF5 attribute, shown by ``info``).
UNITS = {
    "val_acc": "%", "test_acc": "%", "val_acc_12ep": "%", "test_acc_12ep": "%",
    "ctpe_acc_seedmean": "%", "naslib_acc_seed888": "%",
    "params_mb": "MB", "flops_m": "MFLOPs", "train_time_s": "s", "latency_ms": "ms",
}


def unit_of(metric: str) -> str:
    """Unit of a metric name (``lat_*`` columns are milliseconds)."""
    if metric.startswith("lat_"):
        return "ms"
    return UNITS.get(metric, "")


def canonical_dataset(name: str) -> str:
    """``"ImageNet16-120"`` / ``"imagenet"`` → ``"imagenet16-120"``; unknown names are returned lower-cased."""
    key = str(name).strip().lower()
    return _ALIASES.get(key, key)


def _recreate_hint(path) -> str:
    return (f"re-create it with `python -m gptnas.bench import nb201 --from <release folder> --out {path} --force`")


class BenchTable:
    """An in-memory NAS-Bench-201 table: per dataset, float64 columns of length 15,625 in official index order.

    Args:
        arch_strings: the 15,625 official strings in official index order.
        columns: ``{dataset: {metric: array (15625,)}}``; NaN marks an architecture the source lacks.
        shared: ``{metric: array (15625,)}`` of dataset-independent columns.
        attrs: metadata (``source``, ``source_version``, ``source_paths``, ...); written to the file.
        name: how errors refer to this table (the file path once loaded or saved).
    """

    def __init__(self, arch_strings: Sequence[str], columns: Mapping[str, Mapping[str, np.ndarray]],
                 shared: Mapping[str, np.ndarray] | None = None, attrs: Mapping | None = None,
                 name: str | None = None):
        self.arch_strings = [str(s) for s in arch_strings]
        codes = _codes_of(self.arch_strings)
        # Dense code -> official index array: the O(1) lookup used by every query.
        self._code_to_index = np.empty(enc.NUM_ARCHS, dtype=np.int32)
        self._code_to_index[codes] = np.arange(enc.NUM_ARCHS, dtype=np.int32)
        self._index_map: enc.IndexMap | None = None
        self.attrs = dict(attrs or {})
        self.name = name or str(self.attrs.get("source", "<in-memory table>"))
        self._shared = {m: _as_column(a, f"shared/{m}") for m, a in (shared or {}).items()}
        self._cols: dict[str, dict[str, np.ndarray]] = {}
        for ds, cols in columns.items():
            dsn = canonical_dataset(ds)
            self._cols[dsn] = {m: _as_column(a, f"{dsn}/{m}") for m, a in cols.items()}
        self._prepare()

    # ------------------------------------------------------------------ derived, per dataset
    def _prepare(self) -> None:
        """Per dataset: the metric names and the presence mask (the row matrix for :meth:`query` is lazy)."""
        self._names: dict[str, list[str]] = {}
        self._matrix: dict[str, np.ndarray] = {}
        self._present: dict[str, np.ndarray] = {}
        for ds, cols in self._cols.items():
            self._names[ds] = list(cols) + [m for m in self._shared if m not in cols]
            own = [cols[m] for m in ("val_acc", "test_acc") if m in cols] or list(cols.values())
            # An arch is "in" the table for a dataset when any of its accuracy columns is a number.
            self._present[ds] = (np.any(~np.isnan(np.vstack(own)), axis=0) if own
                                 else np.zeros(enc.NUM_ARCHS, dtype=bool))

    def _rows(self, ds: str) -> np.ndarray:
        """(n_metrics, 15625) copy of all columns of ``ds``: one fancy read per :meth:`query`. Built on first
        use only, since it duplicates the shared columns once per dataset (~4.6 MB each for the full table)."""
        m = self._matrix.get(ds)
        if m is None:
            cols = self._cols[ds]
            arrays = [cols[n] if n in cols else self._shared[n] for n in self._names[ds]]
            m = self._matrix[ds] = np.vstack(arrays) if arrays else np.empty((0, enc.NUM_ARCHS))
        return m

    # ------------------------------------------------------------------ introspection
    @property
    def datasets(self) -> list[str]:
        """Datasets the table has, e.g. ``["cifar10", "cifar100", "imagenet16-120"]``."""
        return list(self._cols)

    def metrics(self, dataset: str) -> list[str]:
        """Metric names available for ``dataset`` (its own columns, then the shared ones)."""
        return list(self._names[self._ds(dataset)])

    def own_metrics(self, dataset: str) -> list[str]:
        """Metric names stored for ``dataset`` itself (without the shared columns)."""
        return list(self._cols[self._ds(dataset)])

    @property
    def shared_metrics(self) -> list[str]:
        """Dataset-independent metric names (e.g. ``lat_*``)."""
        return list(self._shared)

    def shared_column(self, metric: str) -> np.ndarray:
        """Read-only array (15625,) of a dataset-independent metric."""
        if metric not in self._shared:
            raise ConfigError(f"table {self.name} has no shared metric {metric!r}: "
                              f"it has {', '.join(self._shared) or 'none'}")
        view = self._shared[metric].view()
        view.flags.writeable = False
        return view

    @property
    def index_map(self) -> enc.IndexMap:
        """Official index ↔ op list, built from ``arch_str`` (lazily: most runs only need :meth:`index_of`)."""
        if self._index_map is None:
            self._index_map = enc.IndexMap(self.arch_strings)
        return self._index_map

    @property
    def code_to_index(self) -> np.ndarray:
        """Read-only int32 array (15625,): base-5 code (:func:`~gptnas.encodings.nb201.ops_to_int`) → index."""
        view = self._code_to_index.view()
        view.flags.writeable = False
        return view

    def index_of(self, arch) -> int:
        """Official index of an op list (or of any string :func:`~gptnas.encodings.nb201.parse_any` reads)."""
        if isinstance(arch, str):
            arch = enc.parse_any(arch)
        return int(self._code_to_index[enc.ops_to_int(arch)])

    def num_present(self, dataset: str) -> int:
        """How many of the 15,625 architectures have numbers for ``dataset``."""
        return int(self._present[self._ds(dataset)].sum())

    def present_mask(self, dataset: str) -> np.ndarray:
        """Boolean array (15625,) by official index: True where the arch has numbers for ``dataset``."""
        return self._present[self._ds(dataset)].copy()

    def has(self, dataset: str, arch) -> bool:
        """Whether ``arch`` (op list) has numbers for ``dataset``."""
        return bool(self._present[self._ds(dataset)][self.index_of(arch)])

    # ------------------------------------------------------------------ data access
    def column(self, dataset: str, metric: str) -> np.ndarray:
        """Read-only float64 array (15625,) of ``metric`` for ``dataset`` by official index (NaN = missing)."""
        ds = self._ds(dataset)
        if metric in self._cols[ds]:
            arr = self._cols[ds][metric]
        elif metric in self._shared:
            arr = self._shared[metric]
        else:
            raise ConfigError(f"table {self.name} has no metric {metric!r} for {ds}: "
                              f"it has {', '.join(self._names[ds])}")
        view = arr.view()
        view.flags.writeable = False
        return view

    def query(self, dataset: str, arch) -> dict[str, float]:
        """All metrics of one architecture (op list), e.g. ``{"val_acc": 91.6, "test_acc": 94.4, ...}``.

        Raises :class:`DataError` when the table does not hold the architecture for ``dataset``.
        """
        ds = self._ds(dataset)
        i = self.index_of(arch)
        if not self._present[ds][i]:
            self._missing(ds, i)
        return dict(zip(self._names[ds], self._rows(ds)[:, i].tolist()))

    def value(self, dataset: str, metric: str, arch) -> float:
        """One metric of one architecture (NaN if that single value is missing but the arch is present)."""
        ds = self._ds(dataset)
        i = self.index_of(arch)
        if not self._present[ds][i]:
            self._missing(ds, i)
        arr = self._cols[ds].get(metric)
        if arr is None:
            arr = self._shared.get(metric)
        return float(arr[i] if arr is not None else self.column(ds, metric)[i])  # column() names the problem

    def best(self, dataset: str, metric: str) -> tuple[int, float]:
        """(official index, value) of the largest non-NaN value of ``metric``; (-1, nan) if the column is empty."""
        col = self.column(dataset, metric)
        if np.all(np.isnan(col)):
            return -1, math.nan
        i = int(np.nanargmax(col))
        return i, float(col[i])

    def _missing(self, ds: str, index: int):
        raise DataError(
            f"architecture {self.arch_strings[index]} is not in table {self.name} for {ds} "
            f"(it holds {self.num_present(ds):,} of {enc.NUM_ARCHS:,} architectures); import the full release")

    def _ds(self, dataset: str) -> str:
        ds = canonical_dataset(dataset)
        if ds not in self._cols:
            raise ConfigError(f"table {self.name} has no dataset {dataset!r}: "
                              f"it has {', '.join(self._cols) or 'none'}")
        return ds

    def __repr__(self) -> str:
        parts = ", ".join(f"{ds}: {self.num_present(ds)}" for ds in self._cols)
        return f"BenchTable({self.name!r}, {parts})"

    # ------------------------------------------------------------------ pickling (the derived arrays are rebuilt)
    def __getstate__(self):
        return {"arch_strings": self.arch_strings, "cols": self._cols, "shared": self._shared,
                "attrs": self.attrs, "name": self.name}

    def __setstate__(self, state):
        self.__init__(state["arch_strings"], state["cols"], state["shared"], state["attrs"], state["name"])

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, path) -> "BenchTable":
        """Read a table file written by :meth:`save` (all arrays at once)."""
        import h5py

        path = Path(path)
        if not path.is_file():
            raise DataError(f"benchmark table not found at {path}: create it with "
                            f"`python -m gptnas.bench import nb201 --from <release folder> --out {path}`")
        try:
            with h5py.File(path, "r") as f:
                fmt = _attr_str(f.attrs.get("format"))
                if fmt != FORMAT:
                    raise DataError(f"{path} is an HDF5 file but not a gptnas benchmark table "
                                    f"(format attribute {fmt!r}); {_recreate_hint(path)}")
                version = int(f.attrs.get("format_version", -1))
                if version > FORMAT_VERSION:
                    raise DataError(f"{path} has table format version {version}, newer than this gptnas "
                                    f"reads ({FORMAT_VERSION}): upgrade gptnas or {_recreate_hint(path)}")
                attrs = {k: _attr_value(v) for k, v in f.attrs.items()}
                strings = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in f["arch_str"][()]]
                columns = {ds: _read_group(f["datasets"][ds]) for ds in _ordered(f["datasets"])}
                shared = _read_group(f["shared"]) if "shared" in f else {}
        except DataError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{path} is not a readable gptnas benchmark table "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                            f"{_recreate_hint(path)}") from None
        try:
            return cls(strings, columns, shared, attrs, name=str(path))
        except (ValueError, IndexError, DataError) as exc:  # InvalidArchitecture is a ValueError
            raise DataError(f"{path} holds an inconsistent benchmark table ({str(exc).splitlines()[0]}); "
                            f"{_recreate_hint(path)}") from None

    def save(self, path) -> Path:
        """Write the table to ``path`` atomically (a temporary file in the same folder, then ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._write_h5(tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.name = str(path)
        return path

    def _write_h5(self, path: Path) -> None:
        import h5py

        attrs = dict(self.attrs)
        attrs.update(format=FORMAT, format_version=FORMAT_VERSION, space="nb201", num_archs=enc.NUM_ARCHS)
        attrs.setdefault("created_by", f"gptnas {__version__}")
        attrs.setdefault("created_at", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        with h5py.File(path, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = v if isinstance(v, (str, int, float, np.integer, np.floating)) else json.dumps(v)
            f.create_dataset("arch_str", data=np.array(self.arch_strings, dtype=object),
                             dtype=h5py.string_dtype("utf-8"))
            g = f.create_group("datasets")
            g.attrs["order"] = json.dumps(list(self._cols))
            for ds, cols in self._cols.items():
                _write_group(g.create_group(ds), cols)
            _write_group(f.create_group("shared"), self._shared)


# ---------------------------------------------------------------------- helpers
_STRING_TO_CODE: dict[str, int] | None = None


def _string_codes() -> dict[str, int]:
    """``{official string: base-5 code}`` for all 15,625 cells, built once per process (~10 ms).

    A dict hit is both the parse and a strict format check, and ~30x faster than parsing each string."""
    global _STRING_TO_CODE
    if _STRING_TO_CODE is None:
        o = enc.OPS
        _STRING_TO_CODE = {
            f"|{o[a]}~0|+|{o[b]}~0|{o[c]}~1|+|{o[d]}~0|{o[e]}~1|{o[f]}~2|": code
            for code, (a, b, c, d, e, f) in enumerate(itertools.product(range(len(o)), repeat=enc.NUM_EDGES))}
    return _STRING_TO_CODE


def _codes_of(strings: Sequence[str]) -> np.ndarray:
    """Base-5 codes of the official strings; checks that they are the 15,625 distinct cells."""
    if len(strings) != enc.NUM_ARCHS:
        raise DataError(f"a NAS-Bench-201 table needs all {enc.NUM_ARCHS:,} architecture strings "
                        f"in official index order, got {len(strings):,}")
    lookup = _string_codes()
    try:
        codes = np.fromiter((lookup[s] for s in strings), dtype=np.int64, count=enc.NUM_ARCHS)
    except KeyError:
        bad = next(s for s in strings if s not in lookup)
        enc.string_to_ops(bad)  # raises InvalidArchitecture with the precise reason
        raise  # pragma: no cover  (string_to_ops accepted a non-canonical spelling)
    if len(np.unique(codes)) != enc.NUM_ARCHS:
        raise DataError("the architecture list of a NAS-Bench-201 table repeats some cells: "
                        "re-import it from the official release")
    return codes


def _as_column(a, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != (enc.NUM_ARCHS,):
        raise ValueError(f"column {what} must have shape ({enc.NUM_ARCHS},), got {arr.shape}")
    return arr


def _write_group(group, cols: Mapping[str, np.ndarray]) -> None:
    # HDF5 lists members alphabetically; the "order" attribute keeps val_acc, test_acc, ... first.
    group.attrs["order"] = json.dumps(list(cols))
    for m, arr in cols.items():
        group.create_dataset(m, data=arr).attrs["unit"] = unit_of(m)


def _ordered(group) -> list[str]:
    names = list(group)
    try:
        order = [n for n in json.loads(_attr_str(group.attrs.get("order")) or "[]") if n in names]
    except ValueError:
        order = []
    return order + [n for n in names if n not in order]


def _read_group(group) -> dict[str, np.ndarray]:
    return {m: group[m][()] for m in _ordered(group)}


def _attr_str(v) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _attr_value(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.generic):
        return v.item()
    return v


def empty_columns(metrics: Iterable[str]) -> dict[str, np.ndarray]:
    """``{metric: all-NaN array (15625,)}``: the starting point of an importer."""
    return {m: np.full(enc.NUM_ARCHS, np.nan) for m in metrics}
