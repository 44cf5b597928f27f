"""NAS as ranking (LM-Searcher): its exact text, the released loop's three bugs pinned, trajectories, the built-in
ranker, the LLM ranker against a loopback server, ranked pre-screening, kill and resume."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from gptnas.core.history import History
from gptnas.methods.lmsearcher.method import candidate_pool
from gptnas.methods.lmsearcher.prompt import format_prompt, normalise, parse_reply
from gptnas.methods.lmsearcher.trajectories import prune, samples_from, write_jsonl
from gptnas.spaces import CategoricalSequenceSpace, NB201Space
from helpers import TIMEOUT, no_data

FAST = ["--set", "rank.subspaces=12", "--set", "rank.epochs=1"]


@pytest.fixture(scope="module")
def data(shared_data):
    if not (shared_data / "nb201").is_dir():
        no_data("NAS-Bench-201 tables not found")
    return str(shared_data)


def test_the_prompt_is_lm_searchers_text():
    text = format_prompt(["333103", "000000", "123412"], [91.5, 10.0, 50.0], ["111111", "222222"])
    assert text == "333103|1.0,123412|0.4908,000000|0.0,111111;222222;"  # (50 - 10) / 81.5, 4 decimals
    many = format_prompt([f"{i:06d}" for i in range(300)], list(range(300)), ["999999"], max_history=200)
    assert many.count("|") == 200 and many.startswith("000299|1.0,")
    assert parse_reply("I pick 222222.", ["111111", "222222"]) == "222222"
    assert parse_reply("3333333 or 444444", ["111111", "222222"]) is None


def test_the_released_loops_three_bugs_do_not_happen_here():
    # 1. equal scores: the released normalisation divides by zero
    assert normalise([5.0, 5.0, 5.0]) == [1.0, 1.0, 1.0]
    assert format_prompt(["000000", "111111"], [3.0, 3.0], ["222222"]) == "000000|1.0,111111|1.0,222222;"
    # 2. pools are drawn from the space (the released code passes the history where the space is expected) and
    # 3. never hold an evaluated architecture (its de-duplication compares codes with trial names)
    space = NB201Space()
    h = History(space.parse)
    rng = random.Random(0)
    for g in [space.sample(rng) for _ in range(40)]:
        h.append(space.key(g), float(sum(g)), False, 0, "random")
    for source in ("random", "mixed"):
        for _ in range(30):
            pool = candidate_pool(space, h, 10, rng, source, 0.5)
            keys = [space.key(g) for g in pool]
            assert len(pool) == 10 == len(set(keys)) and not set(keys) & set(h.keys())
            assert all(len(space.ncode(g)) == 6 for g in pool)


def test_a_search_with_a_constant_fitness_runs_past_trial_six_without_repeats(tmp_path):
    import gptnas
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="six")
    res = gptnas.search(space, lambda a: 1.0, method="lmsearcher", budget=30, progress=False, rank={"ranker": "random"})
    assert res.status == "complete" and len(set(res.history.keys())) == 30


def test_pruning_keeps_at_least_one_option_and_samples_target_the_pools_best(tmp_path, data):
    rng = random.Random(1)
    for _ in range(200):
        kept = prune([5, 5, 4, 2], rng)
        assert all(k and set(k) <= set(range(n)) for k, n in zip(kept, [5, 5, 4, 2]))
    from gptnas.bench import scored_table
    space = NB201Space()
    scored = scored_table("nb201", data, "cifar10")
    samples = samples_from(scored, space, random.Random(0), n_subspaces=20, source="cifar10")
    table = {space.ncode(g): f for g, f in scored}
    assert len(samples) > 50
    for s in samples:
        assert s.pool_scores[s.best] == max(s.pool_scores) and not set(s.pool) & set(s.codes)
        assert all(table[c] == v for c, v in zip(s.codes, s.scores))
        allowed = [{c[i] for c in s.codes + s.pool} for i in range(6)]
        assert sum(len(a) for a in allowed) < 30  # a pruned sub-space, not the whole space
    text, chat = write_jsonl(samples[:5], tmp_path / "traj.jsonl")
    first = json.loads(text.read_text().splitlines()[0])
    assert first["prompt"] == format_prompt(samples[0].codes, samples[0].scores, samples[0].pool)
    assert first["completion"] == samples[0].pool[samples[0].best]
    msg = json.loads(chat.read_text().splitlines()[0])["messages"]
    assert [m["role"] for m in msg] == ["system", "assistant"] and msg[1]["content"] == first["completion"]


def test_trajectories_from_a_run_use_its_fitness_never_its_test_accuracy(tmp_path):
    import gptnas
    from gptnas.evaluators.base import EvalResult
    from gptnas.methods.base import SearchContext
    from gptnas.methods.sources import scored_architectures
    from gptnas.core.rng import Rngs
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 5, name="five")
    gptnas.search(space, lambda a: EvalResult(float(sum(a)), {"test": 777.0 + sum(a)}), method="random",
                  budget=120, out=tmp_path / "src", progress=False)
    ctx = SearchContext(space, Rngs(0), dataset=None, fitness="custom")
    scored = scored_architectures(str(tmp_path / "src"), ctx, "--rank-from")
    assert len(scored) == 120 and all(f == sum(g) for g, f in scored)
    samples = samples_from(scored, space, random.Random(0), n_subspaces=30, per_subspace=(20, 40))
    assert samples and all(max(s.scores) < 777 for s in samples)


def test_the_builtin_ranker_learns_to_prefer_what_the_history_rewards():
    """A space where fitness counts the 1s: trained on a few trajectories, the ranker beats chance."""
    from gptnas.methods.lmsearcher.ranker import BuiltinRanker, RankerConfig, RankerTraining
    space = CategoricalSequenceSpace([["0", "1", "2"]] * 6, name="ones")
    import itertools
    scored = [(list(g), float(sum(v == 1 for v in g)) + 0.01 * g[0]) for g in itertools.product(range(3), repeat=6)]
    rng = random.Random(0)
    train = samples_from(scored, space, rng, n_subspaces=200, per_subspace=(40, 80), steps=8)
    test = samples_from(scored, space, random.Random(9), n_subspaces=15, per_subspace=(40, 80), steps=4)
    r = BuiltinRanker(RankerConfig(hidden=32, layers=2, max_history=16))
    stats = r.fit(train, RankerTraining(epochs=8), progress=False)
    assert stats["losses"][-1] < stats["chance_loss"]
    hits = np.mean([s.pool_scores[r.choose(s.codes, s.scores, s.pool)] == max(s.pool_scores) for s in test])
    chance = np.mean([1 / len(s.pool) for s in test])
    assert hits > 2 * chance
    assert r.scores(test[0].codes, test[0].scores, test[0].pool).shape == (len(test[0].pool),)


def test_relabelled_samples_rename_options_consistently_and_keep_the_target():
    from gptnas.methods.lmsearcher.trajectories import relabelled
    space = CategoricalSequenceSpace([["a", "b", "c", "d"]] * 5, name="five4")
    rng = random.Random(3)
    genomes = {space.ncode(g): g for g in (space.sample(rng) for _ in range(60))}
    codes = list(genomes)
    hist, pool = codes[:40], codes[40:50]
    new_hist, new_pool = relabelled(hist, pool, genomes, space, random.Random(5))
    assert len(set(new_hist + new_pool)) == len(set(hist + pool)) and new_hist != hist
    for i in range(5):  # per decision one bijection of its options, the same for history and pool
        m = {}
        for old, new in zip(hist + pool, new_hist + new_pool):
            assert m.setdefault(old[i], new[i]) == new[i]
        assert len(set(m.values())) == len(m)


def test_a_ranker_trained_on_relabelled_samples_reads_the_history():
    """Fitness: closeness to a hidden genome that differs per source; with options renamed in every sample no prior
    can rank the pool, so the ranker is good only while it sees the history's scores."""
    import itertools
    from gptnas.methods.lmsearcher.ranker import BuiltinRanker, RankerConfig, RankerTraining
    space = CategoricalSequenceSpace([["0", "1", "2"]] * 6, name="near")
    every = [list(g) for g in itertools.product(range(3), repeat=6)]

    def source(target, seed, n):
        scored = [(g, float(sum(a == b for a, b in zip(g, target)))) for g in every]
        return samples_from(scored, space, random.Random(seed), n_subspaces=n, per_subspace=(40, 80), steps=8,
                            relabel=1.0)
    train = source([0] * 6, 0, 800) + source([2, 1, 0, 2, 1, 0], 1, 800)
    test = source([1, 2, 2, 0, 0, 1], 9, 20)
    r = BuiltinRanker(RankerConfig(hidden=64, layers=2, max_history=16))
    r.fit(train, RankerTraining(epochs=10), progress=False)
    hit = lambda s, sc: s.pool_scores[r.choose(s.codes, sc, s.pool)] == max(s.pool_scores)
    seen = np.mean([hit(s, s.scores) for s in test])
    blind = np.mean([hit(s, [0.0] * len(s.scores)) for s in test])
    chance = np.mean([1 / len(s.pool) for s in test])
    assert seen > 3 * chance and seen > blind + 0.2


def test_ranked_prescreening_is_a_deap_selection_and_the_budget_counts_only_evaluations():
    from gptnas.core.types import make_individual
    from gptnas.methods.lmsearcher.prescreen import sel_ranked
    space = CategoricalSequenceSpace([["a", "b"]] * 4, name="four")
    h = History(space.parse)
    h.append(space.key([0, 0, 0, 0]), 0.0, False, 0, "random")

    class Ones:  # a ranker that prefers more 1s
        def scores(self, codes, scores, pool):
            return np.array([c.count("1") for c in pool], dtype=float)

    inds = [make_individual(g, "mutation") for g in ([0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 1], [1, 1, 1, 1],
                                                     [1, 1, 1, 1])]
    chosen = sel_ranked(inds, 2, Ones(), space, h)
    assert [list(c) for c in chosen] == [[1, 1, 0, 1], [1, 1, 1, 1]] and chosen[0].origin == "mutation+ranked"


def _archive(run):
    from gptnas.storage.archive import read_archive
    a = read_archive(run / "archive.h5")
    return list(zip(a["arch"], a["fitness"], a["origin"]))


@pytest.mark.parametrize("method", ["lmsearcher", "rea"])
def test_ranked_runs_resume_identically_after_a_kill(data, tmp_path, method):
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar100", "--data", data,
            "--method", method, "--budget", "30", "--no-progress", "-q", *FAST]
    if method == "rea":
        args += ["--set", "rank.prescreen=4"]
    r = subprocess.run([*args, "--out", str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    origins = {o for _, _, o in _archive(tmp_path / "a")}
    assert ("ranker:builtin" in origins) if method == "lmsearcher" else ("mutation+ranked" in origins)
    r = subprocess.run([*args, "--out", str(tmp_path / "b")], env={**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "17"},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(tmp_path / "b"), "--no-progress", "-q"],
                       env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _archive(tmp_path / "b") == _archive(tmp_path / "a")


def test_the_target_is_never_a_ranker_source(data, tmp_path):
    from gptnas.run import main
    assert main(["--space", "nb201", "--dataset", "cifar100", "--data", data, "--method", "lmsearcher",
                 "--rank-from", "nb201:cifar100", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    from gptnas.config import RunConfig, SearchConfig, validate
    from gptnas.core.rng import Rngs
    from gptnas.methods.base import SearchContext
    from gptnas.methods.lmsearcher.options import RankSettings
    from gptnas.methods.lmsearcher.rankers import training_sources
    ctx = SearchContext(NB201Space(), Rngs(0), dataset="cifar100", fitness="benchmark", data=data, space_name="nb201")
    labels = [s[0] for s in training_sources(RankSettings(), ctx)]
    assert "nb201:cifar100" not in labels and {"nb201:cifar10", "tnb101:jigsaw"} <= set(labels)


def test_the_llm_ranker_end_to_end_in_pool_outside_malformed_and_replayed(data, tmp_path, monkeypatch):
    """Replies in the pool are taken; outside it or malformed, asked again, then the fallback chooses (recorded in
    the archive's origin); a resumed run replays every exchange and asks only what is new."""
    from helpers.llm_server import LLMServer
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(tmp_path / "cache")}
    run = tmp_path / "run"
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data", data,
            "--method", "lmsearcher", "--ranker", "llm", "--llm-model", "m", "--budget", "12", "--no-progress", "-q",
            "--set", "rank.retries=1", "--set", "rank.fallback=random"]
    with LLMServer() as srv:
        # trials 6..: in the pool, outside twice (-> fallback), malformed then in the pool, then always in the pool
        srv.script(("echo_pool",), ("reply", "999999"), ("reply", "999999"), ("reply", "no idea"), ("echo_pool",))
        r = subprocess.run([*args, "--llm-url", srv.url, "--out", str(run)],
                           env={**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "10"},
                               capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        prompt = srv.requests[0]["messages"][0]["content"]
        assert srv.requests[0]["messages"][0]["role"] == "system" and re.fullmatch(r"(\d{6}\|[\d.]+,){5}(\d{6};){10}",
                                                                                   prompt)
        asked = len(srv.requests)
        r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(run), "--no-progress", "-q"],
                           env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
        new = len(srv.requests) - asked
    origins = [o for _, _, o in _archive(run)]
    assert origins[:5] == ["random"] * 5 and "ranker-fallback" in origins and origins.count("ranker:llm") >= 3
    assert new <= 2  # only the trials after the kill reached the server
    exchanges = (run / "llm_exchanges.jsonl").read_text().splitlines()
    assert len(exchanges) == asked + new


import re  # noqa: E402  (used above in the LLM test)


class _LastAlphabetically:
    """A ranker with a known preference: the candidate whose NCode sorts last; it records what it chose."""

    name = "stub"

    def __init__(self):
        self.chosen = []

    def choose(self, codes, scores, pool) -> int:
        i = max(range(len(pool)), key=lambda j: pool[j])
        self.chosen.append(pool[i])
        return i


def test_the_search_evaluates_the_candidate_its_ranker_chooses(monkeypatch):
    """The pool's first candidate is not the ranker's choice: each ranked child is the one the ranker named, so a
    ranker that prefers other candidates changes the search."""
    import gptnas
    from gptnas.methods.lmsearcher import rankers
    from gptnas.spaces import CategoricalSequenceSpace
    stub = _LastAlphabetically()
    monkeypatch.setattr(rankers, "make_ranker", lambda settings, ctx, progress=True: stub)
    space = CategoricalSequenceSpace([list("abcd")] * 6, name="chain6")
    r = gptnas.search(space, lambda g: float(sum(g)), method="lmsearcher", budget=30, seed=0, progress=False)
    ranked = [row for row in r.archive if row["origin"].startswith("ranker")]
    assert len(ranked) == 25 and len(stub.chosen) == 25
    assert [space.ncode(space.parse(row["arch"])) for row in ranked] == stub.chosen
    # the preference is the search's: the last-sorting code is the all-"d" genome, the fitness's best too
    assert r.best.fitness == 18.0


def test_the_llm_ranker_with_no_server_fails_in_one_line_before_training(data, tmp_path, monkeypatch):
    import socket
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = tmp_path / "cache"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data", data,
                        "--method", "lmsearcher", "--ranker", "llm", "--llm-model", "m", "--budget", "12",
                        "--llm-url", f"http://127.0.0.1:{port}/v1", "--out", str(tmp_path / "run"), "-q"],
                       env={**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(cache)},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "cannot reach the LLM server" in r.stderr, r.stderr[-2000:]
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (cache / "ranker").exists()  # the fallback ranker was never trained (it is cached there)
    assert not (tmp_path / "run").exists()  # and a run that could not start leaves nothing behind
