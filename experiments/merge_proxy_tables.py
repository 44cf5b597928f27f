"""Merge per-dataset tables of ``proxy_correlation.py`` (run one dataset per process to use every core) into one.

    python experiments/merge_proxy_tables.py experiments/results/proxy_correlation_cifar10.md \\
        experiments/results/proxy_correlation_cifar100.md experiments/results/proxy_correlation_imagenet16.md

prints the combined markdown table: per proxy, N, ρ with test accuracy (published), ρ with NASLib's scores and the
cost per architecture for every dataset, in the order given. Several tables of the same dataset (e.g. a separate
grasp run) are joined into one column group, later files adding proxies to earlier ones.
"""
from __future__ import annotations

import sys
from pathlib import Path


def read(path: str) -> tuple[str, dict[str, list[str]]]:
    """(dataset name, proxy → [N, ρ, ρ NASLib, ms]) of one single-dataset table."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    dataset = header[1].removeprefix("N ")
    rows = {}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if cells[0] != "proxy" and len(cells) == 5:
            rows[cells[0]] = cells[1:]
    return dataset, rows


def main(paths: list[str]) -> int:
    merged: dict[str, dict[str, list[str]]] = {}
    for p in paths:
        dataset, rows = read(p)
        merged.setdefault(dataset, {}).update(rows)
    tables = list(merged.items())
    names = [d for d, _ in tables]
    proxies = list(dict.fromkeys(p for _, rows in tables for p in rows))
    head = (["proxy"] + [f"N {d}" for d in names] + [f"ρ {d} (published)" for d in names]
            + [f"ρ vs NASLib {d}" for d in names] + [f"ms/arch {d}" for d in names])
    out = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for p in proxies:
        cols = [[rows.get(p, ["–"] * 4)[k] for _, rows in tables] for k in range(4)]
        out.append("| " + " | ".join([p] + [c for col in cols for c in col]) + " |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
