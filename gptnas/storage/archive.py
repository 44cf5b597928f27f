"""The run archive: every evaluation in order, in HDF5.

One row per evaluated (unique) architecture, columns as datasets of equal length:

===============  =======  ===========================================================
``generation``   int32    generation in which it was evaluated (0 = initial population)
``arch``         str      canonical key of the architecture (NB201: official string)
``fitness``      float64  what the search maximised (validation accuracy %, or proxy score); -inf if failed
``test``         float64  test accuracy % (reported only; NaN when unknown)
``eval_time_s``  float64  seconds the evaluation took
``elapsed_s``    float64  seconds since the run started when it finished (summed over resumes)
``origin``       str      operator that produced it: random, mutation, crossover, gpt, ...
``failed``       str      empty, or the reason the evaluation failed
``extras``       str      JSON of everything else the evaluator reported (params, proxy scores, ...)
``parent``       int32    row of the architecture it was made from (mutated; a crossover child: the parent it
                          started as a copy of), -1 for none (drawn at random, or a method that does not say);
                          the journals hold the parent's key
===============  =======  ===========================================================
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from .atomic import atomic_write

COLUMNS = ("generation", "arch", "fitness", "test", "eval_time_s", "elapsed_s", "origin", "failed", "extras",
           "parent")
_STR = h5py.string_dtype("utf-8")


class Archive:
    """In-memory list of evaluation rows, written to HDF5 as a whole (atomically) at each checkpoint."""

    def __init__(self, rows: list[dict] | None = None, attrs: dict | None = None):
        self.rows: list[dict] = list(rows or [])
        self.attrs = dict(attrs or {})

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, generation: int, arch: str, result, eval_time_s: float, elapsed_s: float, origin: str,
               parent: str | None = None) -> None:
        """Add one evaluation (``result`` is an :class:`~gptnas.evaluators.EvalResult`; ``parent``: the key of the
        architecture it was made from)."""
        self.rows.append(make_row(generation, arch, result, eval_time_s, elapsed_s, origin, parent))

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def write(self, path: str | Path) -> None:
        """Write the whole archive to ``path`` atomically."""
        def _w(tmp: str) -> None:
            with h5py.File(tmp, "w") as f:
                for k, v in self.attrs.items():
                    f.attrs[k] = v if v is not None else ""
                for name in COLUMNS:
                    if name == "parent":  # the journals' parent key, as the parent's row
                        row_of = {r["arch"]: i for i, r in enumerate(self.rows)}
                        vals = [row_of.get(r.get("parent") or "", -1) for r in self.rows]
                        f.create_dataset(name, data=np.array(vals, dtype=np.int32))
                        continue
                    vals = [r[name] for r in self.rows]
                    if name in ("arch", "origin", "failed", "extras"):
                        f.create_dataset(name, data=np.array(vals, dtype=object), dtype=_STR)
                    elif name == "generation":
                        f.create_dataset(name, data=np.array(vals, dtype=np.int32))
                    else:
                        f.create_dataset(name, data=np.array(vals, dtype=np.float64))
        atomic_write(path, _w)


def make_row(generation: int, arch: str, result, eval_time_s: float, elapsed_s: float, origin: str,
             parent: str | None = None) -> dict:
    """One archive row (plain data, as the journals hold it) of an :class:`~gptnas.evaluators.EvalResult`;
    ``parent``: the key of the architecture it was made from, or None."""
    extras = {k: v for k, v in result.extras.items() if k != "test"} if result.extras else None
    return {
        "generation": int(generation), "arch": arch, "fitness": float(result.fitness),
        "test": float("nan") if result.test is None else float(result.test),
        "eval_time_s": float(eval_time_s), "elapsed_s": float(elapsed_s), "origin": origin or "",
        "failed": result.failed or "", "extras": _ENCODER.encode(extras) if extras else "{}",
        "parent": parent or "",
    }


def read_archive(path: str | Path) -> dict[str, np.ndarray]:
    """Read an archive written by :meth:`Archive.write` into ``{column: array}`` (strings decoded)."""
    try:
        with h5py.File(path, "r") as f:
            out = {}
            for name in COLUMNS:
                if name == "parent" and name not in f:  # archives written before parents were kept
                    out[name] = np.full(len(out["arch"]), -1, dtype=np.int32)
                    continue
                d = f[name][()]
                if d.dtype == object:
                    d = np.array([x.decode() if isinstance(x, bytes) else x for x in d], dtype=object)
                out[name] = d
            out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            return out
    except (OSError, KeyError) as e:
        raise DataError(f"cannot read run archive {path}: {e}; it is rewritten at the next checkpoint "
                        "(resume the run)") from None


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and math.isnan(v):
        return None
    return str(v)


# One encoder for every row: json.dumps(..., default=, sort_keys=) would build a new one per call.
_ENCODER = json.JSONEncoder(default=_jsonable, sort_keys=True)
