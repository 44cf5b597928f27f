"""Parallel evaluation backends, each a plain ``map(fn, items) -> list`` for ``toolbox.register("map", ...)``.

- ``serial``: the builtin ``map``.
- ``process``: a local pool of spawned processes (spawn is CUDA-safe; fork is not). With several GPUs visible,
  each worker is pinned to one through ``CUDA_VISIBLE_DEVICES``; with ``--device cuda:K`` all of them to GPU K. A
  pinned worker reads any ``cuda[:K]`` as its one visible device (:mod:`gptnas.core.devices`).
- ``ray``: Ray tasks for more than one machine; connects to ``--ray-address`` / ``$RAY_ADDRESS`` or starts a local
  cluster. Each task asks for ``num_gpus`` GPUs so Ray places it; by default one when training on a cluster that
  has GPUs (Ray hides the GPUs from a task that asks for none).

``map`` returns results in input order, so a parallel run's archive is identical to a serial one (evaluators are
deterministic per architecture); ``imap`` yields ``(index, result)`` as results complete, so the engine journals
each the moment it arrives. A worker that dies is reported; its items are evaluated once more in a fresh worker,
and if that dies too they become failed evaluations — never silently lost. A user error raised in a worker (a
:class:`~gptnas.errors.GptnasError`, e.g. missing data) arrives as itself, a one-line error.
"""
from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Optional

from ..core.devices import BACKENDS, PINNED_ENV, SHARERS_ENV, worker_gpus
from ..errors import ConfigError, GptnasError
from ..evaluators.base import EvalResult

log = logging.getLogger(__name__)

_worker_fn: Callable | None = None


def _init_worker(fn_bytes: bytes, gpu_queue, sharers: int) -> None:
    global _worker_fn
    os.environ[SHARERS_ENV] = str(sharers)
    # The workers share the cores: torch's default (one thread per core in each) makes them fight over them.
    threads = max(1, (os.cpu_count() or 1) // max(1, sharers))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if gpu_queue is not None:
        try:
            gpu, on_it = gpu_queue.get(timeout=2.0)  # not get_nowait: the parent's puts may still be in flight
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
            os.environ[PINNED_ENV] = str(gpu)
            os.environ[SHARERS_ENV] = str(on_it)
        except Exception:  # a restarted worker finds the queue empty: it shares the visible devices
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


class _Map:
    """``map`` in input order from the backend's ``imap`` (results in completion order)."""

    def __call__(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        results: list = [None] * len(items)
        for i, r in self.imap(fn, items):
            results[i] = r
        return results


class ProcessMap(_Map):
    """``map`` over a spawned process pool; the function is shipped to each worker once, not per item.

    Args: workers (processes), device (the training device the run asked for: decides how workers are pinned).
    """

    def __init__(self, workers: int, device: str = "auto"):
        self.workers, self.device = int(workers), str(device)
        self._pool: ProcessPoolExecutor | None = None
        self._digest: str | None = None
        self._fn_bytes = b""
        self._ctx = mp.get_context("spawn")

    def _start(self) -> None:
        plan = worker_gpus(self.device, visible_gpus(), self.workers)
        queue = None
        if any(g is not None for g in plan):
            queue = self._ctx.Queue()
            for g in plan:
                queue.put((g, plan.count(g)))
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker,
                                         initargs=(self._fn_bytes, queue, self.workers))

    def _ready(self, fn: Callable) -> None:
        fn_bytes = pickle.dumps(fn)
        digest = hashlib.sha1(fn_bytes).hexdigest()
        if digest != self._digest:
            self.close()
            self._fn_bytes, self._digest = fn_bytes, digest
        if self._pool is None:
            self._start()

    def imap(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, object]]:
        """``(index, fn(items[index]))`` in the order the results complete."""
        items = list(items)
        if not items:
            return
        self._ready(fn)
        futures = {self._pool.submit(_call_worker, it): i for i, it in enumerate(items)}
        broken = []
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except BrokenProcessPool:
                broken.append(futures[fut])
                continue
            yield futures[fut], res
        if broken:
            # One death breaks the whole pool, so innocent items fail with it: re-evaluate each alone.
            log.warning("a worker process died; re-evaluating %d item(s) one at a time", len(broken))
            for i in sorted(broken):
                self.close()
                self._start()
                try:
                    res = self._pool.submit(_call_worker, items[i]).result()
                except BrokenProcessPool:
                    log.warning("worker died again on item %d: recorded as a failed evaluation", i)
                    res = _dead(items[i], "worker process died twice while evaluating this architecture")
                yield i, res
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __getstate__(self):  # a toolbox may be pickled; the pool itself never travels
        raise TypeError("ProcessMap cannot be pickled")


class RayMap(_Map):
    """``map`` over Ray tasks (one task per item, ``num_gpus`` each); order preserved.

    ``num_gpus=None``: one GPU per task when ``wants_gpu`` (training on a device other than the CPU) and the
    cluster has GPUs, else none.
    """

    def __init__(self, address: str | None = None, num_gpus: Optional[float] = None, num_cpus: int | None = None,
                 wants_gpu: bool = False):
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray backend needs Ray: pip install 'gptnas[ray]'") from None
        self.ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.num_gpus, self.num_cpus, self.wants_gpu = num_gpus, num_cpus, wants_gpu
        self._remote = None
        self._fn_ref = None
        self._digest = None

    def _connect(self) -> None:
        """Join the cluster (or start a local one) on first use, not when the run is merely configured."""
        if not self.ray.is_initialized():
            kw = {"address": self.address} if self.address else {"num_cpus": self.num_cpus,
                                                                  "include_dashboard": False}
            self.ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
        if self.num_gpus is None:
            has_gpus = self.ray.cluster_resources().get("GPU", 0) > 0
            self.num_gpus = 1.0 if self.wants_gpu and has_gpus else 0.0
            if self.num_gpus:
                log.info("Ray: each evaluation asks for one GPU (set gpus_per_task to change it)")
        self._remote = self.ray.remote(num_gpus=self.num_gpus, max_retries=1)(_ray_call)

    def imap(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, object]]:
        """``(index, fn(items[index]))`` in the order the tasks complete."""
        items = list(items)
        if not items:
            return
        if self._remote is None:
            self._connect()
        fn_bytes = pickle.dumps(fn)
        digest = hashlib.sha1(fn_bytes).hexdigest()
        if digest != self._digest:  # put the function into the object store once
            self._fn_ref, self._digest = self.ray.put(fn_bytes), digest
        pinned = self.num_gpus > 0
        refs = {self._remote.remote(self._fn_ref, it, pinned): i for i, it in enumerate(items)}
        waiting = list(refs)
        while waiting:
            done, waiting = self.ray.wait(waiting, num_returns=1)
            ref = done[0]
            i = refs[ref]
            try:
                yield i, self.ray.get(ref)
            except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as e:
                log.warning("a Ray worker died: %s", type(e).__name__)
                yield i, _dead(items[i], f"Ray worker died ({type(e).__name__}) after a retry")
            except self.ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, GptnasError):  # the user's error, not Ray's: one line, as in a serial run
                    raise cause from None
                raise

    def close(self) -> None:
        pass


def _ray_call(fn_bytes, item, pinned: bool = False):
    if pinned:  # Ray set CUDA_VISIBLE_DEVICES to this task's GPU: any cuda[:K] means that one
        os.environ[PINNED_ENV] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return pickle.loads(fn_bytes)(item)


def make_map(backend: str, workers: int = 1, ray_address: str | None = None, gpus_per_task: Optional[float] = None,
             device: str = "auto", wants_gpu: bool = False):
    """The ``map`` for ``backend``; ``serial`` (or 1 worker without Ray) is the builtin ``map``.

    ``device``: the training device asked for (how process workers are pinned); ``wants_gpu``: whether evaluations
    train on a GPU when there is one (Ray then asks for one per task unless ``gpus_per_task`` says otherwise).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "ray":
        return RayMap(ray_address, num_gpus=gpus_per_task, num_cpus=workers if workers > 1 else None,
                      wants_gpu=wants_gpu)
    if backend == "process" and workers > 1:
        return ProcessMap(workers, device)
    return map
