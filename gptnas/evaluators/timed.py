"""What runs in a worker: :class:`TimedEvaluate`, the evaluator wrapped to time each evaluation, stop it at
``search.eval_timeout`` and turn one architecture's exception into its failed result.

A worker process imports only this module, :mod:`gptnas.search.parallel` and what the evaluator itself needs (a
user's pure-Python fitness brings neither torch nor the engine): a worker's start-up is paid per process.
"""
from __future__ import annotations

import pickle
import signal
import threading
import time
from typing import Callable, Optional

from ..errors import GptnasError
from .base import EvalResult, as_result


class EvalTimeout(BaseException):
    """Raised inside an evaluation at its time limit (a BaseException, so that an evaluator's own
    ``except Exception`` does not swallow it)."""


def _on_alarm(signum, frame):
    raise EvalTimeout


def can_time_out() -> bool:
    """Whether an evaluation run here can be stopped at its limit: a timer signal reaches only the main thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class TimedEvaluate:
    """Picklable wrapper: ``genome -> (EvalResult, seconds)``; accepts what :func:`~gptnas.evaluators.as_result`
    reads (a number, a DEAP tuple, an EvalResult; a non-finite fitness is a failure). An exception raised for one
    architecture becomes its failed evaluation (the search goes on); a :class:`~gptnas.errors.GptnasError` (bad
    data, bad settings, several objectives) is the user's to fix and propagates.

    ``timeout`` (seconds, ``search.eval_timeout``): an evaluation still running then is stopped by a timer signal in
    the process that runs it (a worker, or the search's own main thread) and recorded as failed, "timed out"; the
    worker goes on with the next one. It stops Python code and sleeps; a C call that ignores signals is stopped when
    it returns."""

    def __init__(self, evaluate: Callable, timeout: Optional[float] = None):
        self.evaluate, self.timeout = evaluate, timeout

    def __call__(self, genome):
        t0 = time.perf_counter()
        alarm = self.timeout is not None and can_time_out()
        if alarm:  # (a timer someone else set, pytest-timeout's say, is put back afterwards, less the time spent)
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            try:
                res = as_result(self.evaluate(genome))
            finally:
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            if res.extras:
                try:  # what a worker process sends back: checked here, so any backend fails it the same way
                    pickle.dumps(res.extras)
                except Exception as e:  # noqa: BLE001 - whatever pickling raises
                    res = EvalResult.failure(f"its extras cannot be sent from a worker process ({type(e).__name__}: "
                                             f"{e}): keep them to numbers, text, lists and dicts")
        except EvalTimeout:  # (also when the limit came as the evaluation returned: it ran to the limit)
            res = EvalResult.failure(f"timed out after {self.timeout:g} s (search.eval_timeout)")
        except GptnasError:
            raise
        except Exception as e:  # noqa: BLE001 - one architecture's error is recorded, the search goes on
            res = EvalResult.failure(f"{type(e).__name__}: {e}")
        finally:
            if alarm:
                signal.signal(signal.SIGALRM, previous)
                if old_delay > 0:
                    left = old_delay - (time.perf_counter() - t0)
                    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), old_interval)
        return res, time.perf_counter() - t0
