"""The engine under faults (issue 36): an evaluation that never returns."""
import subprocess
import sys
import time

import pytest

import gptnas

OPS = ["a", "b", "c", "d"]
SPACE = gptnas.spaces.CategoricalSequenceSpace([OPS] * 4, name="chain4")


class HangSome:
    """An evaluation that never returns for architectures starting with ``d`` (a quarter of them); picklable."""

    def __call__(self, arch):
        if arch[0] == 3:
            time.sleep(3600)
        return float(sum(arch))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_evaluation_that_never_returns_is_stopped_and_recorded_as_failed(workers):
    t0 = time.monotonic()
    r = gptnas.search(SPACE, HangSome(), method="rea", budget=16, seed=0, workers=workers, progress=False,
                      search={"eval_timeout": 0.5, "max_failed_share": 0.9})
    assert r.status == "complete" and r.evaluations == 16
    hung = [row for row in r.archive if SPACE.parse(row["arch"])[0] == 3]
    ok = [row for row in r.archive if SPACE.parse(row["arch"])[0] != 3]
    assert hung and ok  # both kinds were asked
    assert all("timed out after 0.5 s (search.eval_timeout)" in row["failed"] for row in hung)
    assert all(not row["failed"] and row["fitness"] == sum(SPACE.parse(row["arch"])) for row in ok)
    assert time.monotonic() - t0 < 60  # never the hour a hung evaluation would take


def test_eval_timeout_on_the_command_line_and_a_bad_value(tmp_path):
    (tmp_path / "userfit.py").write_text("import time\n\ndef hang_some(arch):\n"
                                         "    if arch[0] == 3:\n        time.sleep(3600)\n"
                                         "    return float(sum(arch))\n")
    base = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "userfit:hang_some",
            "--method", "rea", "--budget", "12", "--seed", "1", "--no-progress", "-q",
            "--set", "search.max_failed_share=0.9"]  # userfit.py is found in the working directory
    p = subprocess.run(base + ["--eval-timeout", "1s", "--workers", "2", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    import json
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["evaluations"] == 12
    bad = subprocess.run(base + ["--eval-timeout", "soon", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "search.eval_timeout (--eval-timeout) must be" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_limit_that_cannot_be_enforced_says_so(caplog):
    # only the main thread receives the timer signal: a search run in another thread, in-process, is told
    import threading
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", gptnas.search(
        SPACE, lambda a: float(sum(a)), method="rea", budget=5, seed=0, progress=False,
        search={"eval_timeout": 1})))
    with caplog.at_level("WARNING", logger="gptnas.search.engine"):
        t.start()
        t.join()
    assert out["r"].evaluations == 5
    assert any("search.eval_timeout is not enforced" in r.getMessage() for r in caplog.records)
