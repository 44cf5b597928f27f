"""Where gptnas keeps what it builds once and reuses (imported tables, pre-trained models, decoded datasets) and
the benchmarks it downloads."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "GPTNAS_CACHE"


def default_cache_dir() -> Path:
    """``$GPTNAS_CACHE`` or ``~/.cache/gptnas`` (``~`` expanded)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gptnas"


DATA_ENV = "GPTNAS_DATA"


def default_data_root() -> Path:
    """Where downloaded benchmarks live (``python -m gptnas.bench download``) and where ``--data`` looks when it is
    left out: ``$GPTNAS_DATA``, else ``$XDG_DATA_HOME/gptnas`` (``~/.local/share/gptnas``)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "gptnas"
