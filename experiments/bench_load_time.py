"""Time and memory to load the full NAS-Bench-201 table from .h5 and to run 10^5 queries.

    python experiments/bench_load_time.py [--data ../shared/data/nb201] [--table nb201.h5] [--queries 100000]

Without ``--table`` the release folder is imported once into a temporary .h5 (the import time is reported too).
Each load is measured in a fresh subprocess so that the RSS delta (VmRSS after − before ``BenchTable.load``, with
numpy and h5py already imported) is not hidden by memory a previous load left behind. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_CHILD = r"""
import json, sys, time
import numpy, h5py  # imported before the baseline: we measure the table, not the libraries
from gptnas.bench.table import BenchTable

def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

before = rss_kb()
t0 = time.perf_counter()
table = BenchTable.load(sys.argv[1])
dt = time.perf_counter() - t0
print(json.dumps({"load_s": dt, "rss_delta_kb": rss_kb() - before}))
"""


def default_data() -> Path:
    env = os.environ.get("GPTNAS_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    return root / "nb201" if (root / "nb201").is_dir() else root


def measure_load(path: Path, repeats: int) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = []
    for _ in range(repeats):
        r = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env, capture_output=True, text=True,
                           check=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return out


def measure_queries(path: Path, n: int) -> dict:
    from gptnas.bench.table import BenchTable
    from gptnas.evaluators.tabular import TabularEvaluator

    table = BenchTable.load(path)
    rng = random.Random(0)
    archs = [tuple(rng.randrange(5) for _ in range(6)) for _ in range(n)]
    res = {}
    t0 = time.perf_counter()
    for a in archs:
        table.value("cifar10", "val_acc", a)
    res["value"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for a in archs:
        table.query("cifar10", a)
    res["query"] = time.perf_counter() - t0
    ev = TabularEvaluator(table, "cifar10")
    t0 = time.perf_counter()
    for a in archs:
        ev.evaluate(a)
    res["evaluate"] = time.perf_counter() - t0
    res["n_metrics"] = len(table.metrics("cifar10"))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data(), help="NB201 release folder (imported if no --table)")
    ap.add_argument("--table", type=Path, help="an existing .h5 table")
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5, help="fresh-process loads to time")
    args = ap.parse_args(argv)

    from gptnas.bench.importers import import_release

    tmp = None
    import_s = None
    if args.table is None:
        tmp = tempfile.TemporaryDirectory()
        args.table = Path(tmp.name) / "nb201.h5"
        t0 = time.perf_counter()
        import_release(args.data).save(args.table)
        import_s = time.perf_counter() - t0
    size_mb = args.table.stat().st_size / 2**20
    loads = measure_load(args.table, args.repeats)
    q = measure_queries(args.table, args.queries)
    load_s = [x["load_s"] for x in loads]
    rss_mb = [x["rss_delta_kb"] / 1024 for x in loads]

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}")
    print(f"table: {args.table} ({size_mb:.2f} MiB on disk, cifar10 has {q['n_metrics']} metrics)\n")
    print("| measurement | value |")
    print("|---|---|")
    if import_s is not None:
        print(f"| import release folder ({args.data.name}) + save .h5 (once) | {import_s:.2f} s |")
    print(f"| load .h5, median of {len(load_s)} fresh processes | {statistics.median(load_s) * 1e3:.1f} ms "
          f"(min {min(load_s) * 1e3:.1f}, max {max(load_s) * 1e3:.1f}) |")
    print(f"| RSS delta of the load (median) | {statistics.median(rss_mb):.1f} MiB "
          f"({statistics.median(rss_mb) / size_mb:.2f} × file size) |")
    n = args.queries
    print(f"| {n:,} × `value(ds, 'val_acc', ops)` | {q['value']:.3f} s ({q['value'] / n * 1e6:.2f} µs each) |")
    print(f"| {n:,} × `query(ds, ops)` (all {q['n_metrics']} metrics) | {q['query']:.3f} s "
          f"({q['query'] / n * 1e6:.2f} µs each) |")
    print(f"| {n:,} × `TabularEvaluator.evaluate(ops)` | {q['evaluate']:.3f} s "
          f"({q['evaluate'] / n * 1e6:.2f} µs each) |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
