"""Importers: official NAS-Bench-201 / NATS-Bench releases and derived tables → :class:`BenchTable`.

Sources and what each gives (every value is by official index; NaN where the source lacks the arch):

* **NATS-Bench topology release** (``NATS-tss-v1_0-3ffb9-simple/``: ``meta.pickle.pbz2`` holding ``meta_archs`` in
  index order plus one ``NNNNNN.pickle.pbz2`` per arch; plain bz2 + pickle, no torch). From the ``'200'`` entry,
  averaged over the seeds in ``dataset_seed`` — the NAS-Bench-201 convention:

  ============== =========================================== ===========================================
  dataset        ``val_acc``                                 ``test_acc``
  ============== =========================================== ===========================================
  cifar10        ``x-valid@199`` of the ``cifar10-valid`` run ``ori-test@199`` of the ``cifar10`` run
                                                              (trained on train+valid)
  cifar100       ``x-valid@199``                             ``x-test@199``
  imagenet16-120 ``x-valid@199``                             ``x-test@199``
  ============== =========================================== ===========================================

  plus ``params_mb``, ``flops_m``, ``latency_ms`` (the record's latency in s × 1000), ``train_time_s`` (sum of the
  200 per-epoch training times of the run that gives ``val_acc``: ``cifar10-valid`` for cifar10), ``n_seeds`` and,
  from the ``'12'`` entry with the same convention at epoch 11, ``val_acc_12ep`` / ``test_acc_12ep``.
  The JSON tables below follow exactly this convention: on arch 11 (in both) they agree to ~1e-7 (float32
  rounding inside the release), see ``tests/test_bench.py::test_nats_matches_json_convention``.
* **JSON tables** ``nb201_<dataset>.json`` (``{arch_str: {val_acc_200, test_acc_200, rank}}``): ``val_acc``,
  ``test_acc``. They do not carry the official index.
* **CSV** ``nb201_extra.csv`` (keyed by ``nb201_index``; prefix ``imagenet_`` = imagenet16-120). Checked against the
  NATS fixture (archs 0, 11, 284):

  - ``<ds>_ctpe_params_mb`` → ``params_mb``; ``<ds>_ctpe_train_time_s`` → ``train_time_s`` (same as NATS);
    ``<ds>_ctpe_nseeds`` → ``n_seeds``;
  - ``<ds>_ctpe_valacc200_seedmean`` → ``ctpe_acc_seedmean``: for cifar10 it is ``val_acc``, but for cifar100 and
    imagenet16-120 it is the seed mean of ``ori-test@199`` (the whole test set = valid + test halves), so it is
    *not* a pure validation number there; the name says where it comes from, not what split it is;
  - ``<ds>_naslib_valacc200`` → ``naslib_acc_seed888``: seed 888 only, and despite the source's name it is
    ``ori-test@199`` of the ``cifar10-valid`` run for cifar10 and ``x-test@199`` for the others;
  - ``<ds>_naslib_zen`` → ``zen_score``; ``mini12ep_<ds>_val`` / ``_test`` → ``val_acc_12ep`` / ``test_acc_12ep``
    (same as NATS);
  - ``lat_<device>`` → shared (dataset-independent) columns ``lat_<device>`` in ms.

:func:`import_release` detects what a path is and merges sources; :func:`open_table` is what a run uses: it imports a
release folder once and caches the result as ``.h5``.
"""
from __future__ import annotations

import bz2
import csv
import hashlib
import json
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import __version__
from ..encodings import nb201 as enc
from ..core.paths import DATA_ENV, default_cache_dir, default_data_root
from ..errors import DataError
from .table import DATASETS, FORMAT_VERSION, BenchTable, canonical_dataset, empty_columns

log = logging.getLogger(__name__)

NATS_META = "meta.pickle.pbz2"
CSV_NAME = "nb201_extra.csv"
_JSON_NAMES = {f"nb201_{ds}.json": ds for ds in DATASETS}
_H5_SUFFIXES = (".h5", ".hdf5")
# NATS dataset keys: (run giving val, val eval name, run giving test, test eval name)
_NATS_SPLITS = {
    "cifar10": ("cifar10-valid", "x-valid", "cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-valid", "cifar100", "x-test"),
    "imagenet16-120": ("ImageNet16-120", "x-valid", "ImageNet16-120", "x-test"),
}
_CSV_PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}
_CSV_COLUMNS = {  # CSV suffix after "<prefix>_" -> metric
    "ctpe_params_mb": "params_mb", "ctpe_train_time_s": "train_time_s", "ctpe_nseeds": "n_seeds",
    "ctpe_valacc200_seedmean": "ctpe_acc_seedmean", "naslib_valacc200": "naslib_acc_seed888",
    "naslib_zen": "zen_score",
}


# ====================================================================== NATS-Bench topology release
def read_nats_meta(folder) -> list[str]:
    """The 15,625 official strings (``meta_archs``) of a NATS-Bench topology release, in index order."""
    meta_path = Path(folder) / NATS_META
    meta = _read_pbz2(meta_path)
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or len(archs) != enc.NUM_ARCHS:
        raise DataError(f"{meta_path} has no list of {enc.NUM_ARCHS:,} 'meta_archs': "
                        "it is not a NATS-Bench topology (tss) release; download NATS-tss-v1_0-3ffb9-simple")
    return [str(s) for s in archs]


def import_nats(folder, epochs: str = "200") -> BenchTable:
    """Import a NATS-Bench topology release folder (see the module docstring for the exact metrics).

    Architectures without a record file get NaN (counted and logged), never invented numbers. Reading the full
    1.1 GB release (15,625 bz2 pickles) takes minutes; :func:`open_table` caches the result.
    Note: the records are pickles, so only import releases from a trusted source (as the official API does).
    """
    folder = Path(folder)
    strings = read_nats_meta(folder)
    metrics = ("val_acc", "test_acc", "params_mb", "flops_m", "latency_ms", "train_time_s", "n_seeds",
               "val_acc_12ep", "test_acc_12ep")
    cols = {ds: empty_columns(metrics) for ds in DATASETS}
    files = _nats_record_files(folder)
    for i, path in files.items():
        rec = _read_pbz2(path)
        if not isinstance(rec, dict) or epochs not in rec:
            raise DataError(f"{path} has no '{epochs}'-epoch entry: it is not a NATS-Bench topology record; "
                            "re-download the release")
        if rec[epochs].get("arch_str", strings[i]) != strings[i]:
            raise DataError(f"{path} describes {rec[epochs].get('arch_str')}, but the meta file says index {i} is "
                            f"{strings[i]}: the release folder mixes versions; re-download it")
        for ds in DATASETS:
            for metric, value in _nats_values(rec[epochs], ds, epoch=int(epochs) - 1).items():
                cols[ds][metric][i] = value
            if "12" in rec and epochs != "12":
                short = _nats_values(rec["12"], ds, epoch=11)
                cols[ds]["val_acc_12ep"][i] = short["val_acc"]
                cols[ds]["test_acc_12ep"][i] = short["test_acc"]
    for ds in DATASETS:  # metrics no record had at all are dropped rather than kept as all-NaN columns
        for m in [m for m, a in cols[ds].items() if m not in ("val_acc", "test_acc") and np.isnan(a).all()]:
            del cols[ds][m]
    if len(files) < enc.NUM_ARCHS:
        log.warning("NATS release at %s holds records for %d of %d architectures; the other %d are NaN "
                    "(import the full release for a complete table)", folder, len(files), enc.NUM_ARCHS,
                    enc.NUM_ARCHS - len(files))
    return BenchTable(strings, cols, attrs={
        "source": "NATS-Bench topology release", "source_version": folder.name,
        "source_paths": [str(folder.resolve())], "index_source": f"{folder.name}/{NATS_META}",
        "nats_records": len(files)}, name=str(folder))


def _nats_record_files(folder: Path) -> dict[int, Path]:
    out = {}
    for p in folder.glob("*.pickle.pbz2"):
        stem = p.name.split(".", 1)[0]
        if stem.isdigit() and int(stem) < enc.NUM_ARCHS:
            out[int(stem)] = p
    return dict(sorted(out.items()))


def _nats_values(entry: dict, ds: str, epoch: int) -> dict[str, float]:
    """Seed means of one dataset's numbers in one NATS epoch entry (``'200'`` or ``'12'``)."""
    val_run, val_name, test_run, test_name = _NATS_SPLITS[ds]
    results = entry.get("all_results", {})
    seeds = entry.get("dataset_seed", {})

    def runs(name):
        return [results[(name, s)] for s in seeds.get(name, []) if (name, s) in results]

    def mean_eval(rs, key):
        vals = [r["eval_acc1es"][key] for r in rs if key in r.get("eval_acc1es", {})]
        return float(np.mean(vals)) if vals else np.nan

    vruns, truns = runs(val_run), runs(test_run)
    out = {"val_acc": mean_eval(vruns, f"{val_name}@{epoch}"), "test_acc": mean_eval(truns, f"{test_name}@{epoch}")}
    if vruns:
        r0 = vruns[0]
        out["params_mb"] = float(r0.get("params", np.nan))
        out["flops_m"] = float(r0.get("flop", np.nan))
        lat = r0.get("latency") or []
        out["latency_ms"] = float(np.mean(lat)) * 1000.0 if len(lat) else np.nan
        out["train_time_s"] = float(np.mean([sum(r["train_times"].values()) for r in vruns]))
        out["n_seeds"] = float(len(vruns))
    return out


def _read_pbz2(path: Path):
    try:
        with bz2.open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path} not found: a NATS-Bench release folder needs {NATS_META} "
                        "and the NNNNNN.pickle.pbz2 records") from None
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError) as exc:
        raise DataError(f"{path} is not a readable NATS-Bench bz2 pickle ({type(exc).__name__}); "
                        "re-download the release") from None


# ====================================================================== JSON tables
def import_json_tables(files: dict[str, Path] | Path | str, index_strings: Sequence[str]) -> BenchTable:
    """Import ``nb201_<dataset>.json`` tables (a folder, or ``{dataset: path}``) → ``val_acc`` / ``test_acc``.

    ``index_strings`` (the official order) must come from elsewhere: the JSON tables do not carry the index.
    """
    if not isinstance(files, dict):
        files = _json_files_in(Path(files))
    probe = BenchTable(index_strings, {})
    cols = {}
    for ds, path in files.items():
        data = _read_json(path)
        c = empty_columns(("val_acc", "test_acc"))
        for arch, rec in data.items():
            try:
                i = probe.index_of(enc.string_to_ops(arch))
                c["val_acc"][i] = float(rec["val_acc_200"])
                c["test_acc"][i] = float(rec["test_acc_200"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: bad entry for {arch!r} ({type(exc).__name__}: {exc}); expected "
                                "{arch_str: {val_acc_200, test_acc_200, rank}}") from None
        n = int((~np.isnan(c["val_acc"])).sum())
        if n < enc.NUM_ARCHS:
            log.warning("%s holds %d of %d architectures; the rest are NaN", path, n, enc.NUM_ARCHS)
        cols[canonical_dataset(ds)] = c
    return BenchTable(index_strings, cols, attrs={
        "source": "NAS-Bench-201 JSON tables", "source_version": "json",
        "source_paths": [str(Path(p).resolve()) for p in files.values()]},
        name=", ".join(str(p) for p in files.values()))


def _json_files_in(folder: Path) -> dict[str, Path]:
    return {ds: folder / name for name, ds in _JSON_NAMES.items() if (folder / name).is_file()}


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable JSON table ({type(exc).__name__}); "
                        "re-download nb201_<dataset>.json") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a NAS-Bench-201 JSON table: expected {{arch_str: {{val_acc_200, ...}}}}")
    return data


# ====================================================================== CSV
def read_csv(path) -> tuple[list[str], dict[str, np.ndarray], list[dict]]:
    """Read ``nb201_extra.csv`` → (strings in official order, float columns by index, raw rows by index)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
    except (OSError, StopIteration, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV ({type(exc).__name__}); re-download {CSV_NAME}") from None
    if "nb201_index" not in header or "arch_str" not in header:
        raise DataError(f"{path} lacks the nb201_index / arch_str columns: it is not {CSV_NAME}")
    ii, si = header.index("nb201_index"), header.index("arch_str")
    try:
        index = np.array([int(r[ii]) for r in rows])
    except (ValueError, IndexError):
        raise DataError(f"{path}: nb201_index must be an integer on every row") from None
    if len(rows) != enc.NUM_ARCHS or not np.array_equal(np.sort(index), np.arange(enc.NUM_ARCHS)):
        raise DataError(f"{path}: nb201_index must list every index 0..{enc.NUM_ARCHS - 1} once "
                        f"({len(rows)} rows found)")
    order = np.argsort(index)
    rows = [rows[k] for k in order]
    strings = [r[si] for r in rows]
    cols = {}
    for j, name in enumerate(header):
        if name in ("nb201_index", "arch_str", "naslib_op_indices", "naslib_idx"):
            continue
        cols[name] = np.array([_to_float(r[j]) for r in rows])
    raw = [dict(zip(header, r)) for r in rows]
    return strings, cols, raw


def import_csv(path, index_strings: Sequence[str] | None = None) -> BenchTable:
    """Import ``nb201_extra.csv`` (see the module docstring for the column mapping).

    When ``index_strings`` is given (e.g. from the NATS meta) the CSV's own order must agree with it.
    """
    path = Path(path)
    strings, raw, _ = read_csv(path)
    if index_strings is not None and list(index_strings) != strings:
        bad = next(i for i, (a, b) in enumerate(zip(index_strings, strings)) if a != b)
        raise DataError(f"{path} disagrees with the official index at {bad}: it says {strings[bad]}, the release "
                        f"meta says {index_strings[bad]}; use files from the same release")
    cols: dict[str, dict[str, np.ndarray]] = {ds: {} for ds in DATASETS}
    shared = {}
    for name, arr in raw.items():
        target = _csv_target(name)
        if target is None:
            log.info("%s: column %s is not imported (unknown meaning)", path, name)
        elif target[0] is None:
            shared[target[1]] = arr
        else:
            cols[target[0]][target[1]] = arr
    return BenchTable(strings, {ds: c for ds, c in cols.items() if c}, shared, attrs={
        "source": "nb201_extra.csv", "source_version": "csv", "source_paths": [str(path.resolve())],
        "index_source": f"{path.name}:nb201_index"}, name=str(path))


def _csv_target(name: str) -> tuple[str | None, str] | None:
    """CSV column name → (dataset or None for shared, metric), or None when its meaning is unknown."""
    if name.startswith("lat_"):
        return None, name
    if name.startswith("mini12ep_"):
        prefix, _, split = name[len("mini12ep_"):].rpartition("_")
        for ds, p in _CSV_PREFIX.items():
            if p == prefix and split in ("val", "test"):
                return ds, f"{split}_acc_12ep"
        return None
    for ds, p in _CSV_PREFIX.items():
        if name.startswith(p + "_") and name[len(p) + 1:] in _CSV_COLUMNS:
            return ds, _CSV_COLUMNS[name[len(p) + 1:]]
    return None


def _to_float(text: str) -> float:
    t = text.strip()
    if not t:
        return np.nan
    try:
        return float(t)
    except ValueError:
        return np.nan


# ====================================================================== merging
def merge_tables(tables: Sequence[BenchTable], name: str | None = None) -> BenchTable:
    """Merge tables that share the official order: per (dataset, metric) the first table with a value wins;
    later tables only fill NaN. Disagreements larger than 1e-4 are logged (count and largest difference)."""
    if not tables:
        raise DataError("nothing to merge: no benchmark source was found")
    if len(tables) == 1:
        if name:
            tables[0].name = name
        return tables[0]
    base = tables[0].arch_strings
    for t in tables[1:]:
        if t.arch_strings != base:
            raise DataError(f"{t.name} and {tables[0].name} list the architectures in different orders: "
                            "they come from different releases")
    cols: dict[str, dict[str, np.ndarray]] = {}
    shared: dict[str, np.ndarray] = {}
    for t in tables:
        for ds in t.datasets:
            for m in t.own_metrics(ds):
                _fill(cols.setdefault(ds, {}), m, t.column(ds, m), f"{ds}/{m} from {t.name}")
        for m in t.shared_metrics:
            _fill(shared, m, t.shared_column(m), f"{m} from {t.name}")
    paths, sources, versions = [], [], []
    for t in tables:
        sp = t.attrs.get("source_paths", [])
        paths += json.loads(sp) if isinstance(sp, str) else list(sp)
        sources.append(str(t.attrs.get("source", t.name)))
        versions.append(str(t.attrs.get("source_version", "")))
    index_source = next((t.attrs["index_source"] for t in tables if t.attrs.get("index_source")), "")
    return BenchTable(base, cols, shared, attrs={
        "source": " + ".join(sources), "source_version": " + ".join(v for v in versions if v),
        "source_paths": paths, "index_source": index_source}, name=name)


def _fill(target: dict, metric: str, arr: np.ndarray, what: str) -> None:
    if metric not in target:
        target[metric] = np.array(arr, dtype=np.float64)
        return
    cur = target[metric]
    both = ~np.isnan(cur) & ~np.isnan(arr)
    if both.any():
        diff = np.abs(cur[both] - arr[both])
        if diff.max() > 1e-4:
            log.warning("%s disagrees with an earlier source on %d architectures (largest difference %.4g); "
                        "keeping the earlier values", what, int((diff > 1e-4).sum()), float(diff.max()))
    gap = np.isnan(cur) & ~np.isnan(arr)
    cur[gap] = arr[gap]


# ====================================================================== discovery
@dataclass
class Sources:
    """What :func:`discover` found. ``nats_index`` are release folders used only for their index order."""

    nats: list = field(default_factory=list)
    nats_index: list = field(default_factory=list)
    jsons: dict = field(default_factory=dict)
    csvs: list = field(default_factory=list)
    h5: list = field(default_factory=list)

    def extend(self, other: "Sources") -> None:
        self.nats += other.nats
        self.nats_index += other.nats_index
        for ds, p in other.jsons.items():
            if ds in self.jsons and self.jsons[ds] != p:
                raise DataError(f"two JSON tables for {ds}: {self.jsons[ds]} and {p}; pass only one")
            self.jsons[ds] = p
        self.csvs += other.csvs
        self.h5 += other.h5

    def files(self) -> list[Path]:
        """Every file the import reads (for the cache key)."""
        out = [Path(d) / NATS_META for d in self.nats_index]
        for d in self.nats:
            out += [Path(d) / NATS_META] + list(_nats_record_files(Path(d)).values())
        return out + list(self.jsons.values()) + list(self.csvs) + list(self.h5)

    def empty(self) -> bool:
        return not (self.nats or self.jsons or self.csvs or self.h5)


def discover(path) -> Sources:
    """Say what ``path`` is: a NATS release folder, a folder of JSON tables (+ CSV, + a NATS release whose meta
    then gives the index order), a single ``.json`` / ``.csv`` / ``.h5`` file, or a data root with ``nb201/``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"benchmark data not found at {p}: pass --data PATH or set GPTNAS_DATA")
    s = Sources()
    if p.is_file():
        name = p.name.lower()
        if name.endswith(_H5_SUFFIXES):
            s.h5.append(p)
        elif name.endswith(".json"):
            ds = _JSON_NAMES.get(name)
            if ds is None:
                raise DataError(f"cannot tell the dataset of {p}: JSON tables must be named "
                                f"{', '.join(_JSON_NAMES)}")
            s.jsons[ds] = p
        elif name.endswith(".csv"):
            s.csvs.append(p)
        elif name == NATS_META:
            s.nats.append(p.parent)
        else:
            raise DataError(f"unrecognised benchmark file {p}: give a NATS-Bench release folder, a folder of "
                            "nb201_<dataset>.json tables, nb201_extra.csv or an imported .h5 table")
        return s
    if (p / NATS_META).is_file():
        s.nats.append(p)
        return s
    s.jsons = _json_files_in(p)
    if (p / CSV_NAME).is_file():
        s.csvs.append(p / CSV_NAME)
    subs = sorted(d for d in p.iterdir() if d.is_dir() and (d / NATS_META).is_file())
    if s.jsons or s.csvs:
        # The JSON/CSV give the numbers; a NATS folder beside them (maybe a partial copy) gives the index order.
        s.nats_index += subs[:1]
        return s
    if subs:
        s.nats += subs[:1]
        return s
    if (p / "nb201").is_dir():
        return discover(p / "nb201")
    raise DataError(f"no NAS-Bench-201 data found in {p}: expected a NATS-tss-* release folder, "
                    f"nb201_<dataset>.json tables or {CSV_NAME}")


# ====================================================================== entry points
def import_release(paths) -> BenchTable:
    """Import and merge everything ``paths`` (one path or several) hold; see :func:`discover`.

    The official order comes from the NATS meta when present, else from an imported ``.h5``, else from the CSV's
    ``nb201_index``; JSON tables alone cannot be imported (they carry no index). Value priority: JSON, NATS,
    CSV, ``.h5`` (later sources only fill gaps). A NATS release found *inside* a folder of JSON tables only gives
    the index order; to merge its records too, pass the release folder itself as another path.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    src = Sources()
    for p in paths:
        src.extend(discover(p))
    if src.empty():
        raise DataError(f"no NAS-Bench-201 data found in {', '.join(map(str, paths))}")
    if len(src.h5) == 1 and not (src.nats or src.jsons or src.csvs):
        return BenchTable.load(src.h5[0])

    nats_tables = [import_nats(d) for d in src.nats]
    h5_tables = [BenchTable.load(p) for p in src.h5]
    if nats_tables:
        strings, index_source = nats_tables[0].arch_strings, nats_tables[0].attrs["index_source"]
    elif src.nats_index:
        strings = read_nats_meta(src.nats_index[0])
        index_source = f"{Path(src.nats_index[0]).name}/{NATS_META}"
    elif h5_tables:
        strings, index_source = h5_tables[0].arch_strings, str(src.h5[0])
    elif src.csvs:
        strings, index_source = None, ""
    else:
        raise DataError("the JSON tables do not carry the official NAS-Bench-201 index: also pass "
                        f"{CSV_NAME} (nb201_index column) or the NATS-Bench release folder (meta.pickle.pbz2)")
    csv_tables = []
    for c in src.csvs:
        t = import_csv(c, strings)
        if strings is None:
            strings, index_source = t.arch_strings, t.attrs["index_source"]
        csv_tables.append(t)
    tables = []
    if src.jsons:
        tables.append(import_json_tables(src.jsons, strings))
    tables += nats_tables + csv_tables + h5_tables
    merged = merge_tables(tables, name=", ".join(str(p) for p in paths))
    merged.attrs["index_source"] = index_source
    for ds in merged.datasets:
        log.info("imported %s: %d of %d architectures", ds, merged.num_present(ds), enc.NUM_ARCHS)
    return merged


def resolve_benchmark_path(data: str | None, space: str) -> Path:
    """The benchmark path from ``--data`` or ``$GPTNAS_DATA``; a folder holding ``<space>/`` is descended into."""
    raw = data or os.environ.get(DATA_ENV)
    if not raw:
        root = default_data_root()
        if any((root / sub).is_dir() for sub in _SUBFOLDERS.get(space, (space,))):
            raw = str(root)  # where `python -m gptnas.bench download` put it
        else:
            raise DataError(f"no benchmark data given: pass --data PATH (a {space} release folder or a table made by "
                            f"'python -m gptnas.bench import'), set {DATA_ENV}, or fetch it into {root} with "
                            f"'python -m gptnas.bench download {space}'")
    p = Path(raw).expanduser()
    if not p.exists():
        raise DataError(f"benchmark data not found at {p}: pass --data PATH or set {DATA_ENV}")
    for sub in _SUBFOLDERS.get(space, (space,)):
        if (p / sub).is_dir():
            return p / sub
    return p


#: Folders a data root may hold a space's benchmark in (``--data ../shared/data`` serves every space).
_SUBFOLDERS = {"nb201": ("nb201",), "tnb101": ("tnb101", "transnas101")}


def cache_key(src: Sources) -> str:
    """Hash of the source files' paths, sizes and mtimes (and the table format version)."""
    h = hashlib.sha256(f"gptnas-table-v{FORMAT_VERSION}".encode())
    for f in sorted(Path(x).resolve() for x in src.files()):
        st = f.stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def open_table(path=None, cache_dir=None) -> BenchTable:
    """The table a run uses: an ``.h5`` loads directly; a release folder is imported once and cached.

    Args:
        path: a table file or release folder (default: ``$GPTNAS_DATA``, or its ``nb201/``; else the folder
            ``python -m gptnas.bench download`` fills).
        cache_dir: where imported folders are cached as ``nb201-<key>.h5`` (default :func:`default_cache_dir`);
            the key covers the source paths, sizes and mtimes, so editing a source re-imports it.
    """
    if path is None:  # $GPTNAS_DATA (a release folder, or a data root holding nb201/), else the default folder
        path = resolve_benchmark_path(None, "nb201")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"benchmark data not found at {p}: pass --data PATH or set GPTNAS_DATA")
    if p.is_file() and p.name.lower().endswith(_H5_SUFFIXES):
        return BenchTable.load(p)
    src = discover(p)
    if len(src.h5) == 1 and not (src.nats or src.jsons or src.csvs):
        return BenchTable.load(src.h5[0])
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cached = cache / f"nb201-{cache_key(src)}.h5"
    if cached.is_file():
        try:
            table = BenchTable.load(cached)
            log.debug("loaded cached table %s for %s", cached, p)
            table.name = str(p)  # errors should name the data the user gave, not the cache file
            return table
        except DataError as exc:
            log.warning("ignoring unreadable cache file (%s); re-importing", exc)
    log.info("importing %s (once; cached at %s)", p, cached)
    table = import_release(p)
    table.attrs.setdefault("created_by", f"gptnas {__version__}")
    try:
        table.save(cached)
    except OSError as exc:
        log.warning("could not write the table cache %s (%s); the next run will import again", cached, exc)
    table.name = str(p)
    return table
