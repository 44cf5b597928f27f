"""BANANAS: its encodings, its predictor ensemble, and the method as every other one works — beating random search,
deterministic, resumed identically, every worker busy, members only in a user's space, any space, one-line errors,
the command line."""
from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
import yaml

import gptnas
from gptnas.errors import ConfigError
from gptnas.methods.bananas import BANANAS
from gptnas.methods.bananas.encodings import PATH_FEATURES, choose_encoding, encode, padded_onehot, path_encoding
from gptnas.methods.bananas.predictor import Ensemble, thompson
from gptnas.search.driver import Checkpointer
from gptnas.spaces import CategoricalSequenceSpace
from gptnas.spaces.base import SearchSpace
from helpers.constrained import evaluate as chain8, rare, rules
from test_async import SPACE, Timed, keys, run
from helpers import TIMEOUT

NB201 = gptnas.spaces.get_space("nb201", {})
FAST = {"epochs": 60}  # the method's runs here: enough training to steer, a third of the time


def ranks(v) -> np.ndarray:
    return np.argsort(np.argsort(v)).astype(float)


def spearman(a, b) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


# Encodings -------------------------------------------------------------------------------------------------------
# NAS-Bench-201 genome: edges (1←0) (2←0) (2←1) (3←0) (3←1) (3←2); ops none, skip, conv1x1, conv3x3, avg pool.
def test_the_path_encoding_of_hand_checked_cells():
    assert path_encoding([0] * 6).shape == (PATH_FEATURES,) == (84,)
    assert not path_encoding([0] * 6).any()                          # every edge none: no path at all
    skip = path_encoding([0, 0, 0, 1, 0, 0])                         # only 0→3, a skip: one path, (skip,)
    assert skip.sum() == 1 and skip[0] == 1
    two = path_encoding([3, 0, 0, 0, 2, 0])                          # 0→1 conv3x3, 1→3 conv1x1: (conv3, conv1)
    assert two.sum() == 1 and two[4 + 4 * (3 - 1) + (2 - 1)] == 1
    chain = path_encoding([1, 0, 4, 0, 0, 3])                        # 0→1→2→3: skip, pool, conv3x3
    assert chain.sum() == 1 and chain[20 + 16 * 0 + 4 * 3 + 2] == 1
    cut = path_encoding([3, 3, 0, 0, 0, 3])                          # 1→2 none: only 0→2→3 reaches the output
    assert cut.sum() == 1 and cut[4 + 4 * 2 + 2] == 1
    full = path_encoding([3] * 6)                                    # every route: one, two (the same ops), three
    assert full.sum() == 4 and full[2] == 1 and full[4 + 4 * 2 + 2] == 2 and full[20 + 16 * 2 + 4 * 2 + 2] == 1
    # a cell and the same cell with a dead edge (into node 1, which then reaches nothing) read the same
    assert (path_encoding([0, 3, 0, 3, 2, 3]) == path_encoding([0, 3, 0, 3, 0, 3])).all()


def test_one_hot_per_position_and_padded_for_spaces_without_options():
    two = CategoricalSequenceSpace([list("abc"), list("de")], name="two")
    assert encode([[0, 1], [2, 0]], two, "onehot").tolist() == [[1, 0, 0, 0, 1], [0, 0, 1, 1, 0]]
    assert choose_encoding(NB201) == "path" and choose_encoding(NB201.subspace({0: [1, 2]})) == "path"
    assert choose_encoding(two) == "onehot" and choose_encoding(NB201, "onehot") == "onehot"
    assert encode([[0] * 6, [4] * 6], NB201, "onehot").shape == (2, 30)
    with pytest.raises(ConfigError, match="encoding=path .* use encoding=onehot"):
        choose_encoding(two, "path")
    macro = gptnas.spaces.get_space("macro", {"min_blocks": 2, "max_blocks": 4})
    x = encode([[0, 3], [1, 1, 2]], macro, "onehot")                # tokens over the vocabulary, padded to 3
    v = len(macro.vocabulary) + 1
    assert x.shape == (2, 3 * v)
    rows = x.reshape(2, 3, v)
    assert rows[0, 0, 0] == rows[0, 1, 3] == rows[0, 2, v - 1] == 1 and rows.sum() == 6  # one slot per position
    # a space with neither options nor a grammar: the genome's integers (those seen), padded the same way
    assert padded_onehot([[5, 7], [7]]).tolist() == [[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1]]


# The predictor ---------------------------------------------------------------------------------------------------
def test_the_ensemble_learns_a_function_and_is_deterministic_per_seed():
    space = CategoricalSequenceSpace([list("abcd")] * 8, name="eight4")
    rng = random.Random(0)
    genomes = [space.sample(rng) for _ in range(260)]
    y = np.array([chain8([min(v, 2) for v in g]) + 0.5 * (g[0] == 3) for g in genomes])
    x = encode(genomes, space, "onehot")
    model = Ensemble(5, epochs=200).fit(x[:60], y[:60], seed=1)
    pred = model.predict(x[60:])
    assert pred.shape == (5, 200)
    assert spearman(pred.mean(0), y[60:]) > 0.6                      # held-out architectures, ranked
    assert (pred.std(0) > 0).all()                                   # members differ: their own initialisations
    assert np.array_equal(Ensemble(5, epochs=200).fit(x[:60], y[:60], seed=1).predict(x[60:]), pred)
    assert not np.array_equal(Ensemble(5, epochs=200).fit(x[:60], y[:60], seed=2).predict(x[60:]), pred)
    draws = thompson(pred, np.random.default_rng(0))                 # one N(mean, std) draw per candidate
    assert draws.shape == (200,) and not np.allclose(draws, pred.mean(0))
    assert np.array_equal(thompson(pred[:1], np.random.default_rng(0)), pred[0])  # one member: greedy


# The method ------------------------------------------------------------------------------------------------------
BIG = CategoricalSequenceSpace([list("abcdefgh")] * 8, name="eight8")  # 16.7 M genomes


def smooth(arch) -> float:
    """Larger options pay, more so late; two equal neighbours cost a little: one optimum, far from random ones."""
    return sum((1 + i / 4) * v for i, v in enumerate(arch)) - 2.0 * sum(a == b for a, b in zip(arch, arch[1:]))


def test_bananas_beats_random_search_at_equal_budget():
    best = {m: [gptnas.search(BIG, smooth, method=m, budget=60, seed=s, progress=False, **kw).best.fitness
                for s in range(5)]
            for m, kw in (("bananas", {"bananas": FAST}), ("random", {}))}
    # the means differ by far more than the seeds' spread (measured: 94.9 vs 78.8, sd 2.4 and 3.9); and seed by seed
    assert np.mean(best["bananas"]) > np.mean(best["random"]) + 8, best
    assert sum(b > r for b, r in zip(best["bananas"], best["random"])) >= 4, best


def test_the_schedule_retrains_every_k_results_and_proposes_scored_candidates():
    r = gptnas.search(BIG, smooth, method="bananas", budget=50, seed=0, progress=False, bananas=FAST)
    origins = [e.origin for e in r.history]
    assert origins[:10] == ["random"] * 10 and set(origins[10:]) == {"bananas"}
    assert r.state.learner_states["bananas"]["retrains"] == 4        # after 10, 20, 30 and 40 results
    r = gptnas.search(BIG, smooth, method="bananas", budget=50, seed=0, progress=False,
                      bananas={**FAST, "k": 5, "num_init": 5})
    assert r.state.learner_states["bananas"]["retrains"] == 9


def test_the_same_seed_gives_the_same_archive():
    a = gptnas.search(SPACE, Timed(), method="bananas", budget=40, seed=4, progress=False, bananas=FAST)
    b = gptnas.search(SPACE, Timed(), method="bananas", budget=40, seed=4, progress=False, bananas=FAST)
    c = gptnas.search(SPACE, Timed(), method="bananas", budget=40, seed=5, progress=False, bananas=FAST)
    assert keys(a) == keys(b) and keys(a) != keys(c)


@pytest.mark.parametrize("workers", [1, 4])
def test_a_kill_mid_search_resumes_to_the_identical_run(tmp_path, workers, monkeypatch):
    # a checkpoint after every told result (not once a second): the one resumed from then holds a queue
    monkeypatch.setattr(Checkpointer.__init__, "__defaults__", (0.0, 30.0))
    ref = run("bananas", workers=workers, budget=50, out=tmp_path / "ref", bananas=FAST)
    stop = Timed(stop_after=30, marker=tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        run("bananas", workers=workers, budget=50, out=tmp_path / "run", evaluate=stop, bananas=FAST)
    saved = pickle.loads((tmp_path / "run" / "checkpoint.pkl").read_bytes())["state"]["search"]
    state = saved["learner_states"]["bananas"]
    assert state["retrains"] >= 1 and state["keys"]  # mid-queue: a resume without it would retrain elsewhere
    resumed = gptnas.resume(tmp_path / "run", space=SPACE, evaluate=stop, progress=False)
    assert resumed.status == "complete" and keys(resumed) == keys(ref)


def test_every_worker_is_kept_busy_on_the_virtual_clock():
    one = run("bananas", workers=1, budget=60, bananas=FAST)
    four = run("bananas", workers=4, budget=60, bananas=FAST)
    assert four.evaluations == one.evaluations == 60
    assert one.state.elapsed_s / four.state.elapsed_s > 3.3
    starts = sorted(r["elapsed_s"] - r["eval_time_s"] for r in four.archive)
    assert starts[3] == 0.0                                          # the first four start at once
    assert keys(run("bananas", workers=4, budget=60, bananas=FAST)) == keys(four)  # the lag order: one archive
    assert one.state.elapsed_s / run("bananas", workers=8, budget=60, bananas=FAST).state.elapsed_s > 5
    assert four.state.generation == 60  # one ask per evaluation: never a child evaluated or in flight already


@pytest.mark.parametrize("space", [rules, rare], ids=["rules8", "rare8"])
def test_a_constrained_space_gets_members_only(space):
    r = gptnas.search(space, chain8, method="bananas", budget=60, seed=0, progress=False, bananas=FAST)
    assert r.status == "complete" and r.evaluations == 60 and not r.state.dropped
    assert not [row for row in r.archive if row["failed"]]
    assert all(space.is_valid(space.parse(row["arch"])) for row in r.archive)
    assert "bananas" in {e.origin for e in r.history}


def test_a_space_with_fewer_members_than_the_budget_stops_without_hanging():
    tiny = CategoricalSequenceSpace([list("ab")] * 4, name="tiny16")
    r = gptnas.search(tiny, lambda a: float(sum(a)), method="bananas", budget=40, seed=0, progress=False,
                      bananas=FAST, search={"stall_limit": 20})
    assert r.evaluations == 16 and r.best.fitness == 4.0


class Chains(SearchSpace):
    """A user's space with only ``sample`` and ``is_valid``: chains of 3 to 6 integers in 0..4."""

    name = "chains"

    def sample(self, rng):
        return [rng.randrange(5) for _ in range(rng.randint(3, 6))]

    def is_valid(self, arch) -> bool:
        return 3 <= len(arch) <= 6 and all(isinstance(v, int) and 0 <= v < 5 for v in arch)


@pytest.mark.parametrize("which", ["macro", "user"])
def test_spaces_without_options_run(which):
    space = gptnas.spaces.get_space("macro", {"width": 8, "min_blocks": 2, "max_blocks": 5}) if which == "macro" \
        else Chains()
    r = gptnas.search(space, lambda a: float(sum(a)) - len(a), method="bananas", budget=40, seed=0, progress=False,
                      bananas=FAST)
    assert r.evaluations == 40 and all(space.is_valid(space.parse(x["arch"])) for x in r.archive)
    assert [e.origin for e in r.history].count("bananas") == 30


@pytest.mark.parametrize("option, value", [("num_init", 0), ("k", -1), ("candidates", 1.5), ("parents", True),
                                           ("ensemble", 0), ("epochs", "200"), ("encoding", "graph")])
def test_a_bad_option_is_one_line_naming_it(option, value):
    with pytest.raises(ConfigError, match=f"bananas option {option} must be") as e:
        gptnas.search(SPACE, Timed(), method="bananas", budget=5, progress=False, bananas={option: value})
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=f"bananas option {option} must be"):
        BANANAS(**{option: value})


def test_the_path_encoding_on_a_space_that_is_no_nb201_is_one_line():
    with pytest.raises(ConfigError, match="bananas option encoding=path .* use encoding=onehot") as e:
        gptnas.search(SPACE, Timed(), method="bananas", budget=5, progress=False, bananas={"encoding": "path"})
    assert "\n" not in str(e.value)


def test_from_the_command_line(tmp_path, nb201_dir):
    out = tmp_path / "bananas"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", str(nb201_dir), "--method",
                        "bananas", "--budget", "40", "--out", str(out), "--no-progress"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["evaluations"] == 40 and yaml.safe_load((out / "config.yaml").read_text())["search"]["method"] == \
        "bananas"


# What mutation testing (experiments/mutation.py) found untested ----------------------------------------------------
def test_the_queued_candidates_are_the_predictors_best_not_any_of_the_pool(monkeypatch):
    """The ensemble, trained on the history's (architecture, fitness) pairs, picks the k candidates it expects best:
    their true fitness beats the pool's they came from (an ensemble fitted on no targets picks arbitrarily: about
    0 ± 0.2 pool SDs over three seeds; measured here 0.56-1.04 per seed)."""
    from gptnas.core.rng import Rngs
    from gptnas.methods.base import SearchContext
    pools = []
    real = BANANAS.candidate_pool
    monkeypatch.setattr(BANANAS, "candidate_pool", lambda self, *a: pools.append(real(self, *a)) or pools[-1])
    margins = []
    for seed in (3, 4, 5):
        r = gptnas.search(BIG, smooth, method="random", budget=40, seed=seed, progress=False)
        m = BANANAS(**FAST)
        m.bind(SearchContext(BIG, Rngs(seed), progress=False, space_name=BIG.name))
        m.acquire(r.history, set())
        pool = [smooth(g) for g in pools[-1]]
        chosen = [smooth(BIG.parse(k)) for k in m.queue.keys]
        assert len(chosen) == m.k and len(pool) > 3 * m.k
        margins.append((np.mean(chosen) - np.mean(pool)) / np.std(pool))
    assert np.mean(margins) > 0.4, margins


def test_path_encoding_is_for_nas_bench_201_and_its_sub_spaces_only():
    from gptnas.methods.bananas.encodings import is_nb201
    from gptnas.spaces.nb201 import NB201Space
    sub = NB201.subspace([list(range(1, 5))] + [list(range(5))] * 5)  # as LAPT's refined spaces are
    user = CategoricalSequenceSpace([list("abcde")] * 6, name="six")
    assert is_nb201(NB201) and is_nb201(NB201Space()) and is_nb201(sub) and not is_nb201(user)
    assert choose_encoding(NB201, "path") == "path" and choose_encoding(NB201, "auto") == "path"
    assert choose_encoding(user, "onehot") == "onehot" and choose_encoding(user, "auto") == "onehot"
    with pytest.raises(ConfigError, match="'six' is not one"):
        choose_encoding(user, "path")
