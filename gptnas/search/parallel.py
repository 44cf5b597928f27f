"""Parallel evaluation backends, each a plain ``map(fn, items) -> list`` for ``toolbox.register("map", ...)``.

- ``serial``: the builtin ``map``.
- ``process``: a local pool of spawned processes (spawn is CUDA-safe; fork is not); with one worker, one process
  (the default when a time limit must be able to stop an evaluation: only a process can be killed). With several
  GPUs visible, each worker is pinned to one through ``CUDA_VISIBLE_DEVICES``; with ``--device cuda:K`` all of them
  to GPU K. A pinned worker reads any ``cuda[:K]`` as its one visible device (:mod:`gptnas.core.devices`).
- ``simulated``: :class:`SimulatedMap`, ``workers`` virtual workers on a virtual clock (each evaluation takes the
  training time its result reports, e.g. NAS-Bench-201's, else the time it took): a cluster's search, replayed.
- ``ray``: Ray tasks for more than one machine; connects to ``--ray-address`` / ``$RAY_ADDRESS`` or starts a local
  cluster. Each task asks for ``num_gpus`` GPUs so Ray places it; by default one when training on a cluster that
  has GPUs (Ray hides the GPUs from a task that asks for none).

``map`` returns results in input order, so a parallel run's archive is identical to a serial one (evaluators are
deterministic per architecture); ``imap`` yields ``(index, result)`` as results complete, so the engine journals
each the moment it arrives. The engine (:mod:`gptnas.search.engine`) uses the same backends one
evaluation at a time: ``submit(fn, item) -> token`` and ``next_done() -> (token, result)`` (blocking), with
``slots`` evaluations in flight; :class:`SimulatedMap` is a backend on a virtual clock (each evaluation occupies a
worker for a duration the user gives, e.g. a benchmark's training time), for replaying a cluster without waiting. A worker that dies is reported; its items are evaluated once more in a fresh worker,
and if that dies too they become failed evaluations — never silently lost. A user error raised in a worker (a
:class:`~gptnas.errors.GptnasError`, e.g. missing data) arrives as itself, a one-line error.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing as mp
import os
import pickle
import sys
import time
import heapq
import re
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Optional

from ..core.devices import BACKENDS, PINNED_ENV, SHARERS_ENV, worker_gpus
from ..errors import ConfigError, GptnasError
from ..evaluators.base import EvalResult

log = logging.getLogger(__name__)

_worker_fn: Callable | None = None


def _orphan_watch(parent: int) -> None:
    """End this worker when the search process is gone (kill -9 leaves a pool's workers waiting forever, holding
    their GPU memory)."""
    import time
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _init_worker(fn_bytes: bytes, gpu_queue, sharers: int) -> None:
    global _worker_fn
    import signal
    import threading
    # Ctrl-C reaches the terminal's whole process group: the search process stops its workers itself (a worker's
    # own KeyboardInterrupt would only print a traceback per worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_orphan_watch, args=(os.getppid(),), daemon=True, name="gptnas-orphan-watch").start()
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


_UNSET = object()


@contextlib.contextmanager
def _main_not_reimported():
    """Spawn imports the parent's ``__main__`` again in every worker, so that a script's own functions unpickle
    there. gptnas's own command lines (``python -m gptnas.run``) define no evaluator, and importing one costs each
    worker most of the package (config, spaces, methods: ~0.3 s of CPU): under them the workers skip it."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is None or not str(getattr(spec, "name", "") or "").startswith("gptnas."):
        yield
        return
    path = main.__dict__.pop("__file__", _UNSET)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if path is not _UNSET:
            main.__file__ = path


def _probe() -> bool:
    return True


def _nap(seconds: float) -> None:
    import time
    time.sleep(seconds)


SPAWN_HINT = ("with workers > 1 every worker process imports your script again (multiprocessing's spawn start "
              "method) and runs its top level: put the search under `if __name__ == \"__main__\":`")


def spawn_bootstrapping() -> bool:
    """Whether this process is a spawned worker still importing the user's script (the top level of a script without
    ``if __name__ == "__main__":`` calling a search again)."""
    main = sys.modules.get("__main__")
    return mp.parent_process() is not None and getattr(main, "__name__", "") == "__mp_main__"


def _main_unguarded() -> str | None:
    """The path of the running script when it has no ``if __name__ == "__main__":`` guard, else None."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path:
        return None
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return None
    return None if re.search(r"__name__\s*==\s*['\"]__main__['\"]", text) else path


def gpu_driver_present() -> bool:
    """Whether this machine may have a CUDA (or ROCm) device, judged without importing torch: on Linux, by the
    NVIDIA driver's device list or AMD's compute node; elsewhere, always (torch decides)."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        if os.listdir("/proc/driver/nvidia/gpus"):
            return True
    except OSError:
        pass
    return os.path.exists("/dev/kfd")


def visible_gpus() -> list[int]:
    """Indices of the CUDA devices this process sees (empty without CUDA); does not initialise CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [int(x) for x in env.split(",") if x.strip().isdigit()]
    if "torch" not in sys.modules and not gpu_driver_present():
        return []  # without asking torch: importing it costs the search a second or more before any worker starts
    try:
        import torch
        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except ImportError:
        return []


def kill_grace(limit: float) -> float:
    """Seconds past ``search.eval_timeout`` before a worker that did not stop at its timer signal is killed."""
    return max(2.0, 0.1 * limit)


def overdue_at(since: dict, limit: Optional[float]) -> Optional[float]:
    """When the oldest evaluation in flight (``since``: what -> its start, ``time.monotonic()``) is overdue: past
    ``limit`` by the grace its timer signal had to stop it (it did not: stuck in a call that ignores signals)."""
    if limit is None or not since:
        return None
    return min(since.values()) + limit + kill_grace(limit)


def _stuck(limit: float, seconds: float, how: str):
    """The failed result of an evaluation stopped past its limit by ``how`` (its worker killed, its task cancelled)."""
    return EvalResult.failure(f"timed out after {limit:g} s (search.eval_timeout): it did not stop at the limit, so "
                              f"{how}"), seconds


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

    Args: workers (evaluations in flight at once: the engine's slots), device (the training device the run asked
    for: decides how workers are pinned), processes (how many to start, when fewer than ``workers`` can ever be
    busy: a budget smaller than the workers; the rest queue, which changes no result).
    """

    def __init__(self, workers: int, device: str = "auto", processes: Optional[int] = None,
                 max_tasks: Optional[int] = None):
        self.workers, self.device = int(processes or workers), str(device)
        self.max_tasks = max_tasks  # evaluations a worker process makes before a fresh one replaces it
        self.slots = int(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._digest: str | None = None
        self._fn_bytes = b""
        self._ctx = mp.get_context("spawn")
        self._futures: dict = {}     # future -> (token, item), the asynchronous engine's evaluations in flight
        self._since: dict = {}       # future -> when it was submitted (time.monotonic())
        self._limit: Optional[float] = None  # the evaluations' time limit (search.eval_timeout), seconds
        self._done: deque = deque()  # (token, result) ready (re-evaluated after a worker died)
        self._queue: deque = deque()  # (token, item) submitted while every process was busy: started in order
        self._token = 0
        self._probed = False
        self._fn_obj = None

    def _start(self) -> None:
        cpu = self.device.strip().lower() == "cpu"
        plan = worker_gpus(self.device, [] if cpu else visible_gpus(), self.workers)
        queue = None
        if any(g is not None for g in plan):
            queue = self._ctx.Queue()
            for g in plan:
                queue.put((g, plan.count(g)))
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker,
                                         initargs=(self._fn_bytes, queue, self.workers),
                                         max_tasks_per_child=self.max_tasks)
        # Every worker now: the pool would spawn them one per submit (a quarter second each on 2 cores, with the
        # search waiting) while the asynchronous engine fills the workers.
        launch = getattr(self._pool, "_launch_processes", None)
        if launch is not None:
            try:
                with _main_not_reimported():
                    launch()
            except OSError as e:  # the system refused a process (too many, no memory): say so, do not hang
                self.cancel()
                raise ConfigError(f"could not start {self.workers} worker processes: the system refused "
                                  f"({e.strerror or e}); use fewer --workers") from None
            except Exception:  # noqa: BLE001 - a Python whose pool has no such step spawns on demand
                pass
        if not self._probed:
            self._probe()

    def _probe(self) -> None:
        """A first task that does nothing: when the worker processes die before running it, the evaluator is not to
        blame, and every evaluation would die the same way — say why in one line instead."""
        try:
            self._pool.submit(_probe).result()
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            script = _main_unguarded()
            if script is not None:
                raise ConfigError(f"the worker processes died as they started: {SPAWN_HINT} (in {script})") from None
            raise ConfigError("the worker processes died as they started: the evaluate function could not be loaded "
                              "in a fresh process (define it at the top level of an importable module, and guard a "
                              "script's search with `if __name__ == \"__main__\":`)") from None
        self._probed = True

    def _ready(self, fn: Callable) -> None:
        if fn is self._fn_obj and self._pool is not None:  # the asynchronous engine submits one function: pickle it once
            return
        self._fn_obj = fn
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

    def warm(self, fn: Callable) -> None:
        """Start every worker process now (benchmarks time the search, not the start-up)."""
        self._ready(fn)
        for fut in [self._pool.submit(_nap, 0.5) for _ in range(self.workers)]:
            fut.result()

    # One evaluation at a time (the asynchronous engine) ------------------------------------------------------------
    def submit(self, fn: Callable, item) -> int:
        """Start ``fn(item)`` on a free worker (or queue it); returns a token :meth:`next_done` gives back."""
        self._ready(fn)
        self._token += 1
        self._limit = getattr(fn, "timeout", None)
        self._queue.append((self._token, item))
        self._feed()
        return self._token

    #: ``submit`` beyond the processes queues here, in order, and an evaluation's time counts from its start: a
    #: single process evaluates a whole generation one by one (the one-worker engine, with a time limit).
    fifo = True

    def _feed(self) -> None:
        """Start queued evaluations on the processes that are free (the pool's own queue would start their clocks
        too early)."""
        while self._queue and len(self._futures) < self.workers:
            if self._pool is None:
                self._start()
            self._launch(*self._queue.popleft())

    def _launch(self, token: int, item) -> None:
        with _main_not_reimported():  # (the pool may start a process here)
            fut = self._pool.submit(_call_worker, item)
        self._futures[fut], self._since[fut] = (token, item), time.monotonic()

    def _kill_overdue(self) -> None:
        """Kill the worker processes (the pool cannot say which one runs what), record each overdue evaluation as
        failed, and start the others again in fresh processes (evaluations are deterministic: only time is lost)."""
        now = time.monotonic()
        late, again = [], []
        for fut, (token, item) in sorted(self._futures.items(), key=lambda kv: kv[1][0]):
            if fut.done() and fut.exception() is None:
                self._done.append((token, fut.result()))
            elif now - self._since[fut] >= self._limit + kill_grace(self._limit):
                late.append((token, now - self._since[fut]))
            else:
                again.append((token, item))
        log.warning("%d evaluation(s) ran past search.eval_timeout=%gs without stopping (stuck in a call that ignores "
                    "signals): their worker processes killed and replaced%s", len(late), self._limit,
                    f"; {len(again)} other evaluation(s) in flight started again" if again else "")
        self._kill_pool()
        self._futures.clear()
        self._since.clear()
        for token, seconds in late:
            self._done.append((token, _stuck(self._limit, seconds, "its worker process was killed")))
        self._queue.extendleft(reversed(again))  # first again, in their order
        self._feed()

    def in_flight(self) -> int:
        return len(self._futures) + len(self._done) + len(self._queue)

    #: ``next_done`` takes a ``timeout`` (the engine's deadline for ``search.on_time=cancel``).
    timed_wait = True

    def next_done(self, timeout: Optional[float] = None) -> Optional[tuple[int, object]]:
        """The next ``(token, result)`` to complete (blocks; None when ``timeout`` seconds pass first). A worker's
        death breaks the whole pool: every item in flight is then evaluated again, one at a time in a fresh pool,
        and one that dies twice is a failure."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self._done:
            self._feed()
            if not self._futures:
                raise RuntimeError("next_done() with nothing in flight")
            overdue = overdue_at(self._since, self._limit)
            wait_s = min((t - time.monotonic() for t in (end, overdue) if t is not None), default=None)
            done, _ = wait(list(self._futures), timeout=None if wait_s is None else max(0.0, wait_s),
                           return_when=FIRST_COMPLETED)
            if not done:
                if overdue is not None and time.monotonic() >= overdue:
                    self._kill_overdue()
                    continue
                if end is not None and time.monotonic() >= end:
                    return None
                continue
            broken = []
            for fut in sorted(done, key=lambda f: self._futures[f][0]):
                self._since.pop(fut, None)
                token, item = self._futures.pop(fut)
                try:
                    self._done.append((token, fut.result()))
                except BrokenProcessPool:
                    broken.append((token, item))
            if broken:
                broken += sorted(self._futures.values())  # the pool is gone: so is everything else in flight
                self._futures.clear()
                self._since.clear()
                log.warning("a worker process died; re-evaluating %d item(s) one at a time", len(broken))
                for token, item in sorted(broken):
                    self.close()
                    self._start()
                    try:
                        res = self._pool.submit(_call_worker, item).result()
                    except BrokenProcessPool:
                        log.warning("worker died again on an item: recorded as a failed evaluation")
                        res = _dead(item, "worker process died twice while evaluating this architecture")
                    self._done.append((token, res))
                self.close()
        self._feed()
        return self._done.popleft()

    def cancel(self) -> int:
        """Stop every evaluation in flight (the worker processes are ended); returns how many were stopped."""
        n = len(self._futures) + len(self._queue)
        self._kill_pool(terminate=True)
        self._futures.clear()
        self._since.clear()
        self._done.clear()
        self._queue.clear()
        return n

    def _kill_pool(self, terminate: bool = False) -> None:
        """End the worker processes now: SIGTERM (``terminate``) or SIGKILL (a worker stuck in C code)."""
        if self._pool is not None:
            procs = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate() if terminate else proc.kill()
            for proc in procs:
                proc.join(timeout=5)
            self._pool = None

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
                 wants_gpu: bool = False, slots: int = 1, max_tasks: Optional[int] = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray backend needs Ray: pip install 'gptnas[ray]'") from None
        self.ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.num_gpus, self.num_cpus, self.wants_gpu = num_gpus, num_cpus, wants_gpu
        self.slots = int(slots)
        self.max_tasks = max_tasks  # Ray's max_calls: tasks a worker runs before a fresh one replaces it
        self._remote = None
        self._fn_ref = None
        self._digest = None
        self._refs: dict = {}  # ref -> (token, item), the asynchronous engine's tasks in flight
        self._since: dict = {}  # ref -> when it was submitted (time.monotonic())
        self._limit: Optional[float] = None  # search.eval_timeout, seconds
        self._fn_obj = None
        self._token = 0

    def _connect(self) -> None:
        """Join the cluster (or start a local one) on first use, not when the run is merely configured."""
        if not self.ray.is_initialized():
            kw = {"address": self.address} if self.address else {"num_cpus": self.num_cpus,
                                                                  "include_dashboard": False}
            try:
                self.ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
                if not self.address:  # a cluster of our own: it ends with this process, even one killed by -9
                    from ..core import reaper
                    reaper.reap_with_parent(reaper.children_named("ray"))
            except (ConnectionError, TimeoutError) as e:  # an address nobody answers at: one line, not Ray's trace
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                first = str(e).splitlines()[0][:120] if str(e) else ""
                raise ConfigError(f"could not connect to {where} ({type(e).__name__}: {first}): check --ray-address"
                                  " / $RAY_ADDRESS, or leave it out to start a local one") from None
        if self.num_gpus is None:
            has_gpus = self.ray.cluster_resources().get("GPU", 0) > 0
            self.num_gpus = 1.0 if self.wants_gpu and has_gpus else 0.0
            if self.num_gpus:
                log.info("Ray: each evaluation asks for one GPU (set gpus_per_task to change it)")
        self._remote = self.ray.remote(num_gpus=self.num_gpus, max_retries=1,
                                       **({"max_calls": self.max_tasks} if self.max_tasks else {}))(_ray_call)

    def imap(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, object]]:
        """``(index, fn(items[index]))`` in the order the tasks complete."""
        items = list(items)
        if not items:
            return
        fn_ref = self._function(fn)
        pinned = self.num_gpus > 0
        refs = {self._remote.remote(fn_ref, it, pinned): i for i, it in enumerate(items)}
        waiting = list(refs)
        while waiting:
            done, waiting = self.ray.wait(waiting, num_returns=1)
            i = refs[done[0]]
            yield i, self._get(done[0], items[i])

    def _function(self, fn: Callable):
        if self._remote is None:
            self._connect()
        if fn is self._fn_obj:
            return self._fn_ref
        self._fn_obj = fn
        fn_bytes = pickle.dumps(fn)
        digest = hashlib.sha1(fn_bytes).hexdigest()
        if digest != self._digest:  # put the function into the object store once
            self._fn_ref, self._digest = self.ray.put(fn_bytes), digest
        return self._fn_ref

    def warm(self, fn: Callable) -> None:
        """Join the cluster and start ``slots`` worker processes now (benchmarks time the search, not the start-up)."""
        self._function(fn)
        nap = self.ray.remote(num_gpus=self.num_gpus)(_nap)
        self.ray.get([nap.remote(0.5) for _ in range(self.slots)])

    # One task at a time (the asynchronous engine) --------------------------------------------------------------
    def submit(self, fn: Callable, item) -> int:
        fn_ref = self._function(fn)
        ref = self._remote.remote(fn_ref, item, self.num_gpus > 0)
        self._token += 1
        self._refs[ref], self._since[ref] = (self._token, item), time.monotonic()
        self._limit = getattr(fn, "timeout", None)
        return self._token

    def in_flight(self) -> int:
        return len(self._refs)

    timed_wait = True

    def next_done(self, timeout: Optional[float] = None) -> Optional[tuple[int, object]]:
        """The next ``(token, result)`` to complete; None when ``timeout`` seconds pass first. A task past
        ``search.eval_timeout`` that its timer signal did not stop (a call that ignores signals) is cancelled by
        force (Ray kills its worker process) and is that evaluation failing."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            overdue = overdue_at(self._since, self._limit)
            wait_s = min((t - time.monotonic() for t in (end, overdue) if t is not None), default=None)
            ready, _ = self.ray.wait(list(self._refs), num_returns=1,
                                     timeout=None if wait_s is None else max(0.0, wait_s))
            if ready:
                ref = ready[0]
                self._since.pop(ref, None)
                token, item = self._refs.pop(ref)
                return token, self._get(ref, item)
            if overdue is not None and time.monotonic() >= overdue:
                ref = min(self._since, key=self._since.get)
                seconds = time.monotonic() - self._since.pop(ref)
                token, _item = self._refs.pop(ref)
                self.ray.cancel(ref, force=True)
                log.warning("an evaluation ran past search.eval_timeout=%gs without stopping (stuck in a call that "
                            "ignores signals): its Ray task cancelled, its worker killed", self._limit)
                return token, _stuck(self._limit, seconds, "its Ray task was cancelled by force")
            if end is not None and time.monotonic() >= end:
                return None

    def _get(self, ref, item):
        try:
            return self.ray.get(ref)
        except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as e:
            log.warning("a Ray worker died: %s", type(e).__name__)
            return _dead(item, f"Ray worker died ({type(e).__name__}) after a retry")
        except self.ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, GptnasError):  # the user's error, not Ray's: one line, as in a serial run
                raise cause from None
            raise

    def cancel(self) -> int:
        n = len(self._refs)
        for ref in self._refs:
            self.ray.cancel(ref, force=True)
        self._refs.clear()
        self._since.clear()
        return n

    def close(self) -> None:
        pass


class SimulatedMap(_Map):
    """A backend on a virtual clock: ``slots`` workers; each evaluation runs at once in this process, then occupies
    its worker for ``duration(item, result)`` virtual seconds (default: the time it really took). Results complete in
    virtual-time order (ties by submission), :meth:`clock` is the virtual time in seconds — a search on 32 workers
    whose evaluations take hours replays in seconds, and deterministically.

    Args: slots (workers), duration: ``(genome, (EvalResult, seconds)) -> seconds``."""

    def __init__(self, slots: int, duration: Optional[Callable] = None):
        self.slots = int(slots)
        self.duration = duration
        self.now = 0.0
        self._heap: list = []
        self._token = 0

    def imap(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, object]]:
        """The generational engine's batch: ``slots`` workers take the items in order; completion order."""
        items = list(items)
        free = [self.now] * self.slots
        done = []
        for i, it in enumerate(items):
            start = heapq.heappop(free)
            res = self._run(fn, it)
            heapq.heappush(free, start + res[1])
            done.append((start + res[1], i, res))
        for end, i, res in sorted(done):
            self.now = max(self.now, end)
            yield i, res

    def _run(self, fn: Callable, item):
        res, dt = fn(item)
        d = float(self.duration(item, (res, dt))) if self.duration is not None else float(dt)
        return res, d

    def submit(self, fn: Callable, item) -> int:
        self._token += 1
        res = self._run(fn, item)
        heapq.heappush(self._heap, (self.now + res[1], self._token, res))
        return self._token

    def in_flight(self) -> int:
        return len(self._heap)

    timed_wait = True

    def next_done(self, timeout: Optional[float] = None) -> Optional[tuple[int, object]]:
        """The next ``(token, result)`` in virtual time; None (the clock moved on by ``timeout``) when none
        completes within ``timeout`` virtual seconds."""
        if timeout is not None and self._heap[0][0] > self.now + timeout:
            self.now += timeout
            return None
        end, token, res = heapq.heappop(self._heap)
        self.now = max(self.now, end)
        return token, res

    def cancel(self) -> int:
        n = len(self._heap)
        self._heap.clear()
        return n

    def clock(self) -> float:
        """Virtual seconds since the search started on this backend."""
        return self.now

    def close(self) -> None:
        pass


def _ray_call(fn_bytes, item, pinned: bool = False):
    if pinned:  # Ray set CUDA_VISIBLE_DEVICES to this task's GPU: any cuda[:K] means that one
        os.environ[PINNED_ENV] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return pickle.loads(fn_bytes)(item)


def make_map(backend: str, workers: int = 1, ray_address: str | None = None, gpus_per_task: Optional[float] = None,
             device: str = "auto", wants_gpu: bool = False, budget: Optional[int] = None,
             max_tasks: Optional[int] = None):
    """The ``map`` for ``backend``; ``serial`` (or 1 worker without Ray) is the builtin ``map``.

    ``device``: the training device asked for (how process workers are pinned); ``wants_gpu``: whether evaluations
    train on a GPU when there is one (Ray then asks for one per task unless ``gpus_per_task`` says otherwise);
    ``budget``: evaluations the run may make (no more worker processes are started than that); ``max_tasks``:
    evaluations a worker makes before a fresh process replaces it (``search.max_tasks_per_worker``: a leak's bound).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "ray":
        return RayMap(ray_address, num_gpus=gpus_per_task, num_cpus=workers if workers > 1 else None,
                      wants_gpu=wants_gpu, slots=workers, max_tasks=max_tasks)
    if backend == "simulated":
        return SimulatedMap(workers, duration=recorded_duration)
    if backend == "process":  # (one worker: one process, so that a time limit can stop an evaluation)
        processes = min(workers, budget) if budget else workers
        if processes < workers:
            log.info("%d workers asked for a budget of %d evaluations: %d worker processes started", workers,
                     budget, processes)
        cores = os.cpu_count() or 1
        if processes > cores and not os.environ.get("GPTNAS_OVERSUBSCRIBE"):
            log.warning("%d worker processes on %d cores: evaluations that compute here share the cores (when they "
                        "wait on other machines or sleep, set GPTNAS_OVERSUBSCRIBE=1 to silence this)", processes,
                        cores)
        return ProcessMap(workers, device, processes=processes, max_tasks=max_tasks)
    return map


def recorded_duration(item, timed) -> float:
    """The simulated backend's duration of one evaluation: the training time its result reports
    (``extras["train_time_s"]``, e.g. NAS-Bench-201's), else the seconds it really took."""
    res, seconds = timed
    t = res.extras.get("train_time_s") if res.extras else None
    return float(t) if isinstance(t, (int, float)) and t == t and t >= 0 else float(seconds)
