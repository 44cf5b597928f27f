"""LAPT and LM-Searcher as published (``--preset paper``), offline: what stands in for the paper's LLM is said in the
log and the summary, the paper's schedule and "improved" rule run, and LM-Searcher's released trial count is the
budget when none is given."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from gptnas import config
from helpers import TIMEOUT, no_data


@pytest.fixture(scope="module")
def data(shared_data):
    if not (shared_data / "nb201").is_dir():
        no_data("NAS-Bench-201 tables not found")
    return str(shared_data)


def _run(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gptnas.run", *args, "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _budget(method: str, section: dict, budget=None) -> int:
    d = {"space": "nb201", "fitness": "benchmark", "dataset": "cifar10", "search": {"method": method}, method: section}
    if budget is not None:
        d["search"]["budget"] = budget
    return config.validate(config.from_dict(d)).search.budget


def test_lmsearchers_paper_preset_runs_the_released_trial_count_unless_a_budget_is_given():
    assert _budget("lmsearcher", {"preset": "paper"}) == 192  # search.py's trial_num
    assert _budget("lmsearcher", {"preset": "paper"}, budget=30) == 30
    assert _budget("lmsearcher", {}) == 100  # ours: the fitness kind's default
    assert _budget("lapt", {"preset": "paper", "source": "cifar100"}) == 100


def test_lapt_paper_preset_offline_says_what_stands_in_and_adapts_on_the_papers_rule(data, tmp_path):
    out = tmp_path / "run"
    r = _run("--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lapt", "--preset", "paper",
             "--principles-from", "cifar100", "--budget", "20", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stands in for the paper's LLM" in r.stderr
    details = json.loads((out / "summary.json").read_text())["method_details"]
    assert details["preset"] == "paper" and details["extractor"] == "frequency"
    assert details["sampling"] == "uniform" and details["adaptation"] == "replace"
    assert "stands in" in details["stand_in"]
    p = json.loads((out / "principles.json").read_text())
    assert [a["evaluation"] for a in p["adaptations"]] == [10, 15]  # NAS201_principle.py: after 10 and 15
    fits = [json.loads(line)["fitness"] for line in (out / "evaluations.jsonl").read_text().splitlines()]
    # "improved" is judged against the best of the initial population (5 on NB201), not against -inf
    assert p["adaptations"][0]["kind"] == ("update" if max(fits[:10]) > max(fits[:5]) else "widen")
    # each answer replaces the lists: at most 2 options per edge, whatever was allowed before
    assert all(len(pos["allowed"]) <= 2 for pos in p["positions"])
    # our preset says nothing of a stand-in
    out2 = tmp_path / "ours"
    r = _run("--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lapt",
             "--principles-from", "cifar100", "--budget", "12", "--out", str(out2))
    assert r.returncode == 0, r.stderr[-2000:]
    ours = json.loads((out2 / "summary.json").read_text())["method_details"]
    assert ours["extractor"] == "stats" and ours["sampling"] == "guided" and "stand_in" not in ours


def test_lmsearcher_paper_preset_offline_draws_random_pools(data, tmp_path):
    out = tmp_path / "run"
    r = _run("--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lmsearcher", "--preset",
             "paper", "--ranker", "random", "--budget", "15", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["budget"] == 15 and s["method_details"]["preset"] == "paper"
    assert s["method_details"]["pool"] == "random" and s["method_details"]["ranker"] == "random"
    origins = [json.loads(line)["origin"] for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert origins[:5] == ["random"] * 5 and set(origins[5:]) == {"ranker:random"}  # the first 5 random
