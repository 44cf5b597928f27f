"""Command-line paths a user scripts against and nothing else exercised: --threads, --order / --parallel /
--ray-address, ``python -m gptnas.rank trajectories|train``, ``--principles gpt``, LAPT on TransNAS-Bench-101, and a
resume that extends --budget-time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from helpers import TIMEOUT, no_data

TINY_GPT = {"model": {"n_embd": 16, "n_layer": 1, "n_head": 2}, "corpus": {"n": 300}, "train": {"epochs": 1}}


def gptnas(module: str, *args, cache: Path | None = None, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env}
    if cache is not None:
        e["GPTNAS_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=TIMEOUT, cwd=REPO)


def run(*args, **kw) -> subprocess.CompletedProcess:
    r = gptnas("gptnas.run", *args, "--no-progress", "-q", **kw)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def summary(d: Path) -> dict:
    return json.loads((d / "summary.json").read_text())


def archive(d: Path) -> list[str]:
    from gptnas.storage.archive import read_archive
    return [a.decode() if isinstance(a, bytes) else str(a) for a in read_archive(d / "archive.h5")["arch"]]


def test_threads_sets_the_search_process_torch_threads(tmp_path):
    user = ["--space", "tests.helpers.slow_space:space", "--fitness", "tests.helpers.slow_space:torch_threads",
            "--method", "random", "--budget", "3"]
    run(*user, "--threads", "3", "--out", tmp_path / "three")
    run(*user, "--out", tmp_path / "default")
    assert summary(tmp_path / "three")["best"]["fitness"] == 3.0
    assert summary(tmp_path / "default")["best"]["fitness"] == 1.0  # one thread unless asked
    assert yaml.safe_load((tmp_path / "three" / "config.yaml").read_text())["threads"] == 3


def test_order_and_parallel_reach_the_run_and_lag_order_does_not_depend_on_the_pool(tmp_path, nb201_dir):
    base = ["--space", "nb201", "--dataset", "cifar10", "--data", nb201_dir, "--method", "rea", "--budget", "24",
            "--workers", "2", "--seed", "4"]
    run(*base, "--parallel", "simulated", "--order", "lag", "--out", tmp_path / "sim")
    run(*base, "--parallel", "process", "--order", "lag", "--out", tmp_path / "proc")
    run(*base, "--parallel", "simulated", "--order", "arrival", "--out", tmp_path / "arrival")
    cfg = lambda d: yaml.safe_load((tmp_path / d / "config.yaml").read_text())
    assert (cfg("sim")["parallel"], cfg("proc")["parallel"]) == ("simulated", "process")
    assert cfg("sim")["search"]["order"] == "lag" and cfg("arrival")["search"]["order"] == "arrival"
    assert archive(tmp_path / "sim") == archive(tmp_path / "proc")  # lag: the same whatever the timing
    assert len(archive(tmp_path / "arrival")) == 24
    bad = gptnas("gptnas.run", *base, "--order", "fastest", "--out", tmp_path / "bad", "--no-progress")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "order" in bad.stderr


def test_ray_address_starts_or_joins_the_cluster_it_names(tmp_path):
    pytest.importorskip("ray")
    user = ["--space", "tests.helpers.slow_space:space", "--fitness", "tests.helpers.slow_space:evaluate",
            "--method", "rea", "--budget", "16", "--workers", "2", "--seed", "2"]
    env = {"SLOW_CALLS": str(tmp_path / "calls.txt"), "SLOW_SECONDS": "0"}
    # "local": a fresh local cluster, as ray.init(address="local") reads it
    run(*user, "--parallel", "ray", "--ray-address", "local", "--out", tmp_path / "ray", **env)
    run(*user, "--parallel", "simulated", "--out", tmp_path / "sim", **env)
    assert yaml.safe_load((tmp_path / "ray" / "config.yaml").read_text())["ray_address"] == "local"
    assert archive(tmp_path / "ray") == archive(tmp_path / "sim")


def test_rank_trajectories_label_each_pool_with_its_best_by_the_source_table(tmp_path, nb201_dir):
    from gptnas.bench import scored_table
    from gptnas.spaces import NB201Space
    out = tmp_path / "traj.jsonl"
    r = gptnas("gptnas.rank", "trajectories", "--space", "nb201", "--from", "cifar100", "--data", nb201_dir,
               "--subspaces", "3", "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    chat = [json.loads(x) for x in out.with_name("traj.chat.jsonl").read_text().splitlines()]
    assert rows and len(rows) == len(chat)
    space = NB201Space()
    value = {space.ncode(g): v for g, v in scored_table("nb201", str(nb201_dir.parent), "cifar100")}
    for row in rows:
        answer = row["completion"].strip()
        pool = row["prompt"].rsplit(",", 1)[1].rstrip(";").split(";")  # "<history>,<code>;<code>;...;"
        assert len(pool) == 10 and answer in pool
        # the labelled candidate is the best of those offered (by the source table's validation accuracy)
        offered = [c for c in pool if c in value]
        assert value[answer] == max(value[c] for c in offered)


def test_rank_train_builds_the_table_ranker_a_search_then_loads(tmp_path, nb201_dir):
    cache = tmp_path / "cache"
    args = ["train", "--space", "nb201", "--target", "cifar10", "--from", "cifar100", "--epochs", "1", "--data",
            nb201_dir.parent]
    first = gptnas("gptnas.rank", *args, cache=cache)
    again = gptnas("gptnas.rank", *args, cache=cache)
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-2000:] + again.stderr[-2000:]
    assert "trained" in first.stdout and "loaded from the cache" in again.stdout
    key = first.stdout.split()[1].rstrip(":")
    assert key in again.stdout
    built = sorted(p.name for p in (cache / "ranker").iterdir())
    run("--space", "nb201", "--dataset", "cifar10", "--data", nb201_dir.parent, "--method", "lmsearcher",
        "--rank-from", "cifar100", "--set", "rank.epochs=1", "--budget", "8", "--out", tmp_path / "run", cache=cache)
    assert sorted(p.name for p in (cache / "ranker").iterdir()) == built  # loaded, not built again


def test_lapt_learns_principles_with_the_gpt_extractor(tmp_path, nb201_dir):
    run("--space", "nb201", "--dataset", "cifar10", "--data", nb201_dir.parent, "--method", "lapt",
        "--principles", "gpt", "--principles-from", "cifar100", "--set", f"principles.pretrain={json.dumps(TINY_GPT)}",
        "--budget", "10", "--out", tmp_path / "run", cache=tmp_path / "cache")
    p = json.loads((tmp_path / "run" / "principles.json").read_text())
    assert p["extractor"] == "gpt" and p["provenance"]["sources"] == ["cifar100"]
    assert any("GPT fine-tuned" in s for s in p["statements"])
    assert summary(tmp_path / "run")["evaluations"] == 10


def test_lapt_runs_on_transnas_bench_101(tmp_path, shared_data):
    if not (shared_data / "transnas101" / "tnb101_micro.csv").is_file():
        no_data("TransNAS-Bench-101 table not found")
    run("--space", "tnb101", "--dataset", "jigsaw", "--data", shared_data, "--method", "lapt", "--principles-from",
        "class_scene", "--budget", "15", "--out", tmp_path / "run")
    s = summary(tmp_path / "run")
    assert s["status"] == "complete" and s["evaluations"] == 15 and s["dataset"] == "jigsaw"
    p = json.loads((tmp_path / "run" / "principles.json").read_text())
    assert p["provenance"]["sources"] == ["class_scene"] and p["statements"]


def test_a_resume_with_a_longer_budget_time_goes_on_as_one_run_would(tmp_path, nb201_dir):
    # one worker: with two, the short run drains both at its deadline where the long one starts the next, and the
    # two differ by design
    base = ["--space", "nb201", "--dataset", "cifar10", "--data", nb201_dir.parent, "--method", "rea", "--budget",
            "400", "--workers", "1", "--parallel", "simulated", "--seed", "1"]
    run(*base, "--budget-time", "1h", "--out", tmp_path / "short")
    short = archive(tmp_path / "short")
    assert 0 < len(short) < 400  # the simulated clock, not the budget, stopped it
    r = gptnas("gptnas.run", "--resume", tmp_path / "short", "--budget-time", "8h", "--no-progress", "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    run(*base, "--budget-time", "8h", "--out", tmp_path / "long")
    resumed, long = archive(tmp_path / "short"), archive(tmp_path / "long")
    assert len(resumed) > len(short) and resumed[:len(short)] == short
    assert resumed == long
