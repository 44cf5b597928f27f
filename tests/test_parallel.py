"""Parallel evaluation gives exactly the serial result; a dying worker is reported, retried, never lost."""
import os
import time
from pathlib import Path

import pytest

from gptnas.config import RunConfig, SearchConfig
from gptnas.evaluators.base import EvalResult, Evaluator
from gptnas.search.driver import run_in_memory
from gptnas.search.parallel import ProcessMap, make_map
from gptnas.errors import ConfigError


class Weighted(Evaluator):
    """Deterministic synthetic fitness; records the worker's pid so the test can see real parallelism."""

    def evaluate(self, arch):
        time.sleep(0.01)  # long enough that both workers get work
        return EvalResult(sum((i + 1) * o for i, o in enumerate(arch)) / 10, {"test": 0.0, "pid": os.getpid()})


class DiesOn(Evaluator):
    """Kills its worker process on one architecture: always, or only the first time (marker file)."""

    def __init__(self, arch, marker=None):
        self.arch, self.marker = list(arch), marker

    def evaluate(self, arch):
        if list(arch) == self.arch and (self.marker is None or not Path(self.marker).exists()):
            if self.marker:
                Path(self.marker).write_text("died once")
            os._exit(1)
        return EvalResult(float(sum(arch)))


def cfg(**kw):
    return RunConfig(space="nb201", seed=11, search=SearchConfig(method="ga", budget=60), **kw)


def archive(st):
    return [(r["arch"], r["fitness"]) for r in st.archive.rows]


def test_process_pool_gives_the_serial_archive():
    serial = run_in_memory(cfg(), evaluator=Weighted())
    par = run_in_memory(cfg(workers=2, parallel="process"), evaluator=Weighted())
    assert archive(par) == archive(serial)
    import json
    pids = {json.loads(r["extras"])["pid"] for r in par.archive.rows}
    assert os.getpid() not in pids and len(pids) == 2


def test_dead_worker_is_retried_then_failed_never_lost(tmp_path):
    pm = ProcessMap(2)
    try:
        from gptnas.search.engine import TimedEvaluate
        items = [[0] * 6, [1] * 6, [2] * 6, [3] * 6]
        # dies only the first time: re-evaluated in a fresh worker and succeeds
        out = pm(TimedEvaluate(DiesOn([2] * 6, marker=str(tmp_path / "m"))), items)
        assert [r.fitness for r, _ in out] == [0.0, 6.0, 12.0, 18.0]
        assert (tmp_path / "m").exists()
        # dies every time: a failed evaluation with the reason, the others still evaluated
        out = pm(TimedEvaluate(DiesOn([1] * 6)), items)
        assert out[1][0].failed and "worker process died" in out[1][0].failed
        assert [r.fitness for r, _ in out if not r.failed] == [0.0, 12.0, 18.0]
    finally:
        pm.close()


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="serial, process, ray"):
        make_map("mpi", 2)


def test_ray_local_cluster_gives_the_serial_archive(monkeypatch):
    ray = pytest.importorskip("ray")
    # Ray's workers must import this test module to unpickle the evaluator
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    serial = run_in_memory(cfg(), evaluator=Weighted())
    try:
        par = run_in_memory(cfg(workers=2, parallel="ray"), evaluator=Weighted())
    finally:
        ray.shutdown()
    assert archive(par) == archive(serial)
    import json
    assert os.getpid() not in {json.loads(r["extras"])["pid"] for r in par.archive.rows}
