"""Multi-turn LLM exchanges end to end against the loopback server, with replies shaped like a real model's (prose
around the JSON, a code fence, Markdown numbering, an invalid operation name, a refusal): LAPT's principles learned
and adapted twice, LM-Searcher's ranker with the paper's pool-redraw rule; each recorded, its cost in the summary,
and replayed identically on resume after a kill -9."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from helpers.llm_server import LLMServer
from helpers import TIMEOUT, no_data


@pytest.fixture(scope="module")
def data(shared_data):
    if not (shared_data / "nb201").is_dir():
        no_data("NAS-Bench-201 tables not found")
    return str(shared_data)


def _archive(run):
    from gptnas.storage.archive import read_archive
    a = read_archive(Path(run) / "archive.h5")
    return list(zip(a["arch"], a["fitness"], a["origin"]))


def _fenced(allowed: dict) -> str:
    return "```json\n" + json.dumps(allowed, indent=2) + "\n```"


CONV = ["nor_conv_3x3", "nor_conv_1x1"]
EXTRACTION = {**{f"layer{i}": CONV for i in range(6)}, "layer3": ["skip_connect", "nor_conv_3x3"]}
FIRST = """Let's analyse step by step.

### 1. Information flow.**
The output node sums three paths, so the edges into node 3 carry most of the signal.

### 2. Operations.
Convolutions dominate the best cells.

## Design principles
1. **Convolutions first:** prefer 3x3 convolutions on the edges into the output node.
2. Keep a skip connection from the input node to the output node.
3. Avoid average pooling anywhere in the cell.

""" + _fenced({**EXTRACTION, "layer5": ["nor_conv_3x3", "conv_5x5"]})  # conv_5x5: not an operation
CORRECTED = "You are right, conv_5x5 is not available. Corrected:\n\n" + _fenced(EXTRACTION)
REFUSAL = "I'm sorry, but I can't help with that request."
ADAPT_1 = """Sure. Here is my analysis.

## Design principles
- Allow 1x1 convolutions where 3x3 ones are used, since both appear among the best cells.
- Keep a skip connection from the input node to the output node.

""" + _fenced({f"layer{i}": ["nor_conv_3x3", "nor_conv_1x1", "skip_connect"] for i in range(6)})
ADAPT_2 = ("Based on the results, the refined space should keep only the strongest operations.\n\n"
           "The strongest cells use a single 3x3 convolution on every edge into node 3.\n\n"
           + _fenced({f"layer{i}": ["nor_conv_3x3", "skip_connect"] for i in range(6)}) + "\nThat is all.")
SCRIPT = (("reply", FIRST), ("reply", CORRECTED), ("reply", REFUSAL), ("reply", ADAPT_1), ("reply", ADAPT_2))


def _lapt(data, out, url, env, extra=()):
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data", data,
            "--method", "lapt", "--preset", "paper", "--principles-from", "cifar100", "--budget", "20",
            "--seed", "4", "--llm-model", "test", "--no-progress", "-q", "--out", str(out), *extra]
    if url:
        args += ["--llm-url", url]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def test_lapt_paper_preset_multi_turn_learned_adapted_twice_recorded_and_replayed(data, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    from gptnas.spaces import NB201Space
    space = NB201Space()
    with LLMServer() as srv:
        srv.script(*SCRIPT)
        r = _lapt(data, tmp_path / "a", srv.url, env)
        assert r.returncode == 0, r.stderr[-2000:]
        asked = srv.requests
    assert len(asked) == 5
    first = asked[0]["messages"][1]["content"]
    assert "the sum of what" in first and "nor_conv_3x3" in first  # the cell described, not only edge names
    assert "conv_5x5" in asked[1]["messages"][-1]["content"]  # the invalid name sent back, once
    assert "holds no JSON object" in asked[3]["messages"][-1]["content"]  # the refusal answered with the error
    p = json.loads((tmp_path / "a/principles.json").read_text())
    assert p["extractor"] == "llm" and [a["evaluation"] for a in p["adaptations"]] == [10, 15]
    assert p["statements"] == ["Convolutions first: prefer 3x3 convolutions on the edges into the output node.",
                               "Keep a skip connection from the input node to the output node.",
                               "Avoid average pooling anywhere in the cell."]
    # each adaptation keeps only what the model newly stated; the paper's rule: the answer replaces the lists
    assert p["adaptations"][0]["statements"] == [
        "Allow 1x1 convolutions where 3x3 ones are used, since both appear among the best cells."]
    last = p["adaptations"][1]
    assert last["statements"] == ["Based on the results, the refined space should keep only the strongest operations.",
                                  "The strongest cells use a single 3x3 convolution on every edge into node 3."]
    assert all(pos["allowed"] == ["skip_connect", "nor_conv_3x3"] for pos in p["positions"])
    md = (tmp_path / "a/principles.md").read_text()
    assert "```" not in md and "**" not in md and "Let's" not in md and "I'm sorry" not in md
    assert md.count("Keep a skip connection") == 1
    from gptnas.methods.lapt.principles import Principles
    refined = Principles.load(tmp_path / "a/principles.json", space)
    learned = Principles.from_dict({**p, "positions": [{**pos, "allowed": EXTRACTION[f"layer{i}"]}
                                                       for i, pos in enumerate(p["positions"])], "adaptations": []})
    # the initial population: uniform in the space the corrected answer refined (the paper's sampling)
    assert all(learned.refine(space).contains(space.parse(k)) for k, _, _ in _archive(tmp_path / "a")[:5])
    assert refined.size() == 2 ** 6
    # the cost: every call, with the server's token counts
    cost = json.loads((tmp_path / "a/summary.json").read_text())["llm"]
    assert cost["calls"] == 5 and cost["seconds"] >= 0
    assert cost["prompt_tokens"] > 5 * len(first) // 8 and cost["completion_tokens"] > len(FIRST) // 8

    # killed after 12 evaluations (the adaptation at 10 recorded), resumed: the same run, asking only what is new
    with LLMServer() as srv:
        srv.script(*SCRIPT)
        r = _lapt(data, tmp_path / "b", srv.url, {**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "12"})
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        assert len(srv.requests) == 4
        r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(tmp_path / "b"), "--no-progress",
                            "-q"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(srv.requests) == 5
    assert _archive(tmp_path / "b") == _archive(tmp_path / "a")
    resumed = json.loads((tmp_path / "b/principles.json").read_text())
    assert {**resumed, "provenance": None} == {**p, "provenance": None}  # the run directory differs, nothing else
    assert [a["target"] for a in resumed["provenance"]["adapted_on"]] == ["cifar10"]
    assert json.loads((tmp_path / "b/summary.json").read_text())["llm"]["calls"] == 5
    # offline, from the recording alone
    r = _lapt(data, tmp_path / "c", None, env, ["--llm-replay", str(tmp_path / "a/llm_exchanges.jsonl")])
    assert r.returncode == 0, r.stderr[-2000:]
    assert _archive(tmp_path / "c") == _archive(tmp_path / "a")


def test_the_prompts_json_example_suggests_no_answer():
    from gptnas.methods.lapt import prompts
    from gptnas.spaces import NB201Space
    space = NB201Space()
    text = prompts.extraction(space, [space.sample(__import__("random").Random(0)) for _ in range(3)], 2, "cifar100")
    example = text[text.rindex("{"):] if "{" in text else ""
    assert example and not re.search(r"nor_conv|skip_connect|avg_pool|none", example.split("}")[0])


def _lms(data, out, url, env):
    return subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--dataset", "cifar10", "--data",
                           data, "--method", "lmsearcher", "--preset", "paper", "--ranker", "llm", "--llm-model", "m",
                           "--budget", "12", "--seed", "2", "--no-progress", "-q", "--set", "rank.fallback=random",
                           "--llm-url", url, "--out", str(out)], env=env,
                               capture_output=True, text=True, timeout=TIMEOUT)


def _pool(request) -> list[str]:
    return re.findall(r"(\d+);", request["messages"][-1]["content"])


def test_lmsearcher_paper_preset_redraws_the_pool_on_a_miss_and_replays_on_resume(data, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_CACHE": str(tmp_path / "cache")}
    # trial 6 in the pool; trial 7: a code outside it, then prose -> two new pools; then always in the pool
    script = (("echo_pool",), ("reply", "The best candidate is 999999."), ("reply", "I would pick the first one."),
              ("echo_pool",))
    with LLMServer() as srv:
        srv.script(*script)
        r = _lms(data, tmp_path / "a", srv.url, env)
        assert r.returncode == 0, r.stderr[-2000:]
        asked = srv.requests
    assert all(q.get("max_tokens") == 100 for q in asked)  # the paper's request
    pools = [_pool(q) for q in asked]
    assert all(len(p) == 10 for p in pools)
    # the miss at request 1 and 2: each time a new pool of unseen random candidates, the same history
    assert pools[1] != pools[2] != pools[3]
    hist = [q["messages"][-1]["content"].rsplit(",", 1)[0] for q in asked[1:4]]
    assert hist[0] == hist[1] == hist[2]
    origins = [o for _, _, o in _archive(tmp_path / "a")]
    assert origins[:5] == ["random"] * 5 and origins[5:] == ["ranker:llm"] * 7
    chosen = [k for k, _, _ in _archive(tmp_path / "a")]
    assert len(set(chosen)) == len(chosen)
    cost = json.loads((tmp_path / "a/summary.json").read_text())["llm"]
    assert cost["calls"] == len(asked) == 9

    with LLMServer() as srv:
        srv.script(*script)
        r = _lms(data, tmp_path / "b", srv.url, {**env, "GPTNAS_FAULT_KILL_AFTER_EVALS": "9"})
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(tmp_path / "b"), "--no-progress",
                            "-q"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(srv.requests) == len(asked)  # the replayed ones cost nothing
    assert _archive(tmp_path / "b") == _archive(tmp_path / "a")


def test_every_built_in_space_describes_itself_and_a_users_space_can():
    from gptnas.methods.lapt import prompts
    from gptnas.spaces import CategoricalSequenceSpace, NB201Space, get_space
    nb = prompts.describe(NB201Space())
    assert "node0->node3" in nb and "the sum of" in nb and "3x3 convolution" in nb
    tnb = prompts.describe(get_space("tnb101"))
    assert tnb != nb and "node" in tnb
    macro = prompts.describe(get_space("macro"))
    assert "stage" in macro.lower() and "Bottleneck" in macro
    mine = CategoricalSequenceSpace([["a", "b"], ["c", "d", "e"]], names=["depth", "width"], name="mine",
                                    description="A toy network: depth then width.")
    assert prompts.describe(mine).startswith("A toy network: depth then width.")
    plain = CategoricalSequenceSpace([["a", "b"], ["c", "d", "e"]], names=["depth", "width"], name="plain")
    assert "2 decisions" in prompts.describe(plain) and "layer1 (width): 0: c, 1: d, 2: e" in prompts.describe(plain)
    # the description is for prompts only: a space's identity (fingerprint) does not change with it
    from gptnas.spaces.base import fingerprint
    assert fingerprint(mine) == fingerprint(CategoricalSequenceSpace([["a", "b"], ["c", "d", "e"]],
                                                                      names=["depth", "width"], name="mine"))
