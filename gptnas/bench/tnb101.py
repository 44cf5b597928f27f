"""TransNAS-Bench-101 micro as a table: per task, one number per cell, indexed by the cell's base-4 code.

Reads the CSV of the micro space (``tnb101_micro.csv``: ``space, arch, class_scene, room_layout, class_object,
jigsaw``; ``arch`` is NASLib's op tuple). Tasks: ``class_scene``, ``class_object``, ``jigsaw`` (top-1 accuracy,
%) and ``room_layout`` (negative L2 loss): higher is better for all four. The file holds **one number per task and
cell, the validation split's**: fitness is that number, and there is no test accuracy to report.

The official release (``transnas-bench_v10141024.pth``) is a torch pickle; gptnas does not read it, since
unpickling runs code from the file. To use it, load it once yourself in a sandbox with ``torch.load(path,
weights_only=True)`` (which refuses anything but plain data) or the benchmark's own API, and write the CSV above.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..encodings import tnb101 as enc
from ..errors import DataError

TASKS = ("class_scene", "class_object", "jigsaw", "room_layout")
#: What each task's number is (all from the validation split; higher is better).
METRIC = {"class_scene": "top-1 accuracy (%)", "class_object": "top-1 accuracy (%)", "jigsaw": "top-1 accuracy (%)",
          "room_layout": "negative L2 loss"}
CSV_NAME = "tnb101_micro.csv"
FOLDERS = ("tnb101", "transnas101")
_LOADED: dict[str, "TNB101Table"] = {}


def find_csv(path) -> Path:
    """The micro CSV at ``path``: the file itself, or ``CSV_NAME`` in it or in one of its ``FOLDERS``."""
    p = Path(path).expanduser()
    for cand in [p, p / CSV_NAME] + [p / f / CSV_NAME for f in FOLDERS]:
        if cand.is_file():
            return cand
    raise DataError(f"no TransNAS-Bench-101 micro table at {p}: give the {CSV_NAME} file (columns space, arch, "
                    f"{', '.join(TASKS)}) or a folder holding it")


class TNB101Table:
    """``values[task]``: float64 array (4096,) by :func:`~gptnas.encodings.tnb101.ops_to_int` code (NaN = absent)."""

    def __init__(self, values: dict[str, np.ndarray], name: str):
        self.values, self.name = values, name
        self.datasets = list(values)

    @classmethod
    def load(cls, path) -> "TNB101Table":
        f = find_csv(path)
        key = str(f.resolve())
        if key in _LOADED:
            return _LOADED[key]
        values = {t: np.full(enc.NUM_ARCHS, np.nan) for t in TASKS}
        try:
            with open(f, newline="") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in ("arch",) + TASKS if c not in (reader.fieldnames or ())]
                if missing:
                    raise DataError(f"{f} is not a TransNAS-Bench-101 micro table: no column {missing[0]!r}")
                for i, row in enumerate(reader, 2):
                    code = enc.ops_to_int(enc.parse_any(row["arch"]))
                    for t in TASKS:
                        values[t][code] = float(row[t])
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read {f} (line {locals().get('i', '?')}): {e}") from None
        table = _LOADED[key] = cls(values, str(f))
        return table

    def column(self, task: str) -> np.ndarray:
        if task not in self.values:
            from ..errors import ConfigError
            raise ConfigError(f"TransNAS-Bench-101 has no task {task!r}: choose one of {', '.join(TASKS)}")
        return self.values[task]

    def genome(self, code: int) -> list[int]:
        out = []
        for _ in range(enc.NUM_EDGES):
            code, r = divmod(int(code), len(enc.OPS))
            out.append(r)
        return out[::-1]

    def scored(self, task: str) -> list[tuple[list[int], float]]:
        """``(genome, value)`` of every cell the table holds for ``task``, in code order."""
        col = self.column(task)
        return [(self.genome(c), float(col[c])) for c in np.flatnonzero(~np.isnan(col))]
