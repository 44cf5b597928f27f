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
    """Deterministic synthetic fitness; records the worker's pid so the test can see real parallelism.

    With `meet` (a folder), each worker waits (up to 60 s) until `workers` of them have started a task, so that
    both get work however the pool happens to schedule it."""

    def __init__(self, meet=None, workers=2):
        self.meet, self.workers = meet, workers

    def evaluate(self, arch):
        if self.meet:
            Path(self.meet, str(os.getpid())).touch()
            t0 = time.time()
            while len(os.listdir(self.meet)) < self.workers and time.time() - t0 < 60:
                time.sleep(0.01)
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


def cfg(steady=False, **kw):
    # the generational GA: a whole generation per map call, the same archive on any number of workers
    return RunConfig(space="nb201", seed=11, search=SearchConfig(method="ga", budget=60),
                     sections={"ga": {"steady": steady}}, **kw)


def archive(st):
    return [(r["arch"], r["fitness"]) for r in st.archive.rows]


def test_process_pool_gives_the_serial_archive(tmp_path):
    serial = run_in_memory(cfg(), evaluator=Weighted())
    par = run_in_memory(cfg(workers=2, parallel="process"), evaluator=Weighted(meet=str(tmp_path)))
    assert archive(par) == archive(serial)
    import json
    pids = {json.loads(r["extras"])["pid"] for r in par.archive.rows}
    assert os.getpid() not in pids and len(pids) == 2


def test_dead_worker_is_retried_then_failed_never_lost(tmp_path):
    pm = ProcessMap(2)
    try:
        from gptnas.evaluators.timed import TimedEvaluate
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


class Reports(Evaluator):
    """What a worker sees: its CUDA_VISIBLE_DEVICES, how the run's device reads there, and how many share it."""

    def __init__(self, device="auto", meet=None, workers=2):
        self.device, self.meet, self.workers = device, meet, workers

    def evaluate(self, arch):
        from gptnas.core.devices import SHARERS_ENV, local_device
        if self.meet:  # both workers get work: each waits (up to 60 s) until every worker has started one task
            from pathlib import Path
            Path(self.meet, str(os.getpid())).touch()
            t0 = time.time()
            while len(os.listdir(self.meet)) < self.workers and time.time() - t0 < 60:
                time.sleep(0.01)
        return EvalResult(float(sum(arch)), {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                             "device": local_device(self.device),
                                             "sharers": os.environ.get(SHARERS_ENV)})


def test_worker_gpu_plan_pins_cuda_k_to_one_gpu_and_spreads_auto():
    from gptnas.core.devices import worker_gpus
    assert worker_gpus("cuda:1", [0, 1, 2], 4) == [1, 1, 1, 1]
    assert worker_gpus("cuda:1", [4, 6], 2) == [6, 6]     # K counts the visible devices, as torch does
    assert worker_gpus("auto", [0, 1], 3) == [0, 1, 0] == worker_gpus("cuda", [0, 1], 3)
    assert worker_gpus("auto", [0], 2) == [None, None] == worker_gpus("cpu", [0, 1], 2) == worker_gpus("auto", [], 2)


def test_pinned_workers_read_cuda_k_as_their_own_gpu(monkeypatch, tmp_path):
    """A fake two-GPU machine (no CUDA here): --workers 2 --device cuda:1 pins both workers to GPU 1, where the
    run's cuda:1 is cuda:0; with auto each worker gets its own GPU; each knows how many share its device."""
    from gptnas.evaluators.timed import TimedEvaluate
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    for device, visible, sharers in (("cuda:1", {"1"}, {"2"}), ("auto", {"0", "1"}, {"1"})):
        pm = ProcessMap(2, device=device)
        meet = tmp_path / device.replace(":", "")
        meet.mkdir()
        try:
            out = pm(TimedEvaluate(Reports(device, str(meet))), [[i] * 6 for i in range(8)])
        finally:
            pm.close()
        extras = [r.extras for r, _ in out]
        assert {e["visible"] for e in extras} == visible and {e["sharers"] for e in extras} == sharers
        assert {e["device"] for e in extras} == ({"cuda:0"} if device.startswith("cuda") else {"auto"})


class NeedsData(Evaluator):
    def evaluate(self, arch):
        from gptnas.errors import DataError
        raise DataError("dataset files missing in /nowhere: pass --dataset-dir DIR")


def test_ray_asks_a_gpu_per_training_task_on_a_gpu_cluster_and_passes_user_errors_as_one_line(monkeypatch):
    ray = pytest.importorskip("ray")
    from gptnas.errors import DataError
    from gptnas.evaluators.timed import TimedEvaluate
    from gptnas.search.parallel import RayMap
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)  # declared GPUs: none exist
    try:
        training = RayMap(wants_gpu=True)
        out = training(TimedEvaluate(Reports("cuda:1")), [[i] * 6 for i in range(4)])
        assert training.num_gpus == 1.0
        assert {r.extras["visible"] for r, _ in out} <= {"0", "1"} and {r.extras["device"] for r, _ in out} == {"cuda:0"}
        proxies = RayMap(wants_gpu=False)
        out = proxies(TimedEvaluate(Reports()), [[0] * 6])
        assert proxies.num_gpus == 0.0
        with pytest.raises(DataError, match="dataset files missing"):
            RayMap()(TimedEvaluate(NeedsData()), [[0] * 6])
    finally:
        ray.shutdown()


def test_inheritance_is_refused_on_a_remote_ray_cluster():
    from gptnas.config import TrainConfig, validate
    c = RunConfig(space="macro", dataset="digits", fitness="train", parallel="ray", ray_address="10.0.0.1:6379",
                  train=TrainConfig(inherit=True), search=SearchConfig(method="rea"))
    with pytest.raises(ConfigError, match="other machines of a Ray cluster cannot read"):
        validate(c)
