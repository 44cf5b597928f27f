"""What a user's evaluate, files and flags throw at a run (issue 19): results stay correct, nothing is lost, and
every mistake is one line (exit code 2 from the command line; a GptnasError that is also the built-in type users
catch, from Python)."""
from __future__ import annotations

import errno
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gptnas
from conftest import REPO
from gptnas.errors import ConfigError, ConfigTypeError, GptnasError, RunDirError, SpaceError
from gptnas.evaluators import EvalResult, as_result
from gptnas.spaces import CategoricalSequenceSpace

SPACE = CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="six")
USER = ["--space", "tests.helpers.constrained:rules", "--fitness", "tests.helpers.constrained:evaluate"]


def cli(*args, cwd=None, env=None):
    e = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    e.pop("GPTNAS_FAULT_KILL_AFTER_EVALS", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "gptnas.run", "--no-progress", "-q", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, env=e, timeout=600)


def one_error_line(r) -> str:
    """The CLI's answer to a bad input: exit 2, one line, no traceback; returns the line."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(("INFO", "WARNING"))]
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr[-2000:]
    return lines[0]


def _archive(run: Path) -> list:
    from gptnas.storage.archive import read_archive
    a = read_archive(run / "archive.h5")
    return [(int(a["generation"][i]), a["arch"][i], float(a["fitness"][i]), a["origin"][i])
            for i in range(len(a["arch"]))]


# §1 Results that are wrong without a word ---------------------------------------------------------------------
def nan_sometimes(arch):
    """A diverged training run on a third of the architectures."""
    return float("nan") if arch[1] == 1 else float(sum(arch))


@pytest.mark.parametrize("method", ["random", "rea", "ga"])
def test_a_nan_fitness_is_a_failed_evaluation_everywhere(method, tmp_path):
    r = gptnas.search(SPACE, nan_sometimes, method=method, budget=40, seed=0, out=tmp_path / "run", progress=False)
    assert r.status == "complete"
    bad = [row for row in r.archive if SPACE.parse(row["arch"])[1] == 1]
    assert bad and all(row["failed"].startswith("fitness nan is not a finite number") for row in bad)
    assert all(row["fitness"] == -math.inf for row in bad)
    good = [row["fitness"] for row in r.archive if not row["failed"]]
    assert math.isfinite(r.best.fitness) and r.best.fitness == max(good)
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["best"]["fitness"] == max(good) and summary["failed_evaluations"] == len(bad)
    top = r.history.top(len(r.history))
    assert [e.fitness for e in top if not e.failed] == sorted(good, reverse=True)  # failures last, none mid-way
    assert all(e.failed for e in top[len(good):])
    assert all(math.isfinite(i.fitness.values[0]) for i in r.state.hof)  # the hall of fame holds no failure


def test_nan_never_reaches_what_the_gpt_learns_from(tmp_path):
    from gptnas.core.history import History
    from gptnas.methods.gptnas.learner import GPTLearner
    from gptnas.methods.gptnas.options import GPTSettings
    h = History(SPACE.parse)
    for i, f in enumerate([3.0, float("nan"), 5.0, float("inf"), 1.0, 4.0, 2.0, 0.5]):
        g = [i % 3, (i // 3) % 3, 0, 0, 0, 0]
        h.append(SPACE.key(g), f, False, 0, "random")
    assert h.failed() == [False, True, False, True, False, False, False, False]
    assert h.best().fitness == 5.0 and h.top(1)[0].fitness == 5.0
    learner = GPTLearner(None, "", GPTSettings(weighting="rank").resolved(), None, 10)
    kept = {SPACE.key(g) for g in learner.finetune_set(h)}
    assert not kept & {h[1].key, h[3].key}


@pytest.mark.parametrize("value, reason", [(float("inf"), "fitness inf"), (-math.inf, "fitness -inf"),
                                           (EvalResult(float("nan")), "fitness nan"), (None, "returned NoneType"),
                                           ("0.9", "returned str")])
def test_a_fitness_that_is_no_finite_number_is_a_failure(value, reason):
    res = as_result(value)
    assert res.failed and reason in res.failed and res.fitness == -math.inf


@pytest.mark.parametrize("value", [0.5, (0.5,), [0.5], np.float32(0.5), np.array([0.5]), np.float64(0.5)])
def test_one_number_in_any_of_its_forms_is_the_fitness(value):
    res = as_result(value)
    assert res.failed is None and res.fitness == 0.5


@pytest.mark.parametrize("value", [(0.9, 12.0), [1, 2, 3], np.array([0.9, 12.0])])
def test_several_values_are_refused_until_several_objectives_are_supported(value, tmp_path):
    with pytest.raises(TypeError, match="several objectives are not supported yet") as e:
        gptnas.search(SPACE, lambda a: value, method="rea", budget=10, progress=False)
    assert isinstance(e.value, GptnasError) and "\n" not in str(e.value)


def test_duplicate_option_or_position_names_are_refused_when_the_space_is_built():
    with pytest.raises(SpaceError, match="option 'conv' more than once"):
        CategoricalSequenceSpace([["conv", "pool", "conv"]] * 4)
    with pytest.raises(ValueError, match="position name 'x' is used more than once"):
        CategoricalSequenceSpace([["a", "b"]] * 2, names=["x", "x"])
    for bad in (5, "abc", [["a"], 3], {"p": ["a"]}):
        with pytest.raises(TypeError) as e:
            CategoricalSequenceSpace(bad)
        assert isinstance(e.value, GptnasError)
    from gptnas.spaces import MacroSpace, NB201Space
    for make in (lambda: MacroSpace(width=3), lambda: MacroSpace(min_blocks=5, max_blocks=2),
                 lambda: NB201Space().subspace([[0]] * 3), lambda: CategoricalSequenceSpace([[]])):
        with pytest.raises(SpaceError):
            make()


# §3 Data lost or runs silently changed --------------------------------------------------------------------------
def test_a_regular_file_is_never_replaced_by_a_run(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("my notes\n")
    line = one_error_line(cli(*USER, "--budget", "5", "--out", str(f), "--overwrite"))
    assert "is a file, not a run directory" in line and "--resume" not in line
    assert "--resume" not in one_error_line(cli(*USER, "--budget", "5", "--out", str(f)))
    with pytest.raises(RunDirError, match="is a file"):
        gptnas.search(SPACE, sum, method="rea", budget=5, out=f, overwrite=True, progress=False)
    assert f.read_text() == "my notes\n"


@pytest.fixture
def finished(tmp_path):
    """A finished rea run of 20 on the user's constrained space, through the command line."""
    r = cli(*USER, "--method", "rea", "--budget", "20", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp_path / "run"


def test_an_edited_config_is_refused_on_resume_naming_the_key(finished):
    cfg = finished / "config.yaml"
    text = cfg.read_text()
    cfg.write_text(text.replace("method: rea", "method: ga"))
    line = one_error_line(cli("--resume", str(finished)))
    assert "search.method: 'rea' -> 'ga'" in line
    cfg.write_text(text.replace("workers: 1", "workers: 2"))  # where it runs may change
    assert cli("--resume", str(finished)).returncode == 0


def test_resume_flags_are_honoured_or_refused_never_ignored(finished):
    before = _archive(finished)
    for args, what in ((["--method", "ga"], "--method cannot change"), (["--seed", "3"], "--seed cannot change"),
                       (["--set", "search.sample=3"], "--set search.sample cannot change"),
                       (["--overwrite"], "--overwrite starts a new run"), (["--budget", "10"], "below the 20")):
        assert what in one_error_line(cli("--resume", str(finished), *args))
    assert _archive(finished) == before
    r = cli("--resume", str(finished), "--budget", "35", "--workers", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    after = _archive(finished)
    assert len(after) == 35 and after[:20] == before  # the finished run went on, its first 20 untouched
    s = json.loads((finished / "summary.json").read_text())
    assert s["status"] == "complete" and s["budget"] == 35
    assert cli("--resume", str(finished)).returncode == 0  # the new budget is the run's now, not an edit


def test_a_null_override_is_refused(finished):
    assert "search.budget=null cannot be given" in one_error_line(cli("--resume", str(finished), "--set",
                                                                      "search.budget=null"))


def test_gptnas_resume_takes_a_larger_budget(tmp_path):
    gptnas.search(SPACE, sum, method="rea", budget=15, seed=2, out=tmp_path / "r", progress=False)
    r = gptnas.resume(tmp_path / "r", space=SPACE, evaluate=sum, budget=25, progress=False)
    assert r.status == "complete" and r.evaluations == 25


def test_the_seed_is_checked_before_the_search(tmp_path):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\]") as e:
        gptnas.search(SPACE, sum, method="rea", budget=5, seed=2 ** 64, progress=False)
    assert isinstance(e.value, GptnasError)
    r = gptnas.search(SPACE, sum, method="rea", budget=5, seed=2 ** 63 - 1, out=tmp_path / "r", progress=False)
    assert r.status == "complete" and (tmp_path / "r/archive.h5").is_file()


def _killed_ga_run(tmp_path, name: str):
    """A GA run on the slow space killed (-9) after 33 evaluations, beside its uninterrupted twin ``ref``; returns
    (the run directory, the evaluator's environment, the architectures evaluated before the kill)."""
    env = {"SLOW_CALLS": str(tmp_path / "calls.txt"), "SLOW_SECONDS": "0"}
    args = ["--space", "tests.helpers.slow_space:space", "--fitness", "tests.helpers.slow_space:evaluate",
            "--method", "ga", "--population", "10", "--budget", "40", "--seed", "1"]
    assert cli(*args, "--out", str(tmp_path / "ref"), env=env).returncode == 0
    (tmp_path / "calls.txt").unlink()
    run = tmp_path / name
    r = cli(*args, "--out", str(run), env={**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "33"})
    assert r.returncode == -9
    return run, env, (tmp_path / "calls.txt").read_text().splitlines()


def test_a_truncated_checkpoint_resumes_from_the_journals_without_evaluating_again(tmp_path):
    killed, env, made = _killed_ga_run(tmp_path, "killed")
    ck = killed / "checkpoint.pkl"
    ck.write_bytes(ck.read_bytes()[:50])  # torn by a disk error
    r = cli("--resume", str(killed), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    again = (tmp_path / "calls.txt").read_text().splitlines()[len(made):]
    assert len(again) == 40 - len(made) and not set(again) & set(made)  # nothing journaled was evaluated again
    assert _archive(killed) == _archive(tmp_path / "ref")
    assert (killed / "checkpoint.damaged.pkl").is_file()  # kept for a person to look at
    assert "rebuilding the run from its journals" in (killed / "log.txt").read_text()


def test_a_crash_while_the_journals_are_replayed_loses_nothing(tmp_path, monkeypatch):
    """The torn checkpoint's rebuild replays 33 journaled evaluations; a second crash right after the replay's first
    checkpoint must leave the ones not yet replayed journaled: the third session evaluates only what was never
    made, and the archive is the uninterrupted run's."""
    from gptnas.search import driver
    run, env, made = _killed_ga_run(tmp_path, "run")
    (run / "checkpoint.pkl").write_bytes(b"torn")
    monkeypatch.setenv("SLOW_CALLS", env["SLOW_CALLS"])
    monkeypatch.setenv("SLOW_SECONDS", "0")
    original = driver.Checkpointer.__call__

    def crash_after_first_write(self, state):
        before = self.last_checkpoint
        original(self, state)
        if self.last_checkpoint != before:
            raise KeyboardInterrupt
    monkeypatch.setattr(driver.Checkpointer, "__call__", crash_after_first_write)
    with pytest.raises(KeyboardInterrupt):
        gptnas.resume(run, progress=False)
    assert len((run / "pending.jsonl").read_text().splitlines()) > 0  # the rest of the replay, still journaled
    monkeypatch.setattr(driver.Checkpointer, "__call__", original)
    assert gptnas.resume(run, progress=False).status == "complete"
    again = (tmp_path / "calls.txt").read_text().splitlines()[len(made):]
    assert len(again) == 40 - len(made) and not set(again) & set(made)
    assert _archive(run) == _archive(tmp_path / "ref")


def test_a_nan_row_of_an_older_run_is_read_as_a_failure():
    from gptnas.search.state import SearchState
    from gptnas.storage.archive import make_row
    rows = [make_row(0, "a", EvalResult(1.0), 0.1, 0.1, "random"),
            {**make_row(0, "b", EvalResult(2.0), 0.1, 0.2, "random"), "fitness": float("nan")}]
    ck = SearchState()
    ck.archive.rows = rows
    d = ck.to_dict()
    st = SearchState.from_dict(d, rows, [])
    assert st.cache["b"].failed and st.num_failed == 1 and st.best_row()["arch"] == "a"
    assert st.history.failed() == [False, True]


def test_principles_from_a_run_of_another_space_are_refused(nb201_dir, tmp_path):
    data = str(nb201_dir.parent)
    r = cli("--space", "tnb101", "--dataset", "class_scene", "--data", data, "--method", "random", "--budget", "10",
            "--out", str(tmp_path / "tnb"))
    assert r.returncode == 0, r.stderr[-2000:]
    for flag in ("--principles-from", "--transfer-from"):
        line = one_error_line(cli("--space", "nb201", "--data", data, "--method", "lapt" if "principles" in flag
                                  else "gptnas", flag, str(tmp_path / "tnb"), "--out", str(tmp_path / "x")))
        assert "searched space 'tnb101'" in line and "'nb201'" in line


# §4 One line where a traceback was ------------------------------------------------------------------------------
@pytest.mark.parametrize("setup, args, says", [
    (b"- a\n- b\n", ["--config", "c.yaml"], "holds a YAML list, not a mapping"),
    (b"42\n", ["--config", "c.yaml"], "holds a YAML int"),
    (b"space: \xff\xfe\n", ["--config", "c.yaml"], "is not UTF-8 text"),
    (b"search: 5\n", ["--config", "c.yaml", "--budget", "5"], "search is a value (5), not a section"),
    (None, ["--set", "search.budget.x=3"], "search.budget must be an integer"),
    (None, ["--set", "search.budget=[1,"], "cannot read '[1,' as a YAML value"),
    (None, ["--set", "out=[1,2]"], "out must be text"),
    (None, ["--set", "data=[1,2]"], "data must be text"),
    (None, ["--set", "llm.timeout_s=-1"], "llm.timeout_s must be a number > 0"),
    (None, ["--set", "llm.retries=abc"], "llm.retries must be an integer ≥ 0"),
    (None, ["--set", "train.lr=fast"], "train.lr must be a number"),
    (None, ["--budget", "abc"], "invalid int value: 'abc' (python -m gptnas.run --help"),
    (None, ["--set", "search=null"], "would drop the whole search section"),
    (None, ["--set", "workers=two"], "workers must be an integer"),
])
def test_a_bad_file_or_flag_is_one_line(setup, args, says, tmp_path):
    if setup is not None:
        (tmp_path / "c.yaml").write_bytes(setup)
    assert says in one_error_line(cli(*args, cwd=tmp_path))


def test_a_principles_file_with_words_for_numbers_is_one_line(nb201_dir, tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"space": "nb201", "positions": [
        {"name": "e01", "allowed": ["nor_conv_3x3"], "evidence": [{"option": "nor_conv_3x3", "score": "high"}]}]}))
    line = one_error_line(cli("--space", "nb201", "--data", str(nb201_dir), "--method", "lapt", "--principles-file",
                              str(tmp_path / "p.json"), "--out", str(tmp_path / "r")))
    assert "evidence score must be a finite number, got 'high'" in line


@pytest.mark.parametrize("call, says", [
    (lambda: gptnas.search(SPACE, sum, method="rea", budget=5, workers="two"), "workers must be an integer"),
    (lambda: gptnas.search(SPACE, sum, method="rea", budget=5, gpt=[1]), "section gpt must be a mapping"),
    (lambda: gptnas.search([1, 2], sum, method="rea", budget=5), "space must be a search space"),
    (lambda: gptnas.search(SPACE, 5, method="rea", budget=5), "evaluate must be a function"),
    (lambda: gptnas.search(SPACE, sum, method="rea", budget=5, foo=1), "unexpected keyword 'foo'"),
    (lambda: gptnas.search(SPACE, sum, method=5, budget=5), "method must be a method's name"),
    (lambda: gptnas.search(SPACE, sum, method="rea", budget="ten"), "search.budget must be an integer"),
    (lambda: gptnas.search(SPACE, sum, method="rea", budget=5, search=[1]), "section search must be a mapping"),
])
def test_python_mistakes_are_gptnas_errors_of_the_type_users_catch(call, says):
    with pytest.raises(TypeError, match=says) as e:
        call()
    assert isinstance(e.value, ConfigTypeError)


def test_an_unwritable_out_is_one_line(tmp_path, monkeypatch, capsys):
    from gptnas.run import main

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))
    with monkeypatch.context() as m:
        m.setattr(Path, "mkdir", read_only)
        with pytest.raises(RunDirError, match="cannot create run directory .*Read-only file system"):
            gptnas.search(SPACE, sum, method="rea", budget=5, out=tmp_path / "ro" / "run", progress=False)
    # the disk filling up mid-run: one line, and the command that resumes what was saved
    from gptnas.storage import rundir

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.checkpoint))
    monkeypatch.setattr(rundir.RunDir, "write_checkpoint", full)
    rc = main([*USER, "--method", "rea", "--budget", "30", "--out", str(tmp_path / "full"), "--no-progress", "-q"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert rc == 2 and len(err) == 1 and "No space left on device" in err[0] and "--resume" in err[0]


# §5 Waiting and advice ------------------------------------------------------------------------------------------
def test_an_llm_that_never_answers_meets_the_deadline():
    from gptnas.lm.llm import ChatClient, LLMError, LLMSettings
    from helpers.llm_server import LLMServer
    with LLMServer() as srv:
        srv.script(("sleep", 3.0, "late"))
        c = ChatClient(LLMSettings(url=srv.url, model="m", timeout_s=0.3, retries=50, backoff_s=0.05, deadline_s=1.0))
        with pytest.raises(LLMError, match=r"within llm\.deadline_s = 1 s \(waited \d+ s, (\d+) attempt") as e:
            c.chat([{"role": "user", "content": "hi"}])
        # the deadline, not the 51 retries, ended it: a 0.3-s timeout fits at most 4 attempts in 1 s (counted, not
        # timed, so a loaded machine cannot flake it)
        tried = int(re.search(r"(\d+) attempt", str(e.value)).group(1))
        assert 1 <= tried <= 4 and len(srv.requests) == tried
    assert "llm.timeout_s" in str(e.value) and "llm.url" in str(e.value)


@pytest.mark.parametrize("flag", ["--rank-from", "--principles-from", "--transfer-from"])
def test_an_empty_source_is_refused(flag, nb201_dir):
    method = {"--rank-from": "lmsearcher", "--principles-from": "lapt", "--transfer-from": "gptnas"}[flag]
    line = one_error_line(cli("--space", "nb201", "--data", str(nb201_dir), "--method", method, flag, ""))
    assert "is empty" in line


def test_llm_settings_are_checked_like_every_other_section():
    from gptnas.lm.llm import LLMSettings
    for bad in ({"timeout_s": 0}, {"deadline_s": -1}, {"retries": 1.5}, {"max_tokens": 0}, {"url": 5}):
        with pytest.raises(ConfigError):
            LLMSettings(**bad).validate()
    LLMSettings().validate()


def test_a_ranker_source_too_small_to_learn_from_is_one_line(tmp_path):
    from helpers.constrained import evaluate, evaluate_b, plain
    gptnas.search(plain, evaluate_b, method="random", budget=40, seed=1, out=tmp_path / "small", progress=False)
    with pytest.raises(ConfigError, match="found no training sample .* give --rank-from a larger run"):
        gptnas.search(plain, evaluate, method="lmsearcher", rank={"source": str(tmp_path / "small")}, budget=10,
                      gpt={"cache_dir": str(tmp_path / "cache")}, progress=False)
