"""Local search (White et al. 2021) as every method works: the walk itself, the CLI, several workers, a resume
after a crash, a space without options."""
import json
import os
import subprocess
import sys
import time
from typing import ClassVar

import pytest
import yaml

import gptnas
from gptnas.methods.local_search import LocalSearch
from gptnas.errors import ConfigError
from gptnas.spaces import CategoricalSequenceSpace, SearchSpace
from helpers import TIMEOUT
from helpers.kill9 import kill_and_resume
from test_async import SPACE, Timed, keys, run

CHAIN = CategoricalSequenceSpace([list("abcd")] * 6, name="chain6abcd")


def separable(arch) -> float:
    return float(sum((i + 1) * v for i, v in enumerate(arch)))


METHOD_NAME = "local_search"
KW: dict = {}
SMALL: dict = {}


def test_local_search_walks_to_the_first_better_neighbour_and_restarts_at_a_local_optimum():
    r = gptnas.search(CHAIN, separable, method=LocalSearch(num_init=4), budget=200, seed=1, progress=False)
    assert r.best.fitness == 3 * 21  # the separable optimum: every position at its largest option
    seen = []
    for e in r.history:
        if e.origin == "local":  # a neighbour: one position away from the centre, an earlier evaluation
            assert any(sum(a != b for a, b in zip(e.genome, g)) == 1 for g in seen)
        seen.append(e.genome)
    # a separable function has one optimum: once there every neighbour is worse, and a restart follows
    first_best = next(i for i, e in enumerate(r.history) if e.fitness == r.best.fitness)
    assert "random" in [e.origin for e in list(r.history)[first_best:]]


def test_local_search_keeps_every_worker_busy_and_resumes_identically(tmp_path):
    one = run(METHOD_NAME, workers=1, budget=60, **KW)
    eight = run(METHOD_NAME, workers=8, budget=60, **KW)
    assert one.state.elapsed_s / eight.state.elapsed_s > 5
    assert keys(run(METHOD_NAME, workers=8, budget=60, **KW)) == keys(eight)  # the lag order: one archive
    ref = run(METHOD_NAME, workers=4, budget=50, out=tmp_path / "ref", **KW)
    stop = Timed(stop_after=30, marker=tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        run(METHOD_NAME, workers=4, budget=50, out=tmp_path / "run", evaluate=stop, **KW)
    resumed = gptnas.resume(tmp_path / "run", space=SPACE, evaluate=stop, progress=False)
    assert keys(resumed) == keys(ref)


def test_local_search_runs_on_a_space_without_options_and_refuses_bad_options():
    macro = gptnas.spaces.get_space("macro", {"width": 8, "min_blocks": 2, "max_blocks": 4})
    r = gptnas.search(macro, lambda a: float(len(a)), method=METHOD_NAME, budget=25, progress=False, **SMALL)
    assert r.evaluations == 25 and all(macro.is_valid(macro.parse(x["arch"])) for x in r.archive)
    with pytest.raises(ConfigError, match=f"{METHOD_NAME} option num_init must be an integer"):
        gptnas.search(SPACE, Timed(), method=METHOD_NAME, budget=5, progress=False, **{METHOD_NAME: {"num_init": 0}})


def test_local_search_from_the_command_line(tmp_path, nb201_dir):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", str(nb201_dir), "--method",
                        METHOD_NAME, "--budget", "30", "--out", str(out), "--no-progress", "-q"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["evaluations"] == 30 and yaml.safe_load((out / "config.yaml").read_text())["search"]["method"] == \
        METHOD_NAME
    assert METHOD_NAME in subprocess.run([sys.executable, "-m", "gptnas.run", "--help"], capture_output=True,
                                         text=True, timeout=TIMEOUT).stdout


# The walk in detail, its state across a kill, workers, constrained and option-less spaces ---------------------------
# (names prefixed LS_ / ls_: the tests above import SPACE, Timed, keys and run from test_async)
LS_SPACE = CategoricalSequenceSpace([["a", "b", "c", "d"]] * 6, name="ls6")


def ls_total(arch) -> float:
    """Separable: one optimum (every position at its last option, 18), which is also the only local optimum."""
    return float(sum(arch))


def ls_duration(arch) -> float:
    return 20.0 + 30 * arch[0] + 10 * sum(arch[1:])


def LsTimed(**kw) -> Timed:
    """``ls_total`` with a pretend training time: test_async's ``Timed`` (sleep, a crash once) on this score."""
    return Timed(score=ls_total, duration=ls_duration, **kw)


def ls_keys(result):
    return [(r["arch"], r["fitness"], r["generation"]) for r in result.archive]


def ls_run(workers=4, parallel="simulated", budget=60, seed=3, evaluate=None, method=None, **kw):
    return gptnas.search(LS_SPACE, evaluate or LsTimed(), method=method or LocalSearch(num_init=5), budget=budget,
                         seed=seed, workers=workers, parallel=parallel, progress=False, **kw)


def distance(a, b) -> int:
    return sum(x != y for x, y in zip(a, b))


class Recording(LocalSearch):
    """Records, at every ask, the centre the child was proposed from (in a class list: the search binds a copy)."""

    asks: ClassVar[list] = []

    def offspring(self, toolbox, population, history):
        children = super().offspring(toolbox, population, history)
        w = self.walk
        Recording.asks.append((w.centre, w.fitness, children[0].origin, list(children[0]), len(history), w.optimum))
        return children


# (1) Behaviour
def test_children_are_neighbours_of_the_centre_moves_take_the_first_better_one_and_a_local_optimum_restarts():
    Recording.asks.clear()
    m = Recording(num_init=4)
    r = gptnas.search(LS_SPACE, ls_total, method=m, budget=300, seed=1, progress=False)
    assert r.best.fitness == 18  # the separable optimum
    hist = list(r.history)
    assert [e.origin for e in hist[:4]] == ["random"] * 4
    fit = {e.key: e.fitness for e in hist}
    assert m.asks[0][1] == max(e.fitness for e in hist[:4])  # the first centre: the best of the initial four
    restarts = 0
    for i, (centre, f, origin, child, told, optimum) in enumerate(m.asks):
        before = {e.key for e in hist[:told]}
        assert LS_SPACE.key(child) not in before  # never a repeat while something new is left
        if origin == "local":  # one position away from the then-centre
            assert distance(child, LS_SPACE.parse(centre)) == 1 and f == fit[centre]
        else:  # a restart: the centre it left (the last one, or a better neighbour known already that the walk
            # moved onto) was a local optimum: every neighbour told and none better
            assert optimum in (m.asks[i - 1][0], *before) and fit[optimum] >= m.asks[i - 1][1]
            g = LS_SPACE.parse(optimum)
            near = [LS_SPACE.key(g[:p] + [v] + g[p + 1:]) for p in range(6) for v in range(4) if v != g[p]]
            assert all(k in before and fit[k] <= fit[optimum] for k in near)
            assert centre is None  # the restart point becomes the centre once told
            restarts += 1
        if i and origin == "local" and m.asks[i - 1][2] == "local":
            prev_centre, prev_f, _, prev_child, _, _ = m.asks[i - 1]
            if ls_total(prev_child) > prev_f:  # the last neighbour was better: the walk moved onto it at once
                # (and on from it when one of its neighbours was known already to be better still)
                assert centre == LS_SPACE.key(prev_child) or (centre in before and fit[centre] > ls_total(prev_child))
            elif centre != prev_centre:  # otherwise only a better architecture known already moves it
                assert fit[centre] > prev_f and centre in before
    assert restarts >= 2  # the optimum is reached, every neighbour is worse: restarts follow


def test_the_neighbours_are_every_single_change_that_is_a_member():
    from gptnas.core.rng import Rngs
    from helpers.constrained import rules
    ls = LocalSearch()
    ls.bind(type("Ctx", (), {"space": LS_SPACE, "rngs": Rngs(0)})())
    near = ls._neighbours([0, 1, 2, 3, 0, 1])
    assert len(near) == len(set(near)) == 18
    ls.bind(type("Ctx", (), {"space": rules, "rngs": Rngs(0)})())
    g = [0, 2, 0, 2, 0, 1, 1, 0]
    every = [g[:p] + [v] + g[p + 1:] for p in range(8) for v in range(3) if v != g[p]]
    assert sorted(ls._neighbours(g)) == sorted(rules.key(c) for c in every if rules.is_valid(c))


# (2) Determinism
def test_the_same_seed_gives_the_same_archive():
    a = gptnas.search(LS_SPACE, ls_total, method="local_search", budget=50, seed=7, progress=False)
    b = gptnas.search(LS_SPACE, ls_total, method="local_search", budget=50, seed=7, progress=False)
    c = gptnas.search(LS_SPACE, ls_total, method="local_search", budget=50, seed=8, progress=False)
    assert ls_keys(a) == ls_keys(b) and ls_keys(a) != ls_keys(c)


# (3) Kill and resume
@pytest.mark.parametrize("workers", [1, 4])
def test_a_kill_mid_search_resumes_to_the_identical_run(tmp_path, workers):
    ref = ls_run(workers=workers, budget=50, out=tmp_path / "ref")
    stop = LsTimed(stop_after=30, marker=tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        ls_run(workers=workers, budget=50, out=tmp_path / "run", evaluate=stop)
    assert (tmp_path / "run" / "checkpoint.pkl").exists()
    resumed = gptnas.resume(tmp_path / "run", space=LS_SPACE, evaluate=stop, progress=False)
    assert ls_keys(resumed) == ls_keys(ref) and resumed.evaluations == 50
    assert "random" in [r["origin"] for r in ref.archive[30:]]  # a restart happened in the resumed stretch


def test_kill_9_on_the_process_pool_resumes_to_the_identical_run(tmp_path):
    kill_and_resume(
        tmp_path, "from test_local_search import LS_SPACE, LsTimed",
        'gptnas.search(LS_SPACE, LsTimed(sleep=0.0005), method="local_search", budget=60, seed=5, workers=3, '
        'progress=False, out=out)',
        "gptnas.resume(out, space=LS_SPACE, evaluate=LsTimed(sleep=0.0005), progress=False)", kill_after=20)
    from gptnas.storage.archive import read_archive
    a, b = (read_archive(tmp_path / d / "archive.h5") for d in ("ref", "run"))
    assert list(a["arch"]) == list(b["arch"]) and len(a["arch"]) == 60
    assert list(a["fitness"]) == list(b["fitness"])


# (4) Several workers
def test_every_worker_is_kept_busy_on_the_virtual_clock():
    one = ls_run(workers=1, budget=80, method="local_search")
    eight = ls_run(workers=8, budget=80, method="local_search")
    assert eight.evaluations == one.evaluations == 80
    assert one.state.elapsed_s / eight.state.elapsed_s > 5.5
    starts = sorted(r["elapsed_s"] - r["eval_time_s"] for r in eight.archive)
    assert starts[7] == 0.0  # the first eight evaluations (of the ten random ones) all start at once
    assert "local" in [r["origin"] for r in eight.archive]


def test_lag_order_gives_one_archive_whatever_the_timing():
    sim = ls_run(workers=3)
    assert sim.status == "complete" and sim.evaluations == 60
    pool = ls_run(workers=3, parallel="process", evaluate=LsTimed(sleep=0.0005))
    assert ls_keys(pool) == ls_keys(sim)
    assert ls_keys(ls_run(workers=3)) == ls_keys(sim)
    assert ls_keys(ls_run(workers=6, search={"lag": 3})) == ls_keys(sim)  # only the lag decides what is seen


# (5) Constrained spaces
@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("name", ["rules", "rare"])
def test_a_space_with_rules_gets_members_only(name, workers):
    from helpers import constrained
    space = getattr(constrained, name)
    r = gptnas.search(space, constrained.evaluate, method="local_search", budget=60, seed=2, workers=workers,
                      parallel="simulated", progress=False)
    assert r.status == "complete" and r.evaluations == 60
    assert all(space.is_valid(space.parse(row["arch"])) and not row["failed"] for row in r.archive)
    assert not r.state.dropped
    assert "local" in [row["origin"] for row in r.archive]


def test_a_space_smaller_than_the_budget_stops_instead_of_hanging():
    tiny = CategoricalSequenceSpace([["a", "b"]] * 3, name="tiny")
    t0 = time.time()
    r = gptnas.search(tiny, ls_total, method=LocalSearch(num_init=2), budget=20, seed=0, progress=False)
    assert r.evaluations == 8 and r.status == "stalled" and time.time() - t0 < 60


# (6) Spaces without options
class EvenSum(SearchSpace):
    """A user's space of only ``sample`` / ``is_valid``: five digits whose sum is even (the default mutation
    resamples)."""

    name = "even5"

    def sample(self, rng):
        while True:
            g = [rng.randrange(10) for _ in range(5)]
            if self.is_valid(g):
                return g

    def is_valid(self, arch):
        return len(arch) == 5 and all(isinstance(v, int) and 0 <= v < 10 for v in arch) and sum(arch) % 2 == 0


def test_a_space_without_options_runs_on_its_own_mutation():
    macro = gptnas.spaces.get_space("macro", {"width": 8, "min_blocks": 2, "max_blocks": 4})
    r = gptnas.search(macro, lambda a: float(len(a)), method="local_search", budget=25, seed=0, progress=False)
    assert r.evaluations == 25 and all(macro.is_valid(macro.parse(x["arch"])) for x in r.archive)
    assert "local" in [x["origin"] for x in r.archive]
    even = EvenSum()
    r = gptnas.search(even, ls_total, method=LocalSearch(num_init=3, neighbours=4), budget=40, seed=0,
                      progress=False)
    assert r.evaluations == 40 and all(even.is_valid(even.parse(x["arch"])) for x in r.archive)
    assert [x["origin"] for x in r.archive].count("local") >= 4  # four mutations per centre, then a restart


# (7) Options
@pytest.mark.parametrize("option, value", [("num_init", 0), ("num_init", "5"), ("num_init", True),
                                           ("neighbours", 0), ("neighbours", 2.5)])
def test_a_bad_option_is_one_line_naming_it(option, value):
    with pytest.raises(ConfigError, match=f"local_search option {option} must be an integer") as e:
        LocalSearch(**{option: value})
    assert "\n" not in str(e.value)


def test_options_from_the_config_section():
    r = gptnas.search(LS_SPACE, ls_total, method="local_search", budget=6, seed=0, progress=False,
                      local_search={"num_init": 6})
    assert [x["origin"] for x in r.archive] == ["random"] * 6
    with pytest.raises(ConfigError, match="num_init"):
        gptnas.search(LS_SPACE, ls_total, method="local_search", budget=6, progress=False,
                      local_search={"num_init": -1})


# (8) Command line
def test_the_command_line_on_nb201_with_the_shared_table(tmp_path, nb201_dir):
    out = tmp_path / "ls"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", str(nb201_dir), "--method",
                        "local_search", "--budget", "60", "--out", str(out), "--no-progress"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["evaluations"] == 60
