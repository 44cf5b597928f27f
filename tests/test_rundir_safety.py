"""A run directory loses no evaluation and has one writer: journal per result, an OS lock, failed runs fail."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO
from helpers import TIMEOUT

CLI = [sys.executable, "-m", "gptnas.run", "--space", "tests.helpers.slow_space:space", "--no-progress", "-q"]


def _env(tmp: Path, **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLOW_CALLS": str(tmp / "calls.txt"), "OMP_NUM_THREADS": "1"}
    env.pop("GPTNAS_FAULT_KILL_AFTER_EVALS", None)
    env.update(extra)
    return env


def _calls(tmp: Path) -> list[str]:
    f = tmp / "calls.txt"
    return f.read_text().splitlines() if f.exists() else []


def test_a_kill_mid_generation_loses_at_most_the_evaluations_in_flight(tmp_path):
    """Population 10 of slow evaluations; killed after the 7th of the first generation (none checkpointed yet):
    the resume evaluates only what was not journaled, and the result equals an uninterrupted run."""
    run = tmp_path / "run"
    args = [*CLI, "--fitness", "tests.helpers.slow_space:evaluate", "--method", "ga", "--population", "10",
            "--budget", "30", "--seed", "1"]
    r = subprocess.run([*args, "--out", str(run)], cwd=REPO, env=_env(tmp_path, GPTNAS_FAULT_KILL_AFTER_EVALS="7"),
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == -signal.SIGKILL
    before = _calls(tmp_path)
    assert len(before) == 7 and not (run / "checkpoint.pkl").exists()
    r = subprocess.run([*CLI[:3], "--resume", str(run), "--no-progress", "-q"], cwd=REPO, env=_env(tmp_path),
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    after = _calls(tmp_path)[len(before):]
    assert len(after) == 30 - 7 and not set(after) & set(before)   # nothing journaled was evaluated again
    ref = tmp_path / "ref"
    (tmp_path / "plain").mkdir()
    r = subprocess.run([*args, "--out", str(ref)], cwd=REPO, env=_env(tmp_path / "plain"),
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    from gptnas.storage.archive import read_archive
    a, b = read_archive(run / "archive.h5"), read_archive(ref / "archive.h5")
    assert list(a["arch"]) == list(b["arch"]) and list(a["fitness"]) == list(b["fitness"])


def test_a_second_process_cannot_write_a_live_run(tmp_path):
    run = tmp_path / "run"
    args = [*CLI, "--fitness", "tests.helpers.slow_space:evaluate", "--method", "rea", "--budget", "200"]
    # the live run holds after its third result (a test hook), so it outlives the two launches below however
    # slow they are
    live = subprocess.Popen([*args, "--out", str(run)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(tmp_path, SLOW_SECONDS="0.05", GPTNAS_FAULT_HOLD_AFTER_EVALS="3"))
    try:
        for _ in range(1200):  # until the run has started writing
            if sum(len(f.read_text().splitlines()) for f in (run / "pending.jsonl", run / "evaluations.jsonl")
                   if f.exists()) >= 3:
                break
            time.sleep(0.1)
        for second in ([*CLI[:3], "--resume", str(run)], [*args, "--out", str(run), "--overwrite"]):
            r = subprocess.run(second, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
            assert r.returncode == 2, r.stderr[-2000:]
            assert f"is in use by process {live.pid}" in r.stderr and "Traceback" not in r.stderr
            assert len(r.stderr.strip().splitlines()) == 1
        assert live.poll() is None  # the live run goes on, its directory untouched
    finally:
        live.kill()
        live.wait()
    # kill -9 leaves no stale lock: the run resumes at once
    r = subprocess.run([*CLI[:3], "--resume", str(run), "--no-progress", "-q"], cwd=REPO,
                       env=_env(tmp_path, SLOW_SECONDS="0"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_run_whose_evaluations_all_fail_is_failed_not_complete(tmp_path):
    run = tmp_path / "run"
    r = subprocess.run([*CLI, "--fitness", "tests.helpers.slow_space:always_fails", "--method", "rea", "--budget",
                        "40", "--out", str(run)], cwd=REPO, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert err[-1].startswith("error: 10 of 10 evaluations failed") and "unplugged" in err[-1]
    assert "Traceback" not in r.stderr
    import json
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"


def test_some_failures_under_the_share_still_complete(tmp_path):
    import gptnas
    from gptnas.spaces import CategoricalSequenceSpace
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="s")

    def evaluate(arch):
        if arch[0] == 0:
            raise RuntimeError("bad")
        return float(sum(arch))

    res = gptnas.search(space, evaluate, method="random", budget=30, progress=False)
    assert res.status == "complete" and 0 < res.state.num_failed < 15
    assert {r["failed"] for r in res.archive if r["failed"]} == {"RuntimeError: bad"}
