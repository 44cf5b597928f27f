"""A search driven from outside: ask for a trial, evaluate it anywhere (a SLURM or Kubernetes job, a notebook,
a scheduler gptnas knows nothing of), tell its result.

>>> import gptnas
>>> study = gptnas.open_search(space, method="rea", budget=100, seed=0, out="runs/x")
>>> trial = study.ask()                 # trial.arch, trial.key, trial.number
>>> study.tell(trial, 93.1)             # a float, a tuple, an EvalResult; failed=True or an exception's text
>>> study.result()                      # the SearchResult gptnas.search returns
>>> study = gptnas.open_search("runs/x")  # later, or in another process: it goes on

It is the engine's own loop (:class:`~gptnas.search.engine.Search`) with the user as its worker pool: the same run
driven by ``gptnas.search(...)`` and by asks and tells in proposal order gives the same archive. ``lag`` says how
many trials may be out at once before the method must see a result (1: every proposal sees every earlier result,
as with one worker; ``lag=K`` is ``gptnas.search(..., workers=K)``'s ``search.order=lag``); the initial population
(and a GA's generation) may always be asked whole.

With ``out`` every ask is journaled (``trials.jsonl``) and every tell the moment it is told (``pending.jsonl``), so
a process that dies between an ask and its tell loses nothing: :func:`open_search` on the run directory continues,
its pending trials can be told later or asked again. Processes take turns on a run directory (its lock);
``python -m gptnas.ask`` / ``python -m gptnas.tell`` are the command line for shell scripts and job arrays.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import ConfigError, GptnasError
from ..evaluators.base import EvalResult, as_result

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.jsonl"


@dataclass(frozen=True)
class Trial:
    """One architecture to evaluate: ``number`` (its place in the run's ask order, from 0), ``key`` (its canonical
    key, as in the archive) and ``arch`` (its genome, what ``evaluate`` takes)."""

    number: int
    key: str
    arch: list


class NoTrial(GptnasError):
    """:meth:`Study.ask` has nothing to give: the search is over (``reason == "done"``) or the method needs a
    result first (``reason == "waiting"``)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class _Waiting(Exception):
    """The loop needs a result nobody has told yet."""


class UserPool:
    """The engine's backend when the user evaluates: submitted evaluations wait to be handed out by ``ask``;
    their results come back through ``tell``."""

    def __init__(self, lag: int):
        self.slots = int(lag)
        self.batches = self.slots == 1  # one unit per ask, as SerialPool: the same run as one worker
        self.submitted: deque[int] = deque()  # tokens not yet handed out, in ask order
        self.told: deque = deque()            # (token, (EvalResult, seconds)) not yet taken by the loop
        self._token = 0

    def submit(self, fn, item) -> int:
        self._token += 1
        self.submitted.append(self._token)
        return self._token

    def next_done(self):
        if not self.told:
            raise _Waiting
        return self.told.popleft()


def _as_told(value, failed) -> EvalResult:
    """What a user tells, as a result: a number, a DEAP tuple, an EvalResult; ``failed=True`` or an exception's
    text (``failed="CUDA out of memory"``) for an evaluation that failed."""
    if failed:
        return EvalResult.failure(failed if isinstance(failed, str) else "told as failed")
    if isinstance(value, BaseException):
        return EvalResult.failure(f"{type(value).__name__}: {value}")
    if value is None:
        raise ConfigError("tell needs a value (a number, a tuple or an EvalResult) or failed=True")
    return as_result(value)


class Study:
    """A search the user drives with :meth:`ask` and :meth:`tell` (see the module). Made by :func:`open_search`."""

    def __init__(self, p, state, search, rd=None, checkpointer=None, reask: bool = True, session=None):
        self.p, self.state, self.search, self.rd, self.ck = p, state, search, rd, checkpointer
        self._session = session
        self.pool = UserPool(search.lag or 1)
        self._globals = p.rngs.global_state()  # the search's own draws, apart from the user's between calls
        self.outstanding: dict[int, Trial] = {}   # number -> trial the loop waits for (given out or not)
        self._to_give: deque[int] = deque()       # numbers not yet given out, in ask order
        self._given: set = set()                  # numbers given out in this session
        self._token_of: dict[int, int] = {}       # number -> the loop's token
        self._asked_at: dict[int, float] = {}
        self._told: set = set()                   # numbers told in this session
        self._closed = False
        self._handed = handed = self._read_trials()
        with self._own_globals():
            search.start(state)
            self._began = state.status == "running"  # a finished run's loop never begins
            if self._began:
                search.begin(self.pool)
                search.enter()
                self._advance()
        # Trials another process was given: not given again (they may still be running), unless asked to.
        self._skip = set() if reask else handed

    # ------------------------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Whether the search is over: nothing more will be asked."""
        return self.state.status != "running" and not self.outstanding and not self.pool.submitted

    def ask(self) -> Trial:
        """The next architecture to evaluate. Raises :class:`NoTrial` when the search is over, or when the method
        needs a result first (tell one of :meth:`pending`, or open the search with a larger ``lag``)."""
        self._check_open()
        trial = self._hand_out()
        if trial is None:
            with self._own_globals():
                self._advance()
            trial = self._hand_out()
        if trial is not None:
            self._given.add(trial.number)
            self._journal_ask(trial)
            return trial
        if not self._began or self.state.status != "running" or not self.search.busy():
            self._end()
            raise NoTrial(f"the search is over ({self.state.status}, {self.state.evaluations} of "
                          f"{self.search.budget} evaluations): study.result() has the result", "done")
        waiting = [t.number for t in self.pending()]
        raise NoTrial(f"the method needs a result first: tell trial {', '.join(map(str, waiting[:5]))}"
                      f"{' ...' if len(waiting) > 5 else ''} (or open the search with lag=K to have K out at once)",
                      "waiting")

    def tell(self, trial: Union[Trial, int, str], value=None, *, failed: Union[bool, str] = False,
             seconds: Optional[float] = None) -> None:
        """Give the result of ``trial`` (the Trial, its number or its key): ``value`` as ``evaluate`` returns it,
        or ``failed=True`` / ``failed="the error's text"``. ``seconds``: the evaluation's own time (default: the
        time since it was asked)."""
        self._check_open()
        number = self._number_of(trial)
        result = _as_told(value, failed)
        token = self._token_of.pop(number)
        self.outstanding.pop(number)
        self._told.add(number)
        dt = seconds if seconds is not None else time.time() - self._asked_at.pop(number, time.time())
        self.pool.told.append((token, (result, float(dt))))
        with self._own_globals():
            self._advance()

    def pending(self) -> list[Trial]:
        """The trials asked (here, or by an earlier process) and not yet told, in ask order."""
        return [t for n, t in sorted(self.outstanding.items()) if n in self._given or t.key in self._handed]

    def result(self):
        """The :class:`~gptnas.search.api.SearchResult`, as ``gptnas.search`` returns it (so far, while the search
        is not over)."""
        from .api import _result
        if self.done:
            self._end()
        return _result(self.state, self.p.space, self.p.cfg, None if self.rd is None else self.rd.path)

    def close(self) -> None:
        """Write the checkpoint and the run's files and release the run directory (``with`` does it too)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.ck is not None:
                if self._began:
                    with self._own_globals():
                        self.ck.force = True
                        self.search.checkpoint()
                from .driver import write_results
                write_results(self.p, self.rd, self.state)
        finally:
            self.search.bar.close()
            if self._session is not None:
                self._session.close()

    def __enter__(self) -> "Study":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _own_globals(self):
        """Python's, numpy's and torch's global generators as the search left them, the user's put back after."""
        rngs = self.p.rngs
        user = rngs.global_state()
        rngs.set_global_state(self._globals)
        try:
            yield
        finally:
            self._globals = rngs.global_state()
            rngs.set_global_state(user)

    def _advance(self) -> None:
        """Let the loop take every told result and ask what it can, until it needs a result nobody has told."""
        s = self.search
        if not self._began or (self.state.status != "running" and not s.busy()):
            return
        try:
            while self.pool.told:
                s.wait_one()
            s.fill()
        except _Waiting:
            pass
        self._register()
        if not s.busy():
            self._end()

    def _end(self) -> None:
        """Nothing in flight and nothing more to ask: tell the rest, settle the status."""
        s = self.search
        if self._began and not s.busy():
            s.finish()
        s.check_failed()

    def _register(self) -> None:
        """The evaluations the loop submitted become trials, waiting to be given out."""
        s, pool = self.search, self.pool
        while pool.submitted:
            token = pool.submitted.popleft()
            key = s.waiting.get(token)
            if key is None:
                continue  # cancelled at the time budget
            number = s.numbers[key]
            self.outstanding[number] = Trial(number, key, list(s.items[key]))
            self._token_of[number] = token
            self._to_give.append(number)

    def _hand_out(self) -> Optional[Trial]:
        while self._to_give:
            number = self._to_give.popleft()
            trial = self.outstanding.get(number)
            if trial is None or trial.key in self._skip:
                continue  # told already, or given to another process before (it may still be running)
            self._asked_at[number] = time.time()
            return trial
        return None

    def _number_of(self, trial) -> int:
        if isinstance(trial, Trial):
            number = trial.number
        elif isinstance(trial, str) and not trial.lstrip("-").isdigit():
            number = next((n for n, t in self.outstanding.items() if t.key == trial), None)
            if number is None:
                self._unknown(f"no trial with key {trial!r}")
        else:
            try:
                number = int(trial)
            except (TypeError, ValueError):
                raise ConfigError(f"tell takes a Trial, its number or its key, got {type(trial).__name__} "
                                  f"{trial!r:.60}") from None
        trial = self.outstanding.get(number)
        if trial is None or not (number in self._given or trial.key in self._handed):
            told = number in self._told or 0 <= number < self.state.evaluations
            self._unknown(f"trial {number} {'was told already' if told else 'was never asked'}")
        return number

    def _unknown(self, what: str) -> None:
        pending = [t.number for t in self.pending()]
        raise ConfigError(f"{what}: the trials waiting for a result are "
                          f"{', '.join(map(str, pending[:10])) or 'none'}{' ...' if len(pending) > 10 else ''}")

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this study is closed: open it again with gptnas.open_search(run_dir)")

    # The trials journal -----------------------------------------------------------------------------------------
    def _read_trials(self) -> set:
        if self.rd is None:
            return set()
        from ..storage.journal import Journal
        self._trials = Journal(self.rd.path / TRIALS_FILE)
        return {r["key"] for r in self._trials.read()}

    def _journal_ask(self, trial: Trial) -> None:
        if self.rd is not None:
            self._trials.append([{"number": trial.number, "key": trial.key, "arch": trial.arch,
                                  "asked": time.strftime("%Y-%m-%dT%H:%M:%S")}], fsync=True)


def open_search(space, method=None, budget: Optional[int] = None, seed: int = 0, out=None, *, lag: int = 1,
                overwrite: bool = False, reask: bool = True, wait: float = 0.0, progress: bool = False,
                **config) -> Study:
    """A search to drive with ask and tell (see :mod:`gptnas.search.study`).

    ``open_search(space, method="rea", budget=100, seed=0, out="runs/x", lag=1, **config)`` starts one (``out``
    optional: without it, it lives in memory); ``open_search("runs/x")`` continues the one in that run directory
    (``space=`` and ``method=`` again when it was given objects; ``budget=`` a larger budget). ``reask``: a
    reopened study asks again the trials asked and not told before (False: they stay out, to be told; what
    ``python -m gptnas.ask`` does, as another process may be running them). ``wait``: seconds to wait for
    another process to release the run directory."""
    from ..methods.registry import DEFAULT_METHOD
    from . import driver
    if out is None and _is_run_dir(space):
        overrides = {"search.budget": budget} if budget is not None else None
        space_obj = None if isinstance(space, (str, Path)) else space
        opened = driver.open_existing(space, progress=progress, space=config.pop("space", space_obj),
                                      evaluator=_told_outside, method=method, overrides=overrides, wait=wait)
        return _study(opened, reask)
    if lag < 1 or int(lag) != lag:
        raise ConfigError(f"lag must be a whole number >= 1, got {lag!r}")
    from .api import _config
    search_section = dict(config.pop("search", None) or {})
    search_section["lag"] = int(lag)
    cfg, space_obj, _, method_obj = _config(space, _told_outside, method or DEFAULT_METHOD, budget, seed, out,
                                            {**config, "search": search_section})
    if out is None:
        import tempfile
        weights = tempfile.mkdtemp(prefix="gptnas-weights-")
        p = driver.prepare(cfg, _told_outside, weights_dir=weights, space=space_obj, method=method_obj,
                           progress=progress)
        state = driver.new_state(cfg)
        search = driver.make_search(p, progress=progress)
        return Study(p, state, search)
    opened = driver.open_new(cfg, overwrite=overwrite, progress=progress, space=space_obj,
                             evaluator=_told_outside, method=method_obj)
    return _study(opened, reask)


def _study(opened, reask: bool) -> Study:
    from .driver import Checkpointer, make_search
    rd, p, state, answers, session = opened
    try:
        ck = Checkpointer(rd, p, state)
        search = make_search(p, on_checkpoint=ck, progress=p.progress, on_result=ck.on_result, answers=answers)
        ck.answers = search.answers
        return Study(p, state, search, rd, ck, reask=reask, session=session)
    except BaseException:
        session.close()
        raise


def _is_run_dir(x) -> bool:
    return isinstance(x, (str, Path)) and (Path(x) / "config.yaml").is_file()


def _told_outside(arch):
    """The fitness of a study: its results are told (``study.tell``), never computed here."""
    raise GptnasError("this search is evaluated outside gptnas: ask for a trial and tell its result "
                      "(gptnas.open_search)")


_told_outside.uses_global_rng = False
