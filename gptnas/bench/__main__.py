"""``python -m gptnas.bench``: import, inspect and query tabular benchmarks.

    python -m gptnas.bench download nb201 [--to DIR] [--url URL] [--sha256 HEX]
    python -m gptnas.bench import nb201 --from /data/nb201 [--from MORE] --out nb201.h5 [--force]
    python -m gptnas.bench info nb201.h5
    python -m gptnas.bench query nb201.h5 '|nor_conv_3x3~0|+|...|' --dataset cifar10 [--json]

Any :class:`~gptnas.errors.GptnasError` is printed as one line ``error: ...`` on stderr with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from ..encodings import nb201 as enc
from ..errors import ConfigError, GptnasError
from ..core.paths import default_data_root
from ..core.terminal import progress_wanted
from .download import RELEASES, download
from .importers import import_release
from .table import BenchTable, unit_of


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.bench", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = p.add_subparsers(dest="cmd", required=True)

    dl = sub.add_parser("download", help="fetch a benchmark's official release (resumable, SHA-256 checked), "
                                         "unpack and import it")
    dl.add_argument("name", choices=sorted(RELEASES), help="the benchmark")
    dl.add_argument("--to", metavar="DIR", help=f"data folder (default: $GPTNAS_DATA, else {default_data_root()}; "
                                                "--data may then be left out)")
    dl.add_argument("--url", help="where to fetch the release file (a copy your lab hosts; default: "
                                  "$GPTNAS_MIRROR/FILE, else the manual steps are printed)")
    dl.add_argument("--sha256", metavar="HEX", help="the file's expected SHA-256 (the authors publish none)")
    bars = dl.add_mutually_exclusive_group()
    bars.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")
    bars.add_argument("--no-progress", action="store_true", help="no progress bar")

    imp = sub.add_parser("import", help="import an official release into one .h5 table")
    imp.add_argument("space", choices=["nb201"], help="search space of the benchmark")
    imp.add_argument("--from", dest="sources", action="append", required=True, metavar="PATH",
                     help="release folder or file (NATS-tss folder, folder of nb201_<dataset>.json + "
                          "nb201_extra.csv, one .json/.csv, or an .h5); repeat to merge")
    imp.add_argument("--out", required=True, metavar="FILE.h5", help="table file to write")
    imp.add_argument("--force", action="store_true", help="overwrite FILE.h5 if it exists")

    info = sub.add_parser("info", help="datasets, metrics, counts and best values of a table")
    info.add_argument("file", metavar="FILE", help="an .h5 table (or any source import accepts)")

    q = sub.add_parser("query", help="all metrics of one architecture")
    q.add_argument("file", metavar="FILE")
    q.add_argument("arch", metavar="ARCH", help="official string, NCode (e.g. 333103) or NASLib tuple")
    q.add_argument("--dataset", "-d", default="cifar10", help="cifar10, cifar100 or imagenet16-120")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _load(path: str) -> BenchTable:
    return import_release(path)


def cmd_import(args) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise ConfigError(f"{out} already exists: pass --force to overwrite it")
    table = import_release(args.sources)
    table.save(out)
    counts = ", ".join(f"{ds} {table.num_present(ds):,}" for ds in table.datasets)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {counts} of {enc.NUM_ARCHS:,} architectures")
    return 0


def cmd_download(args) -> int:
    download(args.name, args.to, url=args.url, sha256=args.sha256,
             progress=progress_wanted(args.progress, args.no_progress))
    return 0


def cmd_info(args) -> int:
    t = _load(args.file)
    a = t.attrs
    print(f"table:   {t.name}")
    print(f"space:   {a.get('space', 'nb201')}  ({enc.NUM_ARCHS:,} architectures, index order from "
          f"{a.get('index_source') or '?'})")
    print(f"source:  {a.get('source', '?')}  [{a.get('source_version', '?')}]")
    if a.get("created_by"):
        print(f"created: {a.get('created_by')} {a.get('created_at', '')}".rstrip())
    print()
    print("| dataset | present | best val_acc | best test_acc | metrics |")
    print("|---|---|---|---|---|")
    for ds in t.datasets:
        cells = []
        for m in ("val_acc", "test_acc"):
            if m in t.own_metrics(ds):
                i, v = t.best(ds, m)
                cells.append(f"{v:.4f} (#{i})" if i >= 0 else "-")
            else:
                cells.append("-")
        print(f"| {ds} | {t.num_present(ds):,} | {cells[0]} | {cells[1]} | {', '.join(t.own_metrics(ds))} |")
    if t.shared_metrics:
        print(f"\nshared metrics ({len(t.shared_metrics)}): {', '.join(t.shared_metrics)}")
    return 0


def cmd_query(args) -> int:
    t = _load(args.file)
    ops = enc.parse_any(args.arch)
    values = t.query(args.dataset, ops)
    index = t.index_of(ops)
    head = {"arch": enc.ops_to_string(ops), "index": index, "ncode": enc.ops_to_ncode(ops),
            "naslib": str(enc.ops_to_naslib(ops))}
    if args.json:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
        print(json.dumps({**head, "dataset": args.dataset, "metrics": clean}))
        return 0
    for k, v in head.items():
        print(f"{k}: {v}")
    print(f"dataset: {args.dataset}")
    for k, v in values.items():
        unit = unit_of(k)
        print(f"  {k}: {v:.6g}" + (f" {unit}" if unit and not math.isnan(v) else ""))
    return 0


def main(argv=None) -> int:
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return {"download": cmd_download, "import": cmd_import, "info": cmd_info,
                "query": cmd_query}[args.cmd](args)
    except GptnasError as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
