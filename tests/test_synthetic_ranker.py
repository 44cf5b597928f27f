"""The built-in ranker without benchmark tables (issue 22 §5): synthetic search problems drawn from a prior over
fitness landscapes on the space's own decisions, the history's evidence as candidate features, one ranker per
space shape."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

import gptnas
from gptnas.core.rng import Rngs
from gptnas.errors import ConfigError
from gptnas.methods.base import SearchContext
from gptnas.methods.lmsearcher.options import RankSettings
from gptnas.methods.lmsearcher.ranker import evidence
from gptnas.methods.lmsearcher.rankers import builtin_ranker
from gptnas.methods.lmsearcher.synthetic import SyntheticPrior, synthetic_problem, synthetic_samples
from gptnas.spaces import CategoricalSequenceSpace
from helpers import TIMEOUT

SMALL = {"problems": 12, "members": 600, "subspaces": 6}

@pytest.fixture(autouse=True)
def no_tables(monkeypatch):
    """These runs have no benchmark tables: a $GPTNAS_DATA in the environment would give the ranker some."""
    monkeypatch.delenv("GPTNAS_DATA", raising=False)
  # a prior small enough for a test's training


def space(name="toy", opts=("a", "b", "c", "d")):
    return CategoricalSequenceSpace([list(opts)] * 6 + [["x", "y"]] * 2, name=name)


def additive(genome) -> float:
    """Index 2 is best at every 4-option position, index 0 worst; y at the 2-option ones."""
    w = [0.0, 1.0, 3.0, 0.5, 0.2]
    return float(sum(w[g] for g in genome[:6]) + sum(genome[6:]))


def test_landscapes_are_seeded_and_differ_between_problems():
    sp = space()
    a, sa = synthetic_problem(sp, SyntheticPrior(**SMALL), 0, 3)
    b, sb = synthetic_problem(sp, SyntheticPrior(**SMALL), 0, 3)
    c, sc = synthetic_problem(sp, SyntheticPrior(**SMALL), 0, 4)
    assert sa == sb and sa != sc
    v = np.array([f for _, f in sa])
    assert v.min() >= 0 and v.max() <= 100 and v.std() > 0
    # a genome's noise is its own: scored alone or among others, the same value
    g = sa[7][0]
    assert a(g) == pytest.approx(sa[7][1])


def test_the_evidence_ranks_what_the_history_favoured_first():
    sp = space()
    rng = random.Random(0)
    hist = [sp.sample(rng) for _ in range(30)]
    codes = [sp.ncode(g) for g in hist]
    good, bad = [2] * 6 + [1, 1], [0] * 6 + [0, 0]
    ev = evidence(codes, [additive(g) for g in hist], [sp.ncode(bad), sp.ncode(good)])
    assert ev.shape == (2, 8)
    # predicted normalised score and rank, raw and standardised over the pool
    assert all(ev[1, k] > ev[0, k] for k in range(4))
    # the history's best, as a candidate, is at distance 0 from itself
    best = max(hist, key=additive)
    assert evidence(codes, [additive(g) for g in hist], [sp.ncode(best)])[0, 4] == 0
    # nothing known: no prediction, every digit unseen
    empty = evidence([], [], [sp.ncode(good)])
    assert empty[0, 0] == 0 and empty[0, 6] == 1


def test_a_synthetic_ranker_beats_random_choice_on_problems_it_never_saw(tmp_path):
    sp = space()
    settings = RankSettings.from_dict({"prior": "synthetic", "synthetic": SMALL, "epochs": 3})
    ctx = SearchContext(sp, Rngs(0), progress=False, space_name=sp.name, cache_dir=tmp_path)
    r = builtin_ranker(settings, ctx, progress=False)
    assert r.train_log[-1]["prior"] == "synthetic" and r.cfg.evidence
    held = synthetic_samples(sp, SyntheticPrior(**{**SMALL, "problems": 6}), seed=99)  # other landscapes
    chosen = [s.pool_scores[r.choose(s.codes, s.scores, s.pool)] for s in held]
    ranks = [sorted(s.pool_scores, reverse=True).index(v) for s, v in zip(held, chosen)]
    # random choice: (10 - 1) / 2 on average, its standard error here about 0.12
    assert np.mean(ranks) < 0.85 * np.mean([(len(s.pool) - 1) / 2 for s in held])


def test_the_ridge_ranker_chooses_well_without_any_training(tmp_path):
    from gptnas.methods.lmsearcher.rankers import RidgeRanker
    held = synthetic_samples(space(), SyntheticPrior(**{**SMALL, "problems": 6}), seed=99)
    r = RidgeRanker()
    ranks = [sorted(s.pool_scores, reverse=True).index(s.pool_scores[r.choose(s.codes, s.scores, s.pool)])
             for s in held]
    assert np.mean(ranks) < 0.85 * np.mean([(len(s.pool) - 1) / 2 for s in held])
    # as a search's ranker: nothing trained or cached, and the summary says which ranker chose
    run = gptnas.search(space(), additive, method="lmsearcher", budget=20, seed=0, progress=False,
                        rank={"ranker": "ridge"}, gpt={"cache_dir": str(tmp_path)}, out=tmp_path / "run")
    assert not (tmp_path / "ranker").exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["method_details"]["ranker"] == "ridge"
    assert any(r["origin"] == "ranker:ridge" for r in run.archive)


def test_search_on_a_users_space_without_tables_trains_on_synthetic_problems(tmp_path):
    rank = {"synthetic": SMALL, "epochs": 2}
    runs = [gptnas.search(space(), additive, method="lmsearcher", budget=25, seed=s, progress=False, rank=rank,
                          gpt={"cache_dir": str(tmp_path)}) for s in (0, 0, 1)]
    assert all(r.status == "complete" for r in runs)
    assert runs[0].history.keys() == runs[1].history.keys() != runs[2].history.keys()
    built = list((tmp_path / "ranker").glob("*/ranker.json"))
    assert len(built) == 1  # one ranker, built once, shared by the seeds
    meta = json.loads(built[0].read_text())
    assert meta["train_log"][-1]["prior"] == "synthetic"
    # the same shape under other names: the same ranker; another shape: another
    gptnas.search(space("other", ("p", "q", "r", "s")), additive, method="lmsearcher", budget=8, progress=False,
                  rank=rank, gpt={"cache_dir": str(tmp_path)})
    assert len(list((tmp_path / "ranker").glob("*/ranker.json"))) == 1
    gptnas.search(space("five", ("p", "q", "r", "s", "t")), additive, method="lmsearcher", budget=8, progress=False,
                  rank=rank, gpt={"cache_dir": str(tmp_path)})
    assert len(list((tmp_path / "ranker").glob("*/ranker.json"))) == 2


def test_bad_synthetic_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="lmsearcher.synthetic"):
        RankSettings.from_dict({"synthetic": {"noize": 0.1}}).validate()
    with pytest.raises(ConfigError, match="prior synthetic"):
        RankSettings.from_dict({"prior": "synthetic", "source": "nb201:cifar10"}).validate()
    with pytest.raises(ConfigError, match="noise"):
        RankSettings.from_dict({"synthetic": {"noise": -1}}).validate()


def test_rank_from_names_the_prior_with_two_words():
    for source, prior, rest in (("synthetic", "synthetic", []), ("tables", "tables", []),
                                ("synthetic,nb201:cifar100", "both", ["nb201:cifar100"]),
                                ("synthetic,tables", "both", []), ("nb201:cifar100", "auto", ["nb201:cifar100"])):
        s = RankSettings.from_dict({"source": source})
        s.validate()
        assert (s.prior, s.sources) == (prior, rest), source
    with pytest.raises(ConfigError, match="asks for prior synthetic.*lmsearcher.prior is tables"):
        RankSettings.from_dict({"source": "synthetic", "prior": "tables"})


@pytest.mark.parametrize("broken", ["ranker.json", "ranker.pt"])
def test_a_corrupt_cached_ranker_is_rebuilt_not_a_traceback(tmp_path, broken):
    sp = space()
    settings = RankSettings.from_dict({"prior": "synthetic", "synthetic": SMALL, "epochs": 1})
    ctx = SearchContext(sp, Rngs(0), progress=False, space_name=sp.name, cache_dir=tmp_path)
    first = builtin_ranker(settings, ctx, progress=False)
    (entry,) = (tmp_path / "ranker").iterdir()
    (entry / broken).write_text("{torn")
    again = builtin_ranker(settings, ctx, progress=False)
    assert not again.loaded_from_cache  # rebuilt, and the same ranker (same seed, same samples)
    s = synthetic_samples(sp, SyntheticPrior(**{**SMALL, "problems": 2}), seed=5)[0]
    assert np.allclose(first.scores(s.codes, s.scores, s.pool), again.scores(s.codes, s.scores, s.pool))
    assert builtin_ranker(settings, ctx, progress=False).loaded_from_cache  # the rebuilt entry is read next time


USER_SPACE = '''
import gptnas
space = gptnas.spaces.CategoricalSequenceSpace([["a", "b", "c", "d"]] * 6 + [["x", "y"]] * 2, name="mine")
W = [0.0, 1.0, 3.0, 0.5]
def fitness(g):
    return float(sum(W[x] for x in g[:6]) + sum(g[6:]))
'''


def test_the_cli_on_a_users_space_without_tables_trains_the_ranker_on_synthetic_problems(tmp_path):
    """``--space module:callable`` with lmsearcher and with ``--prescreen`` (no --data): the summary says what the
    ranker learned from."""
    import os
    import subprocess
    import sys
    from conftest import REPO
    (tmp_path / "userspace.py").write_text(USER_SPACE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    small = "lmsearcher.synthetic={problems: 12, members: 600, subspaces: 6}"
    for name, args in (("lms", ["--method", "lmsearcher", "--set", small, "--set", "lmsearcher.epochs=1"]),
                       ("pre", ["--method", "rea", "--prescreen", "3", "--set", small.replace("lmsearcher", "prescreened"),
                                "--set", "prescreened.epochs=1"])):
        r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "userspace:space", "--fitness",
                            "userspace:fitness", "--budget", "15", "--out", str(tmp_path / name), "--no-progress",
                            *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
        details = json.loads((tmp_path / name / "summary.json").read_text())["method_details"]
        learned = details if name == "lms" else details["prescreen"]
        assert learned["prior"] == "synthetic" and learned["sources"] == ["synthetic (12 problems)"], details
    assert len(list((tmp_path / "cache" / "ranker").glob("*/ranker.json"))) == 1  # one ranker for the shape


def test_rank_train_synthetic_builds_the_ranker_a_search_on_the_users_space_then_loads(tmp_path):
    import os
    import subprocess
    import sys
    from conftest import REPO
    (tmp_path / "userspace.py").write_text(USER_SPACE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    prior = "{problems: 12, members: 600, subspaces: 6}"
    r = subprocess.run([sys.executable, "-m", "gptnas.rank", "train", "--synthetic", "--space", "userspace:space",
                        "--prior", prior, "--epochs", "1"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "trained" in r.stdout and "learned from synthetic (12 problems)" in r.stdout
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "userspace:space", "--fitness",
                        "userspace:fitness", "--method", "lmsearcher", "--set", f"lmsearcher.synthetic={prior}",
                        "--set", "lmsearcher.epochs=1", "--budget", "8", "--out", str(tmp_path / "run"),
                        "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "loading the ranker" in r.stderr  # the one rank train built
    assert len(list((tmp_path / "cache" / "ranker").glob("*/ranker.json"))) == 1
    bad = subprocess.run([sys.executable, "-m", "gptnas.rank", "train", "--space", "userspace:space"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert bad.returncode == 2 and "--target" in bad.stderr and "--synthetic" in bad.stderr


def slow_additive(genome) -> float:
    import time
    time.sleep(0.03)  # slow enough for the kill to land mid-run
    return additive(genome)


SPACE = space()


def test_a_search_with_the_synthetic_ranker_killed_and_resumed_is_the_uninterrupted_one(tmp_path):
    from helpers.kill9 import kill_and_resume
    kw = f'rank={{"synthetic": {SMALL!r}, "epochs": 1}}, gpt={{"cache_dir": {str(tmp_path / "cache")!r}}}'
    kill_and_resume(
        tmp_path, "from test_synthetic_ranker import SPACE, slow_additive",
        f'gptnas.search(SPACE, slow_additive, method="lmsearcher", budget=40, seed=3, progress=False, out=out, {kw})',
        "gptnas.resume(out, space=SPACE, evaluate=slow_additive, progress=False)", kill_after=18)
    from gptnas.storage.archive import read_archive
    a, b = (read_archive(tmp_path / d / "archive.h5") for d in ("ref", "run"))
    assert list(a["arch"]) == list(b["arch"]) and len(a["arch"]) == 40
    assert list(a["origin"]) == list(b["origin"]) and "ranker:builtin" in set(a["origin"])


def test_interacting_pairs_are_neighbours_as_often_as_the_prior_says():
    from gptnas.methods.lmsearcher.synthetic import draw_landscape
    sizes = [4] * 12

    def share_near(neighbours):
        pairs = [p for s in range(40) for p in draw_landscape(sizes, np.random.default_rng(s), SyntheticPrior(
            interactions=0.4, neighbours=neighbours)).pairs]
        assert len({(i, j) for i, j, _ in pairs}) > 10
        return np.mean([j == i + 1 for i, j, _ in pairs])

    assert share_near(1.0) > 0.95  # up to the 11 neighbouring pairs of a landscape, then others
    assert share_near(0.0) < 0.35  # 11 of the 66 pairs are neighbours: about 1 in 6
