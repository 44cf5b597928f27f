"""Build the evaluator a run config asks for (``--fitness``)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from .base import Evaluator

DATA_ENV = "GPTNAS_DATA"


def resolve_benchmark_path(data: str | None, space: str) -> Path:
    """The benchmark path from ``--data`` or ``$GPTNAS_DATA``; a folder holding ``<space>/`` is descended into."""
    raw = data or os.environ.get(DATA_ENV)
    if not raw:
        raise DataError(f"no benchmark data given: pass --data PATH (a {space} release folder or a table made by "
                        f"'python -m gptnas.bench import') or set {DATA_ENV}")
    p = Path(raw).expanduser()
    if not p.exists():
        raise DataError(f"benchmark data not found at {p}: pass --data PATH or set {DATA_ENV}")
    return p / space if (p / space).is_dir() else p


def build_evaluator(cfg, space) -> Evaluator:
    """The evaluator for ``cfg.fitness`` on ``cfg.dataset``."""
    if cfg.fitness == "benchmark":
        from ..bench import open_table
        from .tabular import TabularEvaluator
        return TabularEvaluator(open_table(resolve_benchmark_path(cfg.data, cfg.space)), cfg.dataset)
    raise DataError(f"fitness {cfg.fitness!r} is not available")
