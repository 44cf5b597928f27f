"""Parallel evaluation backends, each a plain ``map(fn, items) -> list`` for ``toolbox.register("map", ...)``.

- ``serial``: the builtin ``map``.
- ``process``: a local pool of spawned processes (spawn is CUDA-safe; fork is not). With several GPUs visible,
  each worker is pinned to one through ``CUDA_VISIBLE_DEVICES``.
- ``ray``: Ray tasks for more than one machine; connects to ``--ray-address`` / ``$RAY_ADDRESS`` or starts a local
  cluster. Each task asks for ``num_gpus`` GPUs so Ray places it.

Results come back in input order, so a parallel run's archive is identical to a serial one (evaluators are
deterministic per architecture). A worker that dies is reported; its items are evaluated once more in a fresh worker,
and if that dies too they become failed evaluations — never silently lost.
"""
from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

from ..errors import ConfigError
from ..evaluators.base import EvalResult

log = logging.getLogger(__name__)

BACKENDS = ("serial", "process", "ray")
_worker_fn: Callable | None = None


def _init_worker(fn_bytes: bytes, gpu_queue) -> None:
    global _worker_fn
    if gpu_queue is not None:
        try:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_queue.get_nowait())
        except Exception:  # more workers than GPUs after a restart: share
            pass
    _worker_fn = pickle.loads(fn_bytes)


def _call_worker(item):
    return _worker_fn(item)


def visible_gpus() -> list[int]:
    """Indices of the CUDA devices this process sees (empty without CUDA); does not initialise CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [int(x) for x in env.split(",") if x.strip().isdigit()]
    try:
        import torch
        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except ImportError:
        return []


def _dead(item, reason: str):
    """What a worker that died twice on ``item`` yields: a failed evaluation with the worker time unknown."""
    return EvalResult.failure(reason), 0.0


class ProcessMap:
    """``map`` over a spawned process pool; the function is shipped to each worker once, not per item."""

    def __init__(self, workers: int):
        self.workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._digest: str | None = None
        self._fn_bytes = b""
        self._ctx = mp.get_context("spawn")

    def _start(self) -> None:
        gpus = visible_gpus()
        queue = None
        if len(gpus) > 1:
            queue = self._ctx.Queue()
            for i in range(self.workers):
                queue.put(gpus[i % len(gpus)])
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker,
                                         initargs=(self._fn_bytes, queue))

    def __call__(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        if not items:
            return []
        fn_bytes = pickle.dumps(fn)
        digest = hashlib.sha1(fn_bytes).hexdigest()
        if digest != self._digest:
            self.close()
            self._fn_bytes, self._digest = fn_bytes, digest
        results: list = [None] * len(items)
        if self._pool is None:
            self._start()
        futures = [self._pool.submit(_call_worker, it) for it in items]
        broken = []
        for i, fut in enumerate(futures):
            try:
                results[i] = fut.result()
            except BrokenProcessPool:
                broken.append(i)
        if broken:
            # One death breaks the whole pool, so innocent items fail with it: re-evaluate each alone.
            log.warning("a worker process died; re-evaluating %d item(s) one at a time", len(broken))
            for i in broken:
                self.close()
                self._start()
                try:
                    results[i] = self._pool.submit(_call_worker, items[i]).result()
                except BrokenProcessPool:
                    log.warning("worker died again on item %d: recorded as a failed evaluation", i)
                    results[i] = _dead(items[i], "worker process died twice while evaluating this architecture")
            self.close()
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __getstate__(self):  # a toolbox may be pickled; the pool itself never travels
        raise TypeError("ProcessMap cannot be pickled")


class RayMap:
    """``map`` over Ray tasks (one task per item, ``num_gpus`` each); order preserved."""

    def __init__(self, address: str | None = None, num_gpus: float = 0.0, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray backend needs Ray: pip install 'gptnas[ray]'") from None
        self.ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.num_gpus, self.num_cpus = num_gpus, num_cpus
        self._remote = None
        self._fn_ref = None
        self._digest = None

    def _connect(self) -> None:
        """Join the cluster (or start a local one) on first use, not when the run is merely configured."""
        if not self.ray.is_initialized():
            kw = {"address": self.address} if self.address else {"num_cpus": self.num_cpus,
                                                                  "include_dashboard": False}
            self.ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
        self._remote = self.ray.remote(num_gpus=self.num_gpus, max_retries=1)(_ray_call)

    def __call__(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        if not items:
            return []
        if self._remote is None:
            self._connect()
        fn_bytes = pickle.dumps(fn)
        digest = hashlib.sha1(fn_bytes).hexdigest()
        if digest != self._digest:  # put the function into the object store once
            self._fn_ref, self._digest = self.ray.put(fn_bytes), digest
        refs = [self._remote.remote(self._fn_ref, it) for it in items]
        out = []
        for it, ref in zip(items, refs):
            try:
                out.append(self.ray.get(ref))
            except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as e:
                log.warning("a Ray worker died: %s", type(e).__name__)
                out.append(_dead(it, f"Ray worker died ({type(e).__name__}) after a retry"))
        return out

    def close(self) -> None:
        pass


def _ray_call(fn_bytes, item):
    return pickle.loads(fn_bytes)(item)


def make_map(backend: str, workers: int = 1, ray_address: str | None = None, gpus_per_task: float = 0.0):
    """The ``map`` for ``backend``; ``serial`` (or 1 worker without Ray) is the builtin ``map``."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "ray":
        return RayMap(ray_address, num_gpus=gpus_per_task, num_cpus=workers if workers > 1 else None)
    if backend == "process" and workers > 1:
        return ProcessMap(workers)
    return map
