"""A search driven from outside (issue 35 §2): gptnas.open_search, ask and tell, in Python and on the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import gptnas
from gptnas.errors import ConfigError
from gptnas.search.study import NoTrial
from gptnas.spaces import CategoricalSequenceSpace
from helpers import TIMEOUT

SPACE = CategoricalSequenceSpace([["a", "b", "c", "d"]] * 6, name="six")


def score(arch):
    return float(sum((i + 1) * x for i, x in enumerate(arch)))


def rows(archive):
    return [(r["arch"], r["fitness"], r["generation"], r["origin"]) for r in archive]


def drive(study, fitness=score, order=lambda ts: ts):
    """Ask all that can be asked, tell them (in ``order`` of the pending list), until the search is over."""
    while True:
        try:
            study.ask()
            continue
        except NoTrial as e:
            if e.reason == "done":
                return study.result()
        for t in order(study.pending()):
            study.tell(t, fitness(t.arch))


@pytest.mark.parametrize("method", ["rea", "ga", "random"])
def test_asks_and_tells_in_proposal_order_give_the_archive_gptnas_search_gives(method):
    ref = gptnas.search(SPACE, score, method=method, budget=40, seed=3, progress=False)
    study = gptnas.open_search(SPACE, method=method, budget=40, seed=3)
    res = drive(study)
    assert res.status == "complete" and res.evaluations == 40
    assert rows(res.archive) == rows(ref.archive)
    assert res.best.key == ref.best.key


def test_with_lag_k_it_is_the_search_on_k_workers():
    ref = gptnas.search(SPACE, score, method="rea", budget=30, seed=1, progress=False, workers=4,
                        parallel="simulated")
    res = drive(gptnas.open_search(SPACE, method="rea", budget=30, seed=1, lag=4))
    assert rows(res.archive) == rows(ref.archive)


def test_several_asks_before_any_tell_and_tells_in_any_order():
    study = gptnas.open_search(SPACE, method="rea", budget=25, seed=0, rea={"population": 6})
    first = [study.ask() for _ in range(6)]  # the initial population, all at once
    assert [t.number for t in first] == list(range(6)) and len({t.key for t in first}) == 6
    with pytest.raises(NoTrial, match="needs a result first: tell trial 0, 1, 2, 3, 4") as e:
        study.ask()
    assert e.value.reason == "waiting"
    for t in reversed(first):  # any order
        study.tell(t, score(t.arch))
    res = drive(study, order=lambda ts: list(reversed(ts)))
    assert res.evaluations == 25 == len({r["arch"] for r in res.archive})
    assert {r["arch"] for r in res.archive[:6]} == {t.key for t in first}
    assert [r["fitness"] for r in res.archive] == [score(SPACE.parse(r["arch"])) for r in res.archive]


def test_telling_an_unknown_or_told_trial_is_one_clear_error_and_changes_nothing():
    study = gptnas.open_search(SPACE, method="random", budget=20, seed=0)
    t = study.ask()
    study.tell(t, 1.0)
    with pytest.raises(ConfigError, match=f"trial {t.number} was told already: the trials waiting"):
        study.tell(t, 2.0)
    with pytest.raises(ConfigError, match="trial 999 was never asked"):
        study.tell(999, 2.0)
    with pytest.raises(ConfigError, match="tell needs a value"):
        study.tell(study.ask())
    res = drive(study, fitness=lambda arch: 3.0)
    assert [r["fitness"] for r in res.archive] == [1.0] + [3.0] * 19


def test_failures_and_exceptions_are_told_as_failed_evaluations():
    study = gptnas.open_search(SPACE, method="random", budget=20, seed=0, search={"max_failed_share": 1.0})
    a, b, c = study.ask(), study.ask(), study.ask()
    study.tell(a, failed=True)
    study.tell(b, RuntimeError("CUDA out of memory"))
    study.tell(c, 5.0)
    failed = [r["failed"] for r in drive(study).archive]
    assert failed[:3] == ["told as failed", "RuntimeError: CUDA out of memory", ""] and not any(failed[3:])


def test_the_users_global_random_draws_do_not_change_the_search():
    import random

    import numpy as np
    a = drive(gptnas.open_search(SPACE, method="rea", budget=30, seed=2))

    def noisy(arch):
        random.random(), np.random.rand()  # the user's own code between ask and tell
        return score(arch)

    b = drive(gptnas.open_search(SPACE, method="rea", budget=30, seed=2), fitness=noisy)
    assert rows(a.archive) == rows(b.archive)


def test_a_run_directory_continues_where_a_dead_process_left_it(tmp_path):
    """A process that asked three trials and told one, then died (no close, no checkpoint after): the study opened
    again asks the two again (or takes their results), and the run ends as an uninterrupted one."""
    out = tmp_path / "run"
    code = f"""
import os, gptnas
from gptnas.spaces import NB201Space
def score(a): return float(sum((i + 1) * x for i, x in enumerate(a)))
s = gptnas.open_search("nb201", method="rea", budget=24, seed=5, out={str(out)!r})
ts = [s.ask() for _ in range(3)]
s.tell(ts[0], score(ts[0].arch))
print(ts[1].key, ts[2].key, flush=True)
os._exit(0)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr
    asked = proc.stdout.split()

    def nb_score(a):
        return float(sum((i + 1) * x for i, x in enumerate(a)))

    study = gptnas.open_search(str(out))
    assert [t.key for t in study.pending()] == asked  # asked before the process died, never told
    again = [study.ask(), study.ask()]  # and asked again
    assert [t.key for t in again] == asked
    res = drive(study, fitness=nb_score)
    study.close()
    ref = drive(gptnas.open_search("nb201", method="rea", budget=24, seed=5), fitness=nb_score)
    assert rows(res.archive) == rows(ref.archive)
    assert (out / "summary.json").exists() and (out / "trials.jsonl").exists()


def test_reopened_without_reask_the_pending_trials_stay_out_and_can_be_told(tmp_path):
    out = tmp_path / "run"
    with gptnas.open_search("nb201", method="rea", budget=12, seed=0, out=out, rea={"population": 2}) as s:
        t = s.ask()
    with gptnas.open_search(out, reask=False) as s:
        u = s.ask()
        assert u.key != t.key and u.number == t.number + 1
        assert [p.number for p in s.pending()] == [t.number, u.number]
        s.tell(t.number, 1.0)
        s.tell(u.key, 2.0)
    with gptnas.open_search(out) as s:
        res = s.result()
    assert [(r["arch"], r["fitness"]) for r in res.archive] == [(t.key, 1.0), (u.key, 2.0)]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=TIMEOUT)


def test_the_command_line_serves_a_job_array_with_concurrent_tells(tmp_path):
    run = str(tmp_path / "run")
    first = _cli("gptnas.ask", run, "--new", "--space", "nb201", "--method", "rea", "--budget", "12", "--seed", "4",
                 "--n", "12", "--set", "rea.population=6")
    assert first.returncode == 3, first.stderr  # 3: the rest waits for results
    trials = [json.loads(line) for line in first.stdout.splitlines()]
    assert [t["number"] for t in trials] == list(range(6))  # the initial population; then it needs results
    assert "needs a result first" in first.stderr
    again = _cli("gptnas.ask", run)
    assert again.returncode == 3 and again.stdout == ""  # another process gets no trial twice

    def tell(t):
        return _cli("gptnas.tell", run, str(t["number"]), str(score(t["arch"])))

    with ThreadPoolExecutor(3) as ex:  # several at once: they take turns on the run directory's lock
        done = list(ex.map(tell, trials))
    assert all(p.returncode == 0 for p in done), [p.stderr for p in done]
    bad = _cli("gptnas.tell", run, "0", "1.0")
    assert bad.returncode == 2 and "trial 0 was told already" in bad.stderr and bad.stderr.count("\n") == 1
    while True:
        p = _cli("gptnas.ask", run, "--n", "3")
        if not p.stdout:
            break
        for line in p.stdout.splitlines():
            t = json.loads(line)
            assert _cli("gptnas.tell", run, str(t["number"]), str(score(t["arch"]))).returncode == 0
    assert p.returncode == 0 and "the search is over" in p.stderr
    ref = drive(gptnas.open_search("nb201", method="rea", budget=12, seed=4, rea={"population": 6}))
    res = gptnas.open_search(run).result()
    assert {r["arch"] for r in res.archive[:6]} == {t["key"] for t in trials}
    assert [r["arch"] for r in res.archive] == [r["arch"] for r in ref.archive]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["evaluations"] == 12


def test_the_readme_job_array_example_runs_as_written(tmp_path):
    import re

    from conftest import REPO
    block = re.search(r"```bash\n(# file: scheduler.sh\n.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    script = tmp_path / "scheduler.sh"
    script.write_text(block.group(1))
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"}
    p = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
                       env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    arch, status = p.stdout.split()
    assert status == "complete" and arch.startswith("|")
    summary = json.loads((tmp_path / "runs/sched/summary.json").read_text())
    assert summary["evaluations"] == 20
