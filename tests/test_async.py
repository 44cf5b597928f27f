"""Every worker busy: the asynchronous engine (ask/tell), its two orders, time budgets and the simulated clock.

The evaluator reports a training time (``train_time_s``); the simulated backend lets each evaluation take that long
on a virtual clock, the process pool sleeps a thousandth of it: in ``lag`` order both must give the same archive.
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import gptnas
from gptnas.core.history import History
from gptnas.errors import ConfigError
from gptnas.evaluators.base import EvalResult
from helpers.kill9 import kill_and_resume

OPS = ["conv3", "conv5", "pool", "skip"]
SPACE = gptnas.spaces.CategoricalSequenceSpace([OPS] * 6, name="chain6")


def score(arch) -> float:
    return sum((2 - i / 3) * (op == 1) + (i / 3) * (op == 2) for i, op in enumerate(arch)) - \
        2 * sum(a == b == 2 for a, b in zip(arch, arch[1:]))


def duration(arch) -> float:
    """Seconds of a pretend training run: 20 to 180, by the ops (convolutions train longer)."""
    return 20.0 + 40 * sum(op in (0, 1) for op in arch) - 10 * arch[0]


class Timed:
    """A score (``score``) with the training time it would have taken (``duration``); ``sleep``: the share of it
    really slept (0: none);
    ``stop_after``: raise KeyboardInterrupt at that call when ``marker`` does not exist yet (a crash, once)."""

    def __init__(self, sleep: float = 0.0, stop_after=None, marker=None, score=score, duration=duration):
        self.sleep, self.stop_after, self.marker, self.calls = sleep, stop_after, marker, 0
        self.score, self.duration = score, duration

    def __call__(self, arch):
        self.calls += 1
        if self.stop_after is not None and self.calls == self.stop_after and not Path(self.marker).exists():
            Path(self.marker).write_text("stopped once")
            raise KeyboardInterrupt
        if self.sleep:
            time.sleep(self.duration(arch) * self.sleep)
        return EvalResult(self.score(arch), {"train_time_s": self.duration(arch)})


def keys(result):
    return [(r["arch"], r["fitness"], r["generation"]) for r in result.archive]


def run(method="rea", workers=4, parallel="simulated", budget=60, seed=3, evaluate=None, **kw):
    return gptnas.search(SPACE, evaluate or Timed(), method=method, budget=budget, seed=seed, workers=workers,
                         parallel=parallel, progress=False, **kw)


def test_lag_order_gives_one_archive_whatever_the_timing():
    # The simulated clock and real processes finish evaluations in different orders: the archive is the same.
    sim = run("rea", workers=3)
    assert sim.status == "complete" and sim.evaluations == 60
    pool = run("rea", workers=3, parallel="process", evaluate=Timed(sleep=0.0005))
    assert keys(pool) == keys(sim)
    assert keys(run("rea", workers=3)) == keys(sim)


def test_lag_is_what_a_proposal_sees_and_one_worker_is_todays_loop():
    one = run("rea", workers=1)
    assert keys(run("rea", workers=1, parallel="serial")) == keys(one)
    four = run("rea", workers=4)
    assert keys(four) != keys(one)  # a lag of 4 results is a different search ...
    assert keys(run("rea", workers=8, search={"lag": 4})) == keys(four)  # ... and only the lag decides which


@pytest.mark.parametrize("method", ["rea", "random", "ga", "ga-generational", "no-gpt", "gptnas", "gptnas-paper"])
def test_every_worker_is_kept_busy_on_the_virtual_clock(method):
    kw = {}
    if method == "no-gpt":  # the default method's REA loop with the GPT off
        method, kw = "gptnas", {"gpt": {"enabled": False}}
    elif method == "ga-generational":
        method, kw = "ga", {"ga": {"steady": False}}
    elif method == "gptnas-paper":  # its GA loop: steady-state on several workers unless asked otherwise
        method, kw = "gptnas", {"gpt": {"preset": "paper"}}
    one = run(method, workers=1, budget=80, **kw)
    eight = run(method, workers=8, budget=80, **kw)
    assert eight.evaluations == one.evaluations == 80
    speedup = one.state.elapsed_s / eight.state.elapsed_s
    # steady-state loops keep 8 workers busy; the generational GA waits at each generation for its slowest child
    assert speedup > (2.5 if "steady" in str(kw) else 5.5), speedup
    rows = eight.archive
    starts = sorted(r["elapsed_s"] - r["eval_time_s"] for r in rows)
    assert starts[7] == 0.0  # the first eight evaluations all start at once


def test_a_kill_mid_search_resumes_to_the_identical_run(tmp_path):
    ref = run("gptnas", workers=4, budget=50, out=tmp_path / "ref")
    stop = Timed(stop_after=30, marker=tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        run("gptnas", workers=4, budget=50, out=tmp_path / "run", evaluate=stop)
    ck = (tmp_path / "run" / "checkpoint.pkl").exists()
    resumed = gptnas.resume(tmp_path / "run", space=SPACE, evaluate=stop, progress=False)
    assert ck and keys(resumed) == keys(ref)


def test_arrival_order_replays_the_recorded_arrivals(tmp_path):
    ref = run("rea", workers=4, budget=50, search={"order": "arrival"})
    stop = Timed(stop_after=35, marker=tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        run("rea", workers=4, budget=50, out=tmp_path / "run", evaluate=stop, search={"order": "arrival"})
    journaled = [json.loads(line)["arch"] for f in ("evaluations.jsonl", "pending.jsonl")
                 for line in (tmp_path / "run" / f).read_text().splitlines()]
    assert len(journaled) >= 20
    resumed = gptnas.resume(tmp_path / "run", space=SPACE, evaluate=stop, progress=False)
    # What arrived before the crash is told again in the order it arrived, so the search makes the same
    # proposals: the resumed archive begins exactly as the uninterrupted one ...
    n = len(journaled)
    assert [r["arch"] for r in resumed.archive[:n]] == [r["arch"] for r in ref.archive[:n]]
    # ... and nothing journaled is evaluated again
    assert stop.calls == 35 + 50 - n  # the crashed call, then each evaluation not journaled, once
    assert resumed.status == "complete" and resumed.evaluations == 50


def test_kill_9_on_the_process_pool_resumes_to_the_identical_run(tmp_path):
    workers = kill_and_resume(
        tmp_path, "from test_async import SPACE, Timed",
        'gptnas.search(SPACE, Timed(sleep=0.002), method="rea", budget=60, seed=5, workers=3, progress=False, out=out)',
        "gptnas.resume(out, space=SPACE, evaluate=Timed(sleep=0.002), progress=False)", kill_after=12)
    assert workers and not any(Path(f"/proc/{w}").exists() for w in workers)  # none outlives the search process
    from gptnas.storage.archive import read_archive
    a, b = (read_archive(tmp_path / d / "archive.h5") for d in ("ref", "run"))
    assert list(a["arch"]) == list(b["arch"]) and len(a["arch"]) == 60
    assert list(a["fitness"]) == list(b["fitness"])


def test_the_time_budget_starts_nothing_after_it():
    done = run("rea", workers=4, budget=500, search={"budget_time": 600})
    assert done.status == "time" and 4 < done.evaluations < 500
    starts = [r["elapsed_s"] - r["eval_time_s"] for r in done.archive]
    assert max(starts) < 600 and max(r["elapsed_s"] for r in done.archive) > 600  # those in flight finished
    cut = run("rea", workers=4, budget=500, search={"budget_time": 600, "on_time": "cancel"})
    assert cut.status == "time" and max(r["elapsed_s"] for r in cut.archive) <= 600
    assert cut.state.cancelled > 0 and cut.evaluations < done.evaluations
    serial = run("rea", workers=1, budget=500, search={"budget_time": "10m"})
    assert serial.status == "time" and serial.state.elapsed_s >= 600 and serial.evaluations < 500


def test_time_budget_flags_and_bad_values(tmp_path):
    from gptnas.config import parse_duration
    assert parse_duration("8h") == 8 * 3600 and parse_duration("1h30m") == 5400 and parse_duration(90) == 90
    assert parse_duration("2d") == 2 * 86400 and parse_duration("45") == 45
    for bad in ("8 hours", "-5", "0", "h", True):
        with pytest.raises(ConfigError, match="budget_time"):
            run("rea", search={"budget_time": bad})
    with pytest.raises(ConfigError, match="search.order"):
        run("rea", search={"order": "fastest"})
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "proxy:params",
                        "--method", "rea", "--budget", "10", "--budget-time", "soon", "--out", str(tmp_path / "x"),
                        "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "90s, 30m, 8h" in r.stderr


def test_proposals_avoid_what_is_in_flight():
    from gptnas.methods.lmsearcher.method import candidate_pool
    import random
    h = History(SPACE.parse)
    rng = random.Random(0)
    flying = {SPACE.key(SPACE.sample(rng)) for _ in range(300)}
    h.in_flight = flying
    pool = candidate_pool(SPACE, h, 50, random.Random(1), "random", 0.5)
    assert pool and not {SPACE.key(g) for g in pool} & flying
    assert h.proposed() == flying


def test_the_paper_preset_runs_its_generations_on_eight_workers():
    r = run("gptnas", workers=8, budget=60, gpt={"preset": "paper"}, gptnas={"steady": False})
    assert r.evaluations == 60 and len({row["arch"] for row in r.archive}) == 60
    gens = [row["generation"] for row in r.archive]
    assert gens == sorted(gens) and 4 <= len(set(gens)) <= 12  # whole generations, told in order


def test_a_script_without_main_guard_gets_one_line(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text(textwrap.dedent("""
        import gptnas
        space = gptnas.spaces.CategoricalSequenceSpace([["a", "b"]] * 4, name="tiny")
        def evaluate(arch):
            return float(sum(arch))
        gptnas.search(space, evaluate, method="rea", budget=10, workers=2, progress=False)
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert 'if __name__ == "__main__":' in last and "spawn" in last and "noguard.py" in last
    assert "died twice" not in r.stderr


def test_ray_keeps_its_workers_busy_and_gives_the_same_archive(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    sim = run("rea", workers=3, budget=40)
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run("rea", workers=3, budget=40, parallel="ray", evaluate=Timed(sleep=0.0005))
        assert keys(on_ray) == keys(sim)
        gate = Path(tempfile.mkdtemp())

        @ray.remote
        def meet():
            """Wait (up to a minute) until all three tasks run at once: (pid, whether they met)."""
            (gate / str(os.getpid())).touch()
            for _ in range(600):
                if len(list(gate.iterdir())) >= 3:
                    return os.getpid(), True
                time.sleep(0.1)
            return os.getpid(), False
        met = ray.get([meet.remote() for _ in range(3)])
        # three tasks at once on the local cluster, in three processes (a barrier, not a timing)
        assert all(ok for _, ok in met) and len({p for p, _ in met}) == 3
    finally:
        ray.shutdown()


def test_the_readme_method_runs_on_four_workers(tmp_path):
    from test_readme import readme_file
    (tmp_path / "climb.py").write_text(readme_file("climb.py"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    outs = [subprocess.run([sys.executable, "climb.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           env=env) for _ in range(2)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr[-2000:]
    assert outs[0].stdout == outs[1].stdout and outs[0].stdout.strip().endswith("complete")


@pytest.mark.parametrize("method", ["rea", "gptnas", "ga"])
def test_a_space_with_rules_gets_members_only_on_four_workers(method):
    from helpers.constrained import evaluate, rare
    r = gptnas.search(rare, evaluate, method=method, budget=40, seed=41, workers=4, parallel="simulated",
                      progress=False)
    assert r.status == "complete" and r.evaluations == 40
    assert all(rare.is_valid(rare.parse(row["arch"])) and not row["failed"] for row in r.archive)
