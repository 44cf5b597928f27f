"""The suite itself: under CI a missing reference-data folder fails the run instead of skipping ~90 tests green."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import TIMEOUT

TESTS = Path(__file__).resolve().parent


def pytest_on(target: str, data: Path, ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GPTNAS_DATA": str(data), "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / target)],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT, cwd=TESTS.parent)


def test_under_ci_missing_data_fails_in_one_line_and_elsewhere_it_skips(tmp_path):
    gone = tmp_path / "nothing-here"
    r = pytest_on("test_tnb101.py", gone, "true")
    assert r.returncode != 0
    assert "CI=true and the reference data is missing" in r.stdout + r.stderr
    # a data folder without this benchmark's table: each test that needs it fails, naming what is missing
    (tmp_path / "data").mkdir()
    r = pytest_on("test_tnb101.py", tmp_path / "data", "true")
    assert r.returncode != 0 and "TransNAS-Bench-101 table not found, and CI=true needs it" in r.stdout
    # outside CI the same tests skip, and the run passes
    r = pytest_on("test_tnb101.py", gone, "")
    assert r.returncode == 0 and "skipped" in r.stdout and "failed" not in r.stdout
