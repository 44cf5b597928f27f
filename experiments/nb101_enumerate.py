"""Enumerate the NAS-Bench-101 cell space and time it: the count must be the published 423,624.

    OMP_NUM_THREADS=1 python experiments/nb101_enumerate.py [--list]

Prints, per vertex count, the full DAGs (≤ 9 edges), their isomorphism classes without and with op labels, then the
total and the wall time of :func:`gptnas.spaces.nb101.count_unique`; ``--list`` also times listing every cell with
:func:`~gptnas.spaces.nb101.enumerate_unique` (official ``(ops, matrix)`` form).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gptnas.spaces import nb101  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="also time enumerate_unique() (yields every cell)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    total = nb101.count_unique()
    t_count = time.perf_counter() - t0

    print("| vertices | full DAGs | graphs up to isomorphism | labelled cells |")
    print("|---:|---:|---:|---:|")
    per_n: dict[int, list[int]] = {}
    for n, bits, labels in nb101.enumerate_arrays():
        row = per_n.setdefault(n, [0, 0])
        row[0] += len(bits)
        row[1] += len(bits) * len(labels)
    for n, (graphs, cells) in sorted(per_n.items()):
        print(f"| {n} | {len(nb101.full_dags(n, nb101.MAX_EDGES))} | {graphs} | {cells} |")
    print(f"\nunique cells: {total} (published: {nb101.NUM_UNIQUE_CELLS}) "
          f"{'OK' if total == nb101.NUM_UNIQUE_CELLS else 'MISMATCH'}")
    print(f"count_unique(): {t_count:.2f} s")
    if args.list:
        t0 = time.perf_counter()
        listed = sum(1 for _ in nb101.enumerate_unique())
        print(f"enumerate_unique(): {listed} cells in {time.perf_counter() - t0:.2f} s")
    sys.exit(0 if total == nb101.NUM_UNIQUE_CELLS else 1)


if __name__ == "__main__":
    main()
