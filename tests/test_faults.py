"""The engine under faults (issue 36): an evaluation that never returns."""
import os
import subprocess
import sys
import time
from pathlib import Path

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


class Slow:
    """A quarter-second evaluation (a run that is still going when it is killed); picklable."""

    def __call__(self, arch):
        time.sleep(0.25)
        return float(sum(arch))


class StuckInC:
    """For architectures starting with ``d``: an evaluation that ignores the timer signal (as a C call that never
    checks for signals does: SIGALRM blocked) and never returns; picklable."""

    def __call__(self, arch):
        if arch[0] == 3:
            import signal
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(3600)
        return float(sum(arch))


@pytest.mark.parametrize("parallel,workers", [("process", 1), ("process", 2), ("ray", 2)])
def test_a_worker_stuck_where_the_timer_cannot_reach_is_killed_and_replaced(parallel, workers, tmp_path, monkeypatch):
    if parallel == "ray":
        ray = pytest.importorskip("ray")
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent),
                                                          os.environ.get("PYTHONPATH", "")]))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    t0 = time.monotonic()
    try:
        r = gptnas.search(SPACE, StuckInC(), method="rea", budget=8, seed=0, workers=workers,
                          parallel=None if workers == 1 else parallel,  # one worker: a process, since a limit is set
                          progress=False, search={"eval_timeout": 0.5, "max_failed_share": 0.9})
    finally:
        if parallel == "ray":
            ray.shutdown()
    assert r.status == "complete" and r.evaluations == 8
    stuck = [row for row in r.archive if SPACE.parse(row["arch"])[0] == 3]
    ok = [row for row in r.archive if SPACE.parse(row["arch"])[0] != 3]
    assert stuck and ok
    assert all("timed out after 0.5 s (search.eval_timeout): it did not stop at the limit" in row["failed"]
               for row in stuck)
    assert all(not row["failed"] and row["fitness"] == sum(SPACE.parse(row["arch"])) for row in ok)
    assert time.monotonic() - t0 < 120  # never the hour a stuck evaluation would take


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


class Score:
    """A plain picklable score."""

    def __call__(self, arch):
        return float(sum(a * (i + 1) for i, a in enumerate(arch)))


@pytest.mark.parametrize("method", ["rea", "ga"])
def test_one_worker_in_its_own_process_gives_the_same_archive(method):
    # a time limit moves one worker's evaluations into a process of its own: nothing else may change
    here = gptnas.search(SPACE, Score(), method=method, budget=30, seed=2, progress=False)
    there = gptnas.search(SPACE, Score(), method=method, budget=30, seed=2, progress=False,
                          search={"eval_timeout": 60})
    assert [r["arch"] for r in there.archive] == [r["arch"] for r in here.archive]
    assert [r["fitness"] for r in there.archive] == [r["fitness"] for r in here.archive]


def test_an_evaluator_that_cannot_travel_runs_here_under_a_limit_and_says_so(caplog):
    # a limit runs one worker in a process of its own; a lambda cannot be sent there: it runs here, with a word
    with caplog.at_level("WARNING", logger="gptnas.search.driver"):
        r = gptnas.search(SPACE, lambda a: float(sum(a)), method="rea", budget=5, seed=0, progress=False,
                          search={"eval_timeout": 10})
    assert r.evaluations == 5
    assert any("the evaluator cannot be sent to a worker process" in m.getMessage() for m in caplog.records)


# 2. A time budget that holds while evaluations run --------------------------------------------------------------
class Durations:
    """A score with the training time it would take (``train_time_s``: 30 to 210 virtual seconds, by the ops)."""

    def __call__(self, arch):
        from gptnas.evaluators.base import EvalResult
        return EvalResult(float(sum(arch)), {"train_time_s": 30.0 + 60 * arch[0] + 7 * arch[1]})


def _rows(r, until=None):
    return sorted((row["arch"], row["fitness"]) for row in r.archive if until is None or row["elapsed_s"] <= until)


@pytest.mark.parametrize("method", ["rea", "ga-generational"])
def test_cancel_stops_at_the_deadline_and_keeps_every_result_already_in(method):
    kw = {"ga": {"steady": False}} if method == "ga-generational" else {}
    name = method.split("-")[0]

    def run(on_time):
        return gptnas.search(SPACE, Durations(), method=name, budget=150, seed=2, workers=4, parallel="simulated",
                             progress=False, search={"budget_time": 700, "on_time": on_time}, **kw)
    cut, done = run("cancel"), run("finish")
    assert cut.status == done.status == "time"
    assert cut.state.elapsed_s == 700  # the clock stops at the deadline, not at the next result after it
    assert max(row["elapsed_s"] for row in cut.archive) <= 700 < max(row["elapsed_s"] for row in done.archive)
    # what had finished by the deadline is kept, a generation cut short included; nothing else
    assert _rows(cut) == _rows(done, until=700) and cut.state.cancelled > 0


def test_finish_says_it_waits_for_the_evaluations_in_flight(caplog):
    with caplog.at_level("WARNING", logger="gptnas.search.engine"):
        r = gptnas.search(SPACE, Durations(), method="rea", budget=150, seed=2, workers=4, parallel="simulated",
                          progress=False, search={"budget_time": 700})
    assert r.status == "time"
    assert any("time budget spent: waiting for the" in rec.getMessage() for rec in caplog.records)


class HangOnD:
    """0.2 s per evaluation, an hour for architectures starting with ``d``."""

    def __call__(self, arch):
        time.sleep(3600 if arch[0] == 3 else 0.2)
        return float(sum(arch))


@pytest.mark.parametrize("workers", [1, 3])
def test_cancel_stops_an_evaluation_that_never_returns_at_the_deadline(tmp_path, workers):
    # one worker: in a worker process of its own (an evaluation in the search's process could not be stopped)
    t0 = time.monotonic()
    deadline = 8 if workers > 1 else 4
    r = gptnas.search(SPACE, HangOnD(), method="rea", budget=200, seed=3, workers=workers, progress=False,
                      out=tmp_path / "r", search={"budget_time": deadline, "on_time": "cancel"})
    took = time.monotonic() - t0
    assert r.status == "time" and r.evaluations >= 1 and r.state.cancelled >= 1
    assert took < 30, took  # not the hour the hung evaluation would take
    import json
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert deadline <= summary["search_time_s"] < deadline + 4 and summary["evaluations"] == r.evaluations
    assert summary["wall_time_s"] >= summary["search_time_s"]  # the run's real time holds the search's
    assert all(row["elapsed_s"] <= deadline for row in r.archive)


# 3. Ctrl-C with workers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_with_workers_stops_in_one_line_and_the_run_resumes(tmp_path, presses):
    import json
    import os
    import signal
    (tmp_path / "userfit.py").write_text("import time\n\ndef slow(arch):\n    time.sleep(0.2)\n"
                                         "    return float(sum(arch))\n")
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "userfit:slow", "--method", "rea",
           "--budget", "60", "--workers", "4", "--seed", "2", "--no-progress", "--out", str(out)]
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)  # its own process group, as a terminal's foreground job
    journal = out / "evaluations.jsonl"
    t0 = time.monotonic()
    while not (journal.exists() and len(journal.read_text().splitlines()) >= 8):
        assert p.poll() is None and time.monotonic() - t0 < 120, p.communicate()
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C sends: the search process and every worker
    if presses == 2:  # an impatient second press while it stops: exit at once, still resumable
        time.sleep(0.05)
        os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"continue with python -m gptnas.run --resume {out}" in err
    if presses == 1:
        assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(out), "--no-progress", "-q"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["evaluations"] == 60


# 4. Workers and their start-up ------------------------------------------------------------------------------------
def test_no_more_worker_processes_than_the_budget_and_a_word_above_the_cores(caplog, monkeypatch):
    import os
    from gptnas.search.parallel import ProcessMap, make_map
    monkeypatch.delenv("GPTNAS_OVERSUBSCRIBE", raising=False)
    pm = make_map("process", 40, budget=3)
    assert isinstance(pm, ProcessMap) and pm.workers == 3 and pm.slots == 40  # the lag and results unchanged
    cores = os.cpu_count() or 1
    with caplog.at_level("WARNING", logger="gptnas.search.parallel"):
        make_map("process", cores + 1, budget=100)
    assert any(f"{cores + 1} worker processes on {cores} cores" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setenv("GPTNAS_OVERSUBSCRIBE", "1")
    with caplog.at_level("WARNING", logger="gptnas.search.parallel"):
        make_map("process", cores + 1, budget=100)
    assert not caplog.records


def test_the_system_refusing_worker_processes_is_one_line(monkeypatch):
    from concurrent.futures import ProcessPoolExecutor

    from gptnas.errors import ConfigError
    from gptnas.search.parallel import ProcessMap

    def refuse(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(ProcessPoolExecutor, "_launch_processes", refuse)
    pm = ProcessMap(10000)
    with pytest.raises(ConfigError, match="could not start 10000 worker processes: the system refused "
                                          r"\(Resource temporarily unavailable\); use fewer --workers"):
        pm.submit(HangSome(), [0, 0, 0, 0])
    pm.close()


class Pid:
    def __call__(self, arch):
        import os

        from gptnas.evaluators.base import EvalResult
        return EvalResult(float(sum(arch)), {"pid": os.getpid()})


def test_a_worker_is_replaced_after_max_tasks_per_worker_evaluations():
    import json

    def pids(**search):
        r = gptnas.search(SPACE, Pid(), method="rea", budget=12, seed=0, workers=2, progress=False, search=search)
        return r, {json.loads(row["extras"])["pid"] for row in r.archive}
    leaky, many = pids(max_tasks_per_worker=2)
    plain, few = pids()
    assert len(few) <= 2 and len(many) >= 6  # a fresh process every 2 evaluations (a leak stays bounded)
    assert [row["arch"] for row in leaky.archive] == [row["arch"] for row in plain.archive]  # nothing else changes


def test_a_worker_imports_only_what_a_pure_python_fitness_needs(tmp_path):
    # every worker used to import torch's users and the whole package (config, spaces, methods, the engine) through
    # the command line's own module: seconds of start-up on 2 cores for a fitness that needs none of it
    (tmp_path / "userfit.py").write_text(
        "import os, sys, time\nfrom gptnas.evaluators.base import EvalResult\n\n"
        "HEAVY = ('torch', 'gptnas.config', 'gptnas.search.engine', 'gptnas.spaces', 'gptnas.methods', 'h5py')\n\n"
        "def fit(arch):\n"
        "    time.sleep(0.3)  # both workers take some\n"
        "    return EvalResult(1.0, {'pid': os.getpid(), 'loaded': [m for m in HEAVY if m in sys.modules]})\n")
    p = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "userfit:fit",
                        "--method", "random", "--budget", "6", "--workers", "2", "--no-progress", "-q",
                        "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    import json

    from gptnas.storage.archive import read_archive
    extras = [json.loads(x) for x in read_archive(tmp_path / "r" / "archive.h5")["extras"]]
    assert len(extras) == 6 and len({e["pid"] for e in extras}) == 2  # evaluated in the two workers
    assert all(e["loaded"] == [] for e in extras), extras[0]


# 5. Results that cannot travel ------------------------------------------------------------------------------------
class BadExtras:
    """Architectures starting with ``d`` return extras that cannot travel (``kind="lambda"``) or a test accuracy that
    is no number (``kind="test"``); the others a plain result."""

    def __init__(self, kind):
        self.kind = kind

    def __call__(self, arch):
        from gptnas.evaluators.base import EvalResult
        if arch[0] == 3:
            return EvalResult(1.0, {"f": (lambda: 1)} if self.kind == "lambda" else {"test": "high"})
        return EvalResult(float(sum(arch)), {"test": 50.0})


@pytest.mark.parametrize("kind,reason", [("lambda", "its extras cannot be sent from a worker process"),
                                         ("test", "extras['test'] is str 'high': it must be the test accuracy")])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_result_that_cannot_travel_is_that_evaluation_failing(kind, reason, workers):
    r = gptnas.search(SPACE, BadExtras(kind), method="rea", budget=12, seed=0, workers=workers, progress=False,
                      search={"max_failed_share": 0.9})
    assert r.status == "complete" and r.evaluations == 12
    bad = [row for row in r.archive if SPACE.parse(row["arch"])[0] == 3]
    assert bad and all(reason in row["failed"] for row in bad)
    assert all(not row["failed"] for row in r.archive if SPACE.parse(row["arch"])[0] != 3)


def test_a_run_directory_deleted_mid_run_is_one_line(tmp_path):
    import shutil
    (tmp_path / "userfit.py").write_text("import time\n\ndef slow(arch):\n    time.sleep(0.1)\n"
                                         "    return float(sum(arch))\n")
    out = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "userfit:slow",
                          "--method", "rea", "--budget", "400", "--no-progress", "-q", "--out", str(out)],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / "evaluations.jsonl"
    t0 = time.monotonic()
    while not (journal.exists() and journal.read_text().count("\n") >= 3):
        assert p.poll() is None and time.monotonic() - t0 < 120, p.communicate()
        time.sleep(0.05)
    while out.exists():  # (a file the run writes meanwhile can make one pass miss it)
        shutil.rmtree(out, ignore_errors=True)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert "Traceback" not in err and f"the run directory {out} disappeared" in err


def test_kill_9_of_a_run_on_its_own_ray_cluster_ends_the_cluster_too(tmp_path):
    pytest.importorskip("ray")
    if not Path("/proc/self").is_dir():
        pytest.skip("the watcher reads /proc (Linux)")
    from gptnas.core.reaper import descendants
    script = tmp_path / "search.py"
    script.write_text(
        "import sys, time\nsys.path.insert(0, %r)\nimport gptnas\nfrom test_faults import SPACE, Slow\n"
        "if __name__ == '__main__':\n"
        "    gptnas.search(SPACE, Slow(), method='rea', budget=200, seed=0, workers=2, parallel='ray',\n"
        "                  progress=False, out=sys.argv[1])\n" % str(Path(__file__).parent))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run")], cwd=tmp_path,
                            env={**os.environ, "GPTNAS_FAULT_HOLD_AFTER_EVALS": "2",  # Ray's workers import Slow
                                 "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                                os.environ.get("PYTHONPATH", "")])})
    journals = [tmp_path / "run" / name for name in ("pending.jsonl", "evaluations.jsonl")]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 180 and proc.poll() is None and \
            sum(len(j.read_text().splitlines()) for j in journals if j.exists()) < 2:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the kill"
    ray_pids = [p for p in descendants([proc.pid]) if p != proc.pid]
    assert len(ray_pids) >= 3  # Ray's head processes and its workers
    proc.kill()
    assert proc.wait() == -9

    def running(pid):  # (a zombie waiting for whoever adopted it has ended)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] != "Z"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30 and any(running(p) for p in ray_pids):
        time.sleep(0.5)
    left = [Path(f"/proc/{p}/cmdline").read_bytes()[:60] for p in ray_pids if running(p)]
    assert not left, left


def test_a_ray_address_nobody_answers_at_is_one_line(monkeypatch):
    ray = pytest.importorskip("ray")
    from gptnas.errors import ConfigError
    from gptnas.search.parallel import RayMap

    def refuse(**kw):
        raise ConnectionError("Could not find any running Ray instance.\nPlease specify the one to connect to")
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(ConfigError, match=r"could not connect to the Ray cluster at 10\.255\.255\.1:6379 "
                                          r"\(ConnectionError: Could not find any running Ray instance\.\): check "
                                          "--ray-address"):
        RayMap("10.255.255.1:6379", slots=2).submit(HangSome(), [0, 0, 0, 0])


def test_the_limit_puts_back_a_timer_someone_else_set():
    # pytest-timeout (and a user's own code) may use the same timer signal: it still fires, on time
    import signal
    from gptnas.evaluators.timed import TimedEvaluate
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(time.monotonic()))
    try:
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        res, _ = TimedEvaluate(lambda a: (time.sleep(0.1), 1.0)[1], timeout=5)([0])
        assert res.fitness == 1.0 and not fired
        time.sleep(1.0)
        assert len(fired) == 1 and 0.5 < fired[0] - t0 < 0.9
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
