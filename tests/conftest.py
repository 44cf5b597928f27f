"""Shared fixtures. Reference data lives beside the repo in ../shared/data (or $GPTNAS_DATA); never in the repo."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores, several processes: torch's default of a thread per core makes them fight (9x slower seen here).
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    pass

REPO = Path(__file__).resolve().parents[1]
from helpers import no_data, under_ci  # noqa: E402  (pytest puts tests/ on the path for this file)


def shared_data_dir() -> Path | None:
    """The reference-data root, or None when it is not on this machine."""
    env = os.environ.get("GPTNAS_DATA")
    cand = Path(env) if env else REPO.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if root is None:
        no_data("reference data not found")
    return root


@pytest.fixture(scope="session")
def nb201_dir(shared_data) -> Path:
    d = shared_data / "nb201"
    if not d.is_dir():
        no_data(f"NAS-Bench-201 reference data not found under {shared_data}")
    return d


def pytest_sessionstart(session):
    """Under CI the reference data must be there: say so once, up front, instead of ~90 failures (or, before,
    ~90 silent skips and a green run that tested less than it claims)."""
    if under_ci() and shared_data_dir() is None:
        pytest.exit("CI=true and the reference data is missing: put it at ../shared/data (beside the repository) or "
                    "set GPTNAS_DATA", returncode=1)
