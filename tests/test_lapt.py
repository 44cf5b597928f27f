"""Design-principle transfer (LAPT): principles as objects, their extractors, the refined space, adaptation, the
method with a run directory, and the llm backend against a loopback OpenAI-compatible server."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from gptnas.core.history import History
from gptnas.core.rng import Rngs
from gptnas.errors import ConfigError
from gptnas.methods.base import SearchContext
from gptnas.methods.lapt.learn import learn_principles
from gptnas.methods.lapt.options import PrinciplesSettings
from gptnas.methods.lapt.principles import Principles
from gptnas.methods.lapt.stats import FrequencyExtractor, StatsExtractor, adapt_statistically
from gptnas.spaces import NB201Space
from helpers import TIMEOUT, no_data


@pytest.fixture(scope="module")
def data(shared_data):
    if not (shared_data / "nb201").is_dir():
        no_data("NAS-Bench-201 tables not found")
    return str(shared_data)


def ctx_for(space, data, target="cifar10", run_dir=None):
    return SearchContext(space, Rngs(0), progress=False, dataset=target, fitness="benchmark", data=data,
                         space_name=space.name, run_dir=run_dir)


def scored(data, dataset):
    from gptnas.bench import scored_table
    return scored_table("nb201", data, dataset)


def test_stats_statements_are_true_of_the_data(data):
    space = NB201Space()
    src = scored(data, "cifar10")
    p = StatsExtractor(2).extract([("cifar10", src)], space)
    order = sorted(range(len(src)), key=lambda i: -src[i][1])
    k = p.settings["good"]
    assert k == round(0.01 * 15625) and p.settings["scored"] == 15625
    good = [src[i][0] for i in order[:k]]
    for stmt, pos in zip(p.statements, p.positions):
        i = space.names.index(pos.name)
        assert stmt.startswith(f"On {pos.name}, keep")
        for opt, n_good in re.findall(r"(\w+) \((\d+) of the \d+ best", stmt):
            j = space.options[i].index(opt)
            assert int(n_good) == sum(g[i] == j for g in good)   # the counts it states are the data's
            assert opt in pos.allowed
        assert len(pos.allowed) == 2
        e = {x.option: x for x in pos.evidence}
        assert all(e[o].score >= max(x.score for x in pos.evidence if x.option not in pos.allowed)
                   for o in pos.allowed)
    # the refined space keeps imagenet16-120's best cell, which top-50 frequency drops (BENCHMARKS.md)
    tgt = scored(data, "imagenet16-120")
    best = max(tgt, key=lambda s: s[1])[0]
    assert p.refine(space).contains(best)
    freq = FrequencyExtractor(2).extract([("cifar10", src)], space)
    assert not freq.refine(space).contains(best)
    top50 = [src[i][0] for i in order[:50]]
    for pos in freq.positions:  # the baseline: the two most frequent among the top 50
        i = space.names.index(pos.name)
        counts = np.bincount([g[i] for g in top50], minlength=5)
        assert sorted(space.options[i].index(o) for o in pos.allowed) == sorted(np.argsort(-counts, kind="stable")[:2])


def test_principles_files_round_trip_and_hand_written_ones_refine(tmp_path, data):
    space = NB201Space()
    p = StatsExtractor(2).extract([("cifar100", scored(data, "cifar100"))], space)
    p.save(tmp_path)
    again = Principles.load(tmp_path / "principles.json", space)
    assert again.allowed(space) == p.allowed(space) and again.statements == p.statements
    md = (tmp_path / "principles.md").read_text()
    assert "## Statements" in md and "| e01 |" in md
    hand = tmp_path / "hand.json"
    hand.write_text(json.dumps({"positions": {"e01": ["nor_conv_3x3"], "e23": ["nor_conv_3x3", "skip_connect"]},
                                "statements": ["convolutions into the output"]}))
    h = Principles.load(hand, space)
    assert h.allowed(space)[0] == [3] and h.allowed(space)[5] == [1, 3] and h.allowed(space)[1] == [0, 1, 2, 3, 4]
    hand.write_text(json.dumps({"positions": {"e99": ["none"]}}))
    with pytest.raises(ConfigError, match="e99"):
        Principles.load(hand, space)


def test_adaptation_updates_or_widens_never_empties_and_terminates(data):
    space = NB201Space()
    p = StatsExtractor(2).extract([("cifar100", scored(data, "cifar100"))], space)
    src_scores = p.scores(space)
    h = History(space.parse)
    tgt = scored(data, "cifar10")
    for g, f in tgt[:10]:
        h.append(space.key(g), f, False, 0, "random")
    rec = adapt_statistically(p, space, src_scores, h, True, 5, 50.0, -np.inf)
    assert rec["kind"] == "update" and "target's 5 best" in rec["reason"]
    for _ in range(6):  # no improvement, again and again: one option more per position each time, until all
        before = [len(x.allowed) for x in p.positions]
        rec = adapt_statistically(p, space, src_scores, h, False, 5, 50.0, 99.0)
        assert rec["kind"] == "widen"
        assert all(len(x.allowed) == min(5, b + 1) for x, b in zip(p.positions, before))
    assert all(len(x.allowed) == 5 for x in p.positions) and "every option is already allowed" in rec["reason"]
    assert len(p.adaptations) == 7


def test_an_update_follows_the_targets_best_not_its_worst(data):
    """The target's best use an option the source's principles left out: the update allows it and raises its score
    by the target's enrichment (weight n / (n + target_weight)); the target's worst use none of it."""
    space = NB201Space()
    p = StatsExtractor(2).extract([("cifar100", scored(data, "cifar100"))], space)
    src_scores = p.scores(space)
    pos0 = p.positions[0]
    out = next(o for o in space.options[0] if o not in pos0.allowed)     # an option the source ruled out
    x = space.options[0].index(out)
    rng = np.random.default_rng(0)
    h = History(space.parse)
    for i in range(20):
        g = [int(v) for v in rng.integers(0, 5, size=6)]
        g[0] = x if i < 5 else space.options[0].index(pos0.allowed[0])
        h.append(space.key(g), 90.0 - i, False, 0, "random")             # the first five are the best
    before = {e.option: e.score for e in pos0.evidence}
    rec = adapt_statistically(p, space, src_scores, h, True, 5, 20.0, 80.0)
    assert rec["kind"] == "update" and rec["changes"][pos0.name] == [out] and out in pos0.allowed
    assert [o for o in space.options[0] if o in pos0.allowed] == pos0.allowed   # in the space's order
    after = {e.option: e.score for e in pos0.evidence}
    assert after[out] > before[out]                                       # enriched among the target's best
    assert [e.score for e in pos0.evidence] == sorted((e.score for e in pos0.evidence), reverse=True)
    assert "weight 0.50" in rec["reason"]                                 # 20 / (20 + 20)


def test_the_target_itself_is_refused(data, tmp_path):
    from gptnas.run import main
    assert main(["--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lapt",
                 "--principles-from", "cifar10", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    with pytest.raises(ConfigError, match="needs a source task"):
        from gptnas.methods import LAPT
        LAPT()


def _archive(run):
    from gptnas.storage.archive import read_archive
    a = read_archive(Path(run) / "archive.h5")
    return list(zip(a["arch"], a["fitness"], a["origin"]))


def test_lapt_run_writes_principles_and_a_killed_run_resumes_identically(data, tmp_path):
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "imagenet16-120", "--data", data,
            "--method", "lapt", "--principles-from", "cifar10", "--budget", "20", "--seed", "3", "--no-progress",
            "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([*args, "--out", str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    p = json.loads((tmp_path / "a/principles.json").read_text())
    assert p["extractor"] == "stats" and p["sources"] == ["cifar10"]
    assert [a["evaluation"] for a in p["adaptations"]] == [10, 15]  # the paper's schedule on NAS-Bench-201
    space = NB201Space()
    refined = Principles.from_dict(p)
    keys = [k for k, _, _ in _archive(tmp_path / "a")]
    assert {o for _, _, o in _archive(tmp_path / "a")} == {"principles"}
    first = Principles.from_dict({**p, "positions": p["positions"], "adaptations": []})
    assert all(refined.refine(space).contains(space.parse(k)) for k in keys)
    r = subprocess.run([*args, "--out", str(tmp_path / "b")], env={**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "12"},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(tmp_path / "b"), "--no-progress", "-q"],
                       env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _archive(tmp_path / "b") == _archive(tmp_path / "a")
    assert json.loads((tmp_path / "b/principles.json").read_text())["adaptations"] == p["adaptations"]
    r = subprocess.run([sys.executable, "-m", "gptnas.principles", "show", str(tmp_path / "a")], env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout.startswith("# Design principles for nb201") and first.positions


@pytest.mark.parametrize("method", ["rea", "gptnas"])
def test_any_method_searches_the_refined_space(data, tmp_path, method):
    import gptnas
    from gptnas.bench import open_table, resolve_benchmark_path
    from gptnas.evaluators.tabular import TabularEvaluator
    tiny = {"model": {"n_embd": 16, "n_layer": 1, "n_head": 2}, "corpus": {"n": 300}, "train": {"epochs": 1}}
    res = gptnas.search("nb201", "benchmark", method=method, budget=25, seed=1, progress=False, dataset="cifar100",
                        data=data, principles={"source": "cifar10"},
                        gpt={"pretrain": tiny, "cache_dir": str(tmp_path / "cache")}, out=tmp_path / "run")
    space = NB201Space()
    p = Principles.load(tmp_path / "run/principles.json", space)
    assert all(p.refine(space).contains(e.genome) for e in res.history) and p.size() == 64


def _good_reply(space, m=2, prose="1. The information flows through 3 paths.\n2. Convolutions dominate."):
    allowed = {f"layer{i}": ["nor_conv_3x3", "nor_conv_1x1"] if i != 3 else ["skip_connect"] for i in range(6)}
    return prose + "\nSo the available operations are:\n" + json.dumps(allowed) + "\nThat is all."


def test_llm_principles_end_to_end_with_replay_on_resume(data, tmp_path, monkeypatch):
    from helpers.llm_server import LLMServer
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    space = NB201Space()
    run = tmp_path / "run"
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data", data,
            "--method", "lapt", "--principles", "llm", "--principles-from", "cifar100", "--budget", "20",
            "--llm-model", "test", "--no-progress", "-q"]
    with LLMServer() as srv:
        srv.script(("reply", "no json here, sorry"), ("reply", _good_reply(space)))
        env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": "sk-test"}
        r = subprocess.run([*args, "--llm-url", srv.url, "--out", str(run)], env={**env,
                           "GPTNAS_FAULT_KILL_AFTER_EVALS": "13"}, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        first = srv.requests[0]["messages"]
        assert first[0]["role"] == "system" and "layer_list=[" in first[1]["content"]
        assert "no more than 2 per layer" in first[1]["content"] and "the 50 best-performing" in first[1]["content"]
        assert "holds no JSON object" in srv.requests[1]["messages"][-1]["content"]  # one retry, the error stated
        asked = len(srv.requests)  # extraction (2) + the adaptation at 10 evaluations
        assert asked == 3
        r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(run), "--no-progress", "-q"],
                           env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(srv.requests) == asked + 1  # the replayed ones cost nothing; only the adaptation at 15 is new
    p = json.loads((run / "principles.json").read_text())
    assert p["extractor"] == "llm" and any("information flows" in s for s in p["statements"])
    assert p["positions"][3]["allowed"] == ["skip_connect"] or p["adaptations"]
    assert "sk-test" not in (run / "llm_exchanges.jsonl").read_text()
    assert len((run / "llm_exchanges.jsonl").read_text().splitlines()) == 4
    # offline: the recorded run again, with no server at all
    r = subprocess.run([*args, "--llm-replay", str(run / "llm_exchanges.jsonl"), "--out", str(tmp_path / "offline")],
                       env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _archive(tmp_path / "offline") == _archive(run)


def test_llm_replies_that_stay_unusable_fail_in_one_line_or_fall_back(data, tmp_path, monkeypatch):
    from helpers.llm_server import LLMServer
    bad = json.dumps({f"layer{i}": ["conv7x7"] for i in range(6)})
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data", data,
            "--method", "lapt", "--principles", "llm", "--principles-from", "cifar100", "--budget", "12",
            "--llm-model", "test", "--no-progress", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with LLMServer() as srv:
        srv.script(("reply", bad))
        r = subprocess.run([*args, "--llm-url", srv.url, "--out", str(tmp_path / "a")], env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 2 and "'conv7x7' is not an operation of layer0" in r.stderr
        assert "lapt.fallback=stats" in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "a").exists()  # a run that could not start leaves nothing behind
        r = subprocess.run([*args, "--llm-url", srv.url, "--set", "principles.fallback=stats", "--out",
                            str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
    p = json.loads((tmp_path / "b/principles.json").read_text())
    assert "fallback" in p["extractor"]


def test_block_chain_principles_from_an_earlier_run_refine_the_types_and_the_layer_gpt_honours_them(tmp_path):
    """GPT-NAS's block chains: principles say which block types are allowed anywhere in the chain, learned from an
    earlier run directory (here a quick synthetic one) and honoured by REA, LAPT and the layer GPT."""
    import gptnas
    from gptnas.spaces import MacroSpace
    space = MacroSpace(width=8)
    good = {4, 6, 7}  # ResBottleneckBlock, Bottleneck, BasicBlock

    def fit(arch):
        return sum(b in good for b in arch) / len(arch)

    gptnas.search(space, fit, method="rea", budget=80, out=tmp_path / "source", progress=False)
    tiny = {"pretrain_cells": 30, "pretrain_epochs": 1, "finetune_epochs": 1, "classifier_chains": 40,
            "classifier_epochs": 2}
    for method in ("lapt", "gptnas"):
        res = gptnas.search(space, fit, method=method, budget=20, out=tmp_path / method, progress=False,
                            principles={"source": str(tmp_path / "source")},
                            gpt={"layer_gpt": tiny, "cache_dir": str(tmp_path / "cache")})
        p = Principles.load(tmp_path / method / "principles.json", space)
        allowed = set(p.positions[0].allowed)
        assert {"Bottleneck", "BasicBlock"} <= allowed and len(allowed) < 15
        assert all(p.refine(space).contains(e.genome) for e in res.history)
        assert "block types allowed" in (tmp_path / method / "principles.md").read_text()
        if method == "gptnas":
            assert "gpt" in set(res.history.origins())
