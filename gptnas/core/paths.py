"""Where gptnas keeps what it builds once and reuses: imported tables, pre-trained models, decoded datasets."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "GPTNAS_CACHE"


def default_cache_dir() -> Path:
    """``$GPTNAS_CACHE`` or ``~/.cache/gptnas`` (``~`` expanded)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gptnas"
