"""Helpers shared by the tests (a package so that ``from helpers.x import y`` works from any test file)."""
from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    """Whether this is a CI run (``CI=true``, as GitHub Actions, GitLab and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def no_data(reason: str):
    """Skip a test whose reference data is missing; under CI, where the data must be present, fail it instead, so
    a missing or misplaced data folder turns the run red rather than silently green."""
    if under_ci():
        pytest.fail(f"{reason}, and CI=true needs it: put the reference data at ../shared/data or set GPTNAS_DATA",
                    pytrace=False)
    pytest.skip(reason)

#: Seconds a test's subprocess (a CLI run, a script) may take before it counts as hung: well above the slowest
#: (~2 min on a loaded 2-core machine), well below pytest-timeout's per-test limit, so a hang names its command.
TIMEOUT = 300
