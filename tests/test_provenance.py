"""No way for the target's data to leak into a transfer: principles carry their provenance and a file learned or
adapted on the target is refused; a source that is the target under another name (a table imported twice, a run on
a copy of the target's table, a user's space whose fitness reads a benchmark's numbers) is refused by content."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from gptnas.errors import ConfigError
from helpers import TIMEOUT, no_data


@pytest.fixture(scope="module")
def data(shared_data):
    if not (shared_data / "nb201").is_dir():
        no_data("NAS-Bench-201 tables not found")
    return str(shared_data)


def _run(*args, env=None):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gptnas.run", *args, "--no-progress", "-q"], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _one_line_error(r, *words):
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def adapted_run(data, tmp_path_factory):
    """A LAPT run on cifar10 with principles from cifar100, adapted twice on cifar10's results."""
    out = tmp_path_factory.mktemp("prov") / "run"
    r = _run("--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lapt", "--principles-from",
             "cifar100", "--budget", "20", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def test_principles_record_where_they_come_from(adapted_run):
    prov = json.loads((adapted_run / "principles.json").read_text())["provenance"]
    assert prov["sources"] == ["cifar100"] and set(prov["source_values"]) == {"cifar100"}
    assert prov["space"] == "nb201" and prov["space_fingerprint"] and prov["run_dir"] == str(adapted_run)
    assert [a["target"] for a in prov["adapted_on"]] == ["cifar10"] and prov["adapted_on"][0]["values"]


def test_a_principles_file_adapted_on_the_target_or_learned_from_it_is_refused(adapted_run, data, tmp_path):
    f = str(adapted_run / "principles.json")
    base = ["--space", "nb201", "--data", data, "--method", "lapt", "--principles-file", f, "--budget", "12"]
    _one_line_error(_run(*base, "--dataset", "cifar10", "--out", str(tmp_path / "a")), f, "adapted on cifar10")
    _one_line_error(_run(*base, "--dataset", "cifar100", "--out", str(tmp_path / "b")), "learned from cifar100")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    r = _run(*base, "--dataset", "imagenet16-120", "--out", str(tmp_path / "c"))  # another task: fine
    assert r.returncode == 0, r.stderr[-2000:]
    # exported (python -m gptnas.principles export) they keep their provenance, and are refused the same
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "gptnas.principles", "export", str(adapted_run), "--out",
                        str(tmp_path / "exported.json")], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    _one_line_error(_run(*base[:6], "--principles-file", str(tmp_path / "exported.json"), "--budget", "12",
                         "--dataset", "cifar10", "--out", str(tmp_path / "d")), "adapted on cifar10")
    # learned outside any search (python -m gptnas.principles extract): no target, accepted on another task
    r = subprocess.run([sys.executable, "-m", "gptnas.principles", "extract", "--space", "nb201", "--data", data,
                        "--from", "cifar100", "--out", str(tmp_path / "p.json")], env=env, capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run(*base[:6], "--principles-file", str(tmp_path / "p.json"), "--budget", "12", "--dataset", "cifar10",
             "--out", str(tmp_path / "e"))
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.fixture(scope="module")
def twice(data, tmp_path_factory):
    """A NAS-Bench-201 table whose cifar100 is cifar10 imported a second time."""
    from gptnas.bench import open_table, resolve_benchmark_path
    from gptnas.bench.table import BenchTable
    t = open_table(resolve_benchmark_path(data, "nb201"))
    cols = {ds: {m: t.column(ds, m) for m in t.own_metrics(ds)} for ds in t.datasets}
    cols["cifar100"] = {m: t.column("cifar10", m) for m in t.own_metrics("cifar10")}
    path = tmp_path_factory.mktemp("twice") / "nb201_twice.h5"
    BenchTable(t.arch_strings, cols, {m: t.shared_column(m) for m in t.shared_metrics}).save(path)
    return str(path)


def test_a_table_imported_twice_is_refused_for_principles_transfer_and_ranker(twice, data, tmp_path):
    base = ["--space", "nb201", "--dataset", "cifar10", "--data", twice, "--budget", "12"]
    _one_line_error(_run(*base, "--method", "lapt", "--principles-from", "cifar100", "--out", str(tmp_path / "a")),
                    "--principles-from cifar100", "under another name")
    _one_line_error(_run(*base, "--method", "gptnas", "--transfer-from", "cifar100", "--out", str(tmp_path / "b")),
                    "--transfer-from cifar100", "under another name")
    _one_line_error(_run(*base, "--method", "lmsearcher", "--rank-from", "nb201:cifar100", "--out",
                         str(tmp_path / "c")), "--rank-from nb201:cifar100", "under another name")
    # the ranker's default sources (every table but the target's) are refused too, not silently trained on
    _one_line_error(_run(*base, "--method", "lmsearcher", "--out", str(tmp_path / "d")), "nb201:cifar100",
                    "under another name")
    r = _run(*base[:-2], "--dataset", "imagenet16-120", "--budget", "12", "--method", "lapt", "--principles-from",
             "cifar100", "--out", str(tmp_path / "e"))
    assert r.returncode == 0, r.stderr[-2000:]  # cifar100 (= cifar10) is not imagenet16-120


def test_a_run_on_a_copy_of_the_target_is_refused_by_its_values(twice, data, tmp_path):
    """A search on cifar100 of the doubled table is a search on cifar10's numbers: as a source for cifar10 on the
    real table it is refused, though its recorded dataset says cifar100."""
    r = _run("--space", "nb201", "--dataset", "cifar100", "--data", twice, "--method", "rea", "--budget", "20",
             "--out", str(tmp_path / "copy"))
    assert r.returncode == 0, r.stderr[-2000:]
    _one_line_error(_run("--space", "nb201", "--dataset", "cifar10", "--data", data, "--method", "lapt",
                         "--principles-from", str(tmp_path / "copy"), "--budget", "12", "--out", str(tmp_path / "x")),
                    "score exactly as in the target cifar10's table")
    r = _run("--space", "nb201", "--dataset", "imagenet16-120", "--data", data, "--method", "lapt",
             "--principles-from", str(tmp_path / "copy"), "--budget", "12", "--out", str(tmp_path / "y"))
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_users_space_whose_fitness_is_a_benchmark_table_is_refused_as_the_rankers_source(data, tmp_path):
    """No target table to compare up front: the first evaluations' values give the copy away."""
    import gptnas
    from gptnas.bench import scored_table
    from gptnas.spaces import CategoricalSequenceSpace
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    table = {tuple(g): v for g, v in scored_table("nb201", data, "cifar10")}
    space = CategoricalSequenceSpace([ops] * 6, names=[f"edge{i}" for i in range(6)], name="my_cells")

    def fitness(genome):
        return table[tuple(genome)]

    rank = {"subspaces": 12, "epochs": 1}
    with pytest.raises(ConfigError, match="nb201:cifar10.*under another name"):
        gptnas.search(space, fitness, method="lmsearcher", budget=15, seed=0, progress=False, data=data,
                      rank=rank, cache_dir=str(tmp_path / "cache"))
    from gptnas.methods import REA
    from gptnas.methods.lmsearcher.prescreen import Prescreened
    with pytest.raises(ConfigError, match="nb201:cifar10.*under another name"):  # the same ranker, pre-screening
        gptnas.search(space, fitness, method=Prescreened(REA(), prescreen=2, **rank), budget=15, seed=0,
                      progress=False, data=data, cache_dir=str(tmp_path / "cache"))
    # a fitness of its own is not refused
    rng = np.random.default_rng(0)
    own = {k: float(rng.normal()) for k in table}
    res = gptnas.search(space, lambda g: own[tuple(g)], method="lmsearcher", budget=15, seed=0, progress=False,
                        data=data, rank=rank, cache_dir=str(tmp_path / "cache"))
    assert len(res.history) == 15


def _tiny_fitness(genome):
    return float(sum((i + 1) * (g == 1) for i, g in enumerate(genome)) - 2 * (genome[0] == genome[1] == 2))


def _other_fitness(genome):
    return float(sum((i + 1) * (g == 2) for i, g in enumerate(genome)))


@pytest.mark.parametrize("method,kw", [
    ("lapt", lambda src: {"lapt": {"source": src}}),
    ("rea", lambda src: {"principles": {"source": src}}),
    ("gptnas", lambda src: {"gptnas": {"transfer_from": src, "pretrain": {"model": {"n_embd": 16, "n_layer": 1,
                                                                                  "n_head": 2}}}}),
])
def test_a_run_on_the_same_users_task_is_refused_as_a_source(method, kw, tmp_path):
    """A user's space has no table to compare a source with up front: the target's first evaluations that the
    source also scored give the copy away, and a source on another fitness is not refused."""
    import gptnas
    from gptnas.spaces import CategoricalSequenceSpace
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="tiny4")
    gptnas.search(space, _tiny_fitness, method="random", budget=70, seed=0, progress=False, out=tmp_path / "src")
    gptnas.search(space, _other_fitness, method="random", budget=70, seed=0, progress=False, out=tmp_path / "oth")
    cache = {"cache_dir": str(tmp_path / "cache")}
    with pytest.raises(ConfigError, match="under another name"):
        gptnas.search(space, _tiny_fitness, method=method, budget=40, seed=1, progress=False,
                      **kw(str(tmp_path / "src")), **cache)
    r = gptnas.search(space, _tiny_fitness, method=method, budget=40, seed=1, progress=False,
                      **kw(str(tmp_path / "oth")), **cache)
    assert r.evaluations > 0
