"""Tabular benchmark: importers, the .h5 table, caching and the ``python -m gptnas.bench`` command."""
from __future__ import annotations

import bz2
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gptnas.bench import BenchTable, import_release, open_table
from gptnas.bench import importers
from gptnas.encodings import nb201 as enc
from gptnas.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
NATS = "NATS-tss-v1_0-3ffb9-simple"
FIXTURE_ARCHS = (0, 11, 284)


# ---------------------------------------------------------------------------- shared, loaded once per module
@pytest.fixture(scope="module")
def folder_table(nb201_dir) -> BenchTable:
    return import_release(nb201_dir)


@pytest.fixture(scope="module")
def json_tables(nb201_dir) -> dict:
    return {ds: json.loads((nb201_dir / f"nb201_{ds}.json").read_text()) for ds in DATASETS}


@pytest.fixture(scope="module")
def nats_dir(nb201_dir) -> Path:
    return nb201_dir / NATS


@pytest.fixture(scope="module")
def nats_table(nats_dir) -> BenchTable:
    return importers.import_nats(nats_dir)


@pytest.fixture(scope="module")
def h5_path(folder_table, tmp_path_factory) -> Path:
    return folder_table.save(tmp_path_factory.mktemp("table") / "nb201.h5")


def _raw_record(nats_dir: Path, index: int) -> dict:
    with bz2.open(nats_dir / f"{index:06d}.pickle.pbz2", "rb") as fh:
        return pickle.load(fh)["200"]


def _seed_mean(entry: dict, run: str, key: str) -> float:
    return float(np.mean([entry["all_results"][(run, s)]["eval_acc1es"][key] for s in entry["dataset_seed"][run]]))


# ---------------------------------------------------------------------------- folder import (JSON + CSV)
def test_folder_import_has_everything(folder_table):
    t = folder_table
    assert t.datasets == list(DATASETS)
    for ds in DATASETS:
        assert t.num_present(ds) == enc.NUM_ARCHS
        own = t.own_metrics(ds)
        assert own[:2] == ["val_acc", "test_acc"]
        for m in ("params_mb", "train_time_s", "val_acc_12ep", "test_acc_12ep", "ctpe_acc_seedmean",
                  "naslib_acc_seed888", "zen_score", "n_seeds"):
            assert m in own
        assert not np.isnan(t.column(ds, "val_acc")).any()
    assert len([m for m in t.shared_metrics if m.startswith("lat_")]) == 27
    assert "lat_fpga" in t.metrics("cifar100")
    assert "meta.pickle.pbz2" in t.attrs["index_source"]  # the NATS meta beside the JSONs gives the order
    assert any(p.endswith("nb201_extra.csv") for p in t.attrs["source_paths"])


def test_values_equal_the_json_tables(folder_table, json_tables):
    t = folder_table
    for ds in DATASETS:
        val, test = t.column(ds, "val_acc"), t.column(ds, "test_acc")
        for arch, rec in json_tables[ds].items():  # all 15,625, vectorised by index
            i = t.index_of(enc.string_to_ops(arch))
            assert val[i] == rec["val_acc_200"] and test[i] == rec["test_acc_200"]
        for arch in random.Random(0).sample(sorted(json_tables[ds]), 50):  # and through query()
            q = t.query(ds, enc.string_to_ops(arch))
            assert (q["val_acc"], q["test_acc"]) == (json_tables[ds][arch]["val_acc_200"],
                                                     json_tables[ds][arch]["test_acc_200"])


def test_best_values_match_the_published_optimum(folder_table):
    best_test = {ds: folder_table.best(ds, "test_acc")[1] for ds in DATASETS}
    best_val = {ds: folder_table.best(ds, "val_acc")[1] for ds in DATASETS}
    assert [round(best_test[ds], 4) for ds in DATASETS] == [94.3733, 73.5133, 47.3111]
    # CIFAR-10 / CIFAR-100 best validation match the published 91.61 / 73.49. For ImageNet16-120 the tables here
    # (the NATS-Bench data, same as the official JSON convention) give 46.73; the 46.77 quoted from the
    # NAS-Bench-201 paper could not be reproduced from this data with any split/seed convention we tried.
    assert [round(best_val[ds], 2) for ds in DATASETS] == [91.61, 73.49, 46.73]


def test_csv_columns_land_in_the_right_place(folder_table):
    ops0 = folder_table.index_map.ops(0)  # row nb201_index=0 of the CSV
    q = folder_table.query("cifar10", ops0)
    assert q["params_mb"] == 0.129306 and q["train_time_s"] == pytest.approx(1444.2185997962952)
    assert q["test_acc_12ep"] == 69.55 and q["n_seeds"] == 3
    assert q["lat_fpga"] == pytest.approx(2.57296)
    assert folder_table.query("imagenet16-120", ops0)["params_mb"] == 0.136456


# ---------------------------------------------------------------------------- NATS-Bench release fixture
def test_nats_fixture_is_partial_and_honest(nats_table, caplog, nats_dir):
    for ds in DATASETS:
        assert nats_table.num_present(ds) == 3
        present = np.flatnonzero(~np.isnan(nats_table.column(ds, "val_acc")))
        assert tuple(present) == FIXTURE_ARCHS
        assert np.isnan(nats_table.column(ds, "flops_m")).sum() == enc.NUM_ARCHS - 3
    with caplog.at_level("WARNING"):
        importers.import_nats(nats_dir)
    assert "3 of 15625" in caplog.text


def test_nats_matches_json_convention(nats_table, json_tables, nats_dir):
    """NB201 convention: cifar10 val = x-valid of cifar10-valid, test = ori-test of cifar10;
    cifar100 / ImageNet16-120 val = x-valid, test = x-test (seed means). The JSON tables use exactly this."""
    for i in FIXTURE_ARCHS:
        arch = nats_table.index_map.ops(i)
        s = enc.ops_to_string(arch)
        for ds in DATASETS:
            q = nats_table.query(ds, arch)
            assert q["val_acc"] == pytest.approx(json_tables[ds][s]["val_acc_200"], abs=1e-5)
            assert q["test_acc"] == pytest.approx(json_tables[ds][s]["test_acc_200"], abs=1e-5)
    # ... and not the other plausible one (ori-test, the whole test set) for cifar100 on arch 11.
    raw = _raw_record(nats_dir, 11)
    s11 = nats_table.arch_strings[11]
    assert abs(_seed_mean(raw, "cifar100", "ori-test@199") - json_tables["cifar100"][s11]["test_acc_200"]) > 0.05
    assert abs(_seed_mean(raw, "cifar10-valid", "ori-test@199") - json_tables["cifar10"][s11]["test_acc_200"]) > 1


def test_nats_matches_csv_extras(nats_table, folder_table, nats_dir):
    for i in FIXTURE_ARCHS:
        arch = nats_table.index_map.ops(i)
        raw = _raw_record(nats_dir, i)
        for ds in DATASETS:
            n, c = nats_table.query(ds, arch), folder_table.query(ds, arch)
            for m in ("params_mb", "train_time_s", "val_acc_12ep", "test_acc_12ep", "n_seeds"):
                assert n[m] == pytest.approx(c[m], abs=1e-6), (i, ds, m)
            run = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}[ds]
            # documented quirks of the CSV's names (see gptnas.bench.importers):
            ctpe = n["val_acc"] if ds == "cifar10" else _seed_mean(raw, run, "ori-test@199")
            assert c["ctpe_acc_seedmean"] == pytest.approx(ctpe, abs=1e-5)
            key = "ori-test@199" if ds == "cifar10" else "x-test@199"
            assert c["naslib_acc_seed888"] == pytest.approx(raw["all_results"][(run, 888)]["eval_acc1es"][key],
                                                            abs=1e-4)
        assert nats_table.query("cifar10", arch)["latency_ms"] > 1  # seconds in the release, ms here


def test_missing_arch_raises_one_clear_line(nats_table):
    arch = nats_table.index_map.ops(1)
    assert not nats_table.has("cifar10", arch) and nats_table.has("cifar10", nats_table.index_map.ops(11))
    with pytest.raises(DataError) as info:
        nats_table.query("cifar10", arch)
    msg = str(info.value)
    assert "\n" not in msg and nats_table.arch_strings[1] in msg
    assert "3 of 15,625" in msg and "import the full release" in msg


def test_merge_nats_with_an_imported_table(nats_dir, h5_path, folder_table):
    merged = import_release([nats_dir, h5_path])
    assert merged.num_present("cifar10") == enc.NUM_ARCHS
    assert np.count_nonzero(~np.isnan(merged.column("cifar10", "flops_m"))) == 3
    assert merged.column("cifar10", "test_acc")[5000] == folder_table.column("cifar10", "test_acc")[5000]


def test_json_alone_has_no_index(nb201_dir):
    with pytest.raises(DataError, match="index"):
        import_release(nb201_dir / "nb201_cifar10.json")


def test_single_csv_gives_extras_and_the_index(nb201_dir, folder_table):
    t = import_release(nb201_dir / "nb201_extra.csv")
    assert t.arch_strings == folder_table.arch_strings
    assert "val_acc" not in t.own_metrics("cifar10") and "params_mb" in t.own_metrics("cifar10")


# ---------------------------------------------------------------------------- the .h5 file
def test_save_load_roundtrip(folder_table, h5_path):
    t = BenchTable.load(h5_path)
    assert t.arch_strings == folder_table.arch_strings
    assert t.datasets == folder_table.datasets
    for ds in DATASETS:
        assert t.metrics(ds) == folder_table.metrics(ds)  # column order survives
        for m in t.metrics(ds):
            np.testing.assert_array_equal(t.column(ds, m), folder_table.column(ds, m))
    assert t.attrs["format"] == "gptnas.bench.table" and t.attrs["space"] == "nb201"
    assert t.attrs["created_by"].startswith("gptnas ")
    assert "nb201_extra.csv" in t.attrs["source_paths"]
    assert t.index_map.strings() == folder_table.arch_strings


def test_roundtrip_keeps_nan(nats_table, tmp_path):
    t = BenchTable.load(nats_table.save(tmp_path / "nats.h5"))
    assert t.num_present("cifar100") == 3
    np.testing.assert_array_equal(t.column("cifar100", "flops_m"), nats_table.column("cifar100", "flops_m"))


def test_save_is_atomic(nats_table, tmp_path, monkeypatch):
    path = nats_table.save(tmp_path / "t.h5")
    before = path.read_bytes()

    def broken(self, p):
        Path(p).write_bytes(b"half-written")
        raise OSError("disk full")

    monkeypatch.setattr(BenchTable, "_write_h5", broken)
    with pytest.raises(OSError):
        nats_table.save(path)
    assert path.read_bytes() == before  # the old table is intact ...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]  # ... and no temporary file is left
    assert BenchTable.load(path).num_present("cifar10") == 3


def test_query_is_a_dense_array_lookup(folder_table):
    t = folder_table
    assert t.code_to_index.shape == (enc.NUM_ARCHS,) and t.code_to_index.dtype.kind == "i"
    rng = random.Random(1)
    archs = [tuple(rng.randrange(5) for _ in range(6)) for _ in range(20000)]
    for a in archs[:300]:
        assert t.index_of(a) == t.index_map.index(a)
    # speed is measured by experiments/bench_load_time.py, not here; here: the lookup goes through the dense map
    col = t.column("cifar10", "val_acc")
    for a in archs[:300]:
        assert t.value("cifar10", "val_acc", a) == col[t.code_to_index[enc.ops_to_int(a)]]


def test_unknown_dataset_or_metric(folder_table):
    with pytest.raises(ConfigError, match="cifar10, cifar100, imagenet16-120"):
        folder_table.column("svhn", "val_acc")
    with pytest.raises(ConfigError, match="val_acc"):
        folder_table.column("cifar10", "accuracy")
    assert folder_table.num_present("ImageNet16-120") == enc.NUM_ARCHS  # official spelling accepted


def test_table_pickles(nats_table):
    t = pickle.loads(pickle.dumps(nats_table))
    assert t.query("cifar10", t.index_map.ops(11)) == nats_table.query("cifar10", t.index_map.ops(11))


@pytest.mark.parametrize("kind", ["garbage", "foreign_hdf5", "truncated"])
def test_corrupt_file_raises_data_error(kind, tmp_path, h5_path):
    path = tmp_path / "bad.h5"
    if kind == "garbage":
        path.write_bytes(b"not an hdf5 file at all")
    elif kind == "foreign_hdf5":
        import h5py
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    else:
        path.write_bytes(h5_path.read_bytes()[: 1 << 20])
    with pytest.raises(DataError) as info:
        BenchTable.load(path)
    msg = str(info.value)
    assert str(path) in msg and "python -m gptnas.bench import nb201" in msg and "\n" not in msg


# ---------------------------------------------------------------------------- open_table and its cache
def test_open_table_imports_once_then_uses_the_cache(nb201_dir, tmp_path, monkeypatch, folder_table):
    calls = []
    real = importers.import_release
    monkeypatch.setattr(importers, "import_release", lambda p: calls.append(p) or real(p))
    first = open_table(nb201_dir, cache_dir=tmp_path)
    cached = list(tmp_path.glob("nb201-*.h5"))
    assert len(calls) == 1 and len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    second = open_table(nb201_dir, cache_dir=tmp_path)
    assert len(calls) == 1 and cached[0].stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(second.column("cifar10", "val_acc"), first.column("cifar10", "val_acc"))
    assert second.name == str(nb201_dir)  # errors name the data the user gave, not the cache file


def test_open_table_reimports_when_a_source_changes(nats_dir, tmp_path, monkeypatch):
    release = tmp_path / NATS
    shutil.copytree(nats_dir, release)
    calls = []
    real = importers.import_release
    monkeypatch.setattr(importers, "import_release", lambda p: calls.append(p) or real(p))
    cache = tmp_path / "cache"
    open_table(release, cache_dir=cache)
    open_table(release, cache_dir=cache)
    assert len(calls) == 1
    rec = release / "000284.pickle.pbz2"
    rec.chmod(0o644)
    os.utime(rec, ns=(rec.stat().st_atime_ns, rec.stat().st_mtime_ns + 10**9))
    open_table(release, cache_dir=cache)
    assert len(calls) == 2 and len(list(cache.glob("*.h5"))) == 2


def test_open_table_h5_and_env_cache(h5_path, tmp_path, monkeypatch, nats_dir):
    assert open_table(h5_path).num_present("cifar10") == enc.NUM_ARCHS
    monkeypatch.setenv("GPTNAS_CACHE", str(tmp_path / "envcache"))
    open_table(nats_dir)
    assert len(list((tmp_path / "envcache").glob("nb201-*.h5"))) == 1


def test_open_table_missing_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        open_table(missing)
    assert str(info.value) == f"benchmark data not found at {missing}: pass --data PATH or set GPTNAS_DATA"
    monkeypatch.delenv("GPTNAS_DATA", raising=False)
    with pytest.raises(DataError, match="GPTNAS_DATA"):
        open_table(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no NAS-Bench-201 data found"):
        open_table(tmp_path / "empty", cache_dir=tmp_path)


# ---------------------------------------------------------------------------- CLI
def _cli(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "gptnas.bench", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_import_info_query(nb201_dir, tmp_path, folder_table):
    out = tmp_path / "nb201.h5"
    r = _cli("import", "nb201", "--from", nb201_dir, "--out", out)
    assert r.returncode == 0, r.stderr
    assert BenchTable.load(out).arch_strings == folder_table.arch_strings

    r = _cli("info", out)
    assert r.returncode == 0, r.stderr
    for text in ("cifar10", "imagenet16-120", "94.3733", "73.5133", "47.3111", "91.6067", "15,625"):
        assert text in r.stdout

    r = _cli("query", out, "333103", "--dataset", "cifar100", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    ops = enc.ncode_to_ops("333103")
    assert got["arch"] == enc.ops_to_string(ops) and got["index"] == folder_table.index_of(ops)
    assert got["metrics"]["val_acc"] == folder_table.query("cifar100", ops)["val_acc"]
    r = _cli("query", out, "(0, 2, 3, 2, 3, 1)", "-d", "imagenet16-120")
    assert r.returncode == 0 and "test_acc" in r.stdout


def _assert_error(r, *needles):
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    for n in needles:
        assert n in r.stderr


def test_cli_error_paths(h5_path, tmp_path, nats_dir):
    _assert_error(_cli("query", h5_path, "|nor_conv_3x3~0|+|oops|", "--dataset", "cifar10"), "malformed")
    _assert_error(_cli("info", tmp_path / "missing.h5"), "not found")
    _assert_error(_cli("query", h5_path, "333103", "--dataset", "svhn"), "cifar100")
    out = tmp_path / "copy.h5"
    out.write_bytes(b"keep me")
    _assert_error(_cli("import", "nb201", "--from", h5_path, "--out", out), "--force")
    assert out.read_bytes() == b"keep me"
    r = _cli("import", "nb201", "--from", nats_dir, "--from", h5_path, "--out", out, "--force")
    assert r.returncode == 0, r.stderr
    assert BenchTable.load(out).num_present("cifar10") == enc.NUM_ARCHS
