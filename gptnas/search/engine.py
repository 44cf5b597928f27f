"""The search loop: ask/tell, the only one. The engine asks the method for children whenever a worker is free and
tells it each result as it completes (as Optuna and Nevergrad run their optimisers); one worker is the same loop
with one slot (:class:`SerialPool`), a generation submitted whole as one ``toolbox.map`` call.

One evaluation reads straight down: the method (``methods/<name>/method.py``: ``initial`` / ``offspring``, DEAP's
``toolbox.mate`` / ``toolbox.mutate``) → this loop (:meth:`Search.ask`, :meth:`Search.submit`) → a worker
(:class:`SerialPool` here; with several, ``search/parallel.py``: a process pool, Ray, the simulated clock) → its
result (``evaluators/base.py``: :class:`~gptnas.evaluators.base.EvalResult`) → cache, archive and history
(``search/state.py``, from :meth:`Search.tell`) → the method (``survivors``, learners' ``end_generation``) → the
checkpoint (``search/driver.py``'s ``Checkpointer``, writing through ``storage/rundir.py``). What happens when a
result arrives is written once, in :meth:`Search.tell`.

One *ask* is one ``method.initial`` / ``method.offspring`` call. Its children become *units*, each told to the
method by ``method.survivors`` + ``end_generation`` once its result is in:

- a **steady-state** method (``method.is_steady()``: REA and what runs on it — ``gptnas`` with the REA loop, ``lapt``,
  ranked pre-screening — random search, LM-Searcher) is asked again as soon as a worker frees up, from the
  population as it stands; with several workers each child is a unit of its own (REA's survivors of several
  children one at a time are the survivors of all of them at once);
- a **generational** method (GA, GPT-NAS's paper preset) is asked for its next generation once the whole previous
  one is told; its generation is one unit, evaluated concurrently.

Which results a proposal sees (``search.order``):

- ``lag`` (the default): proposal *i* is made from exactly the results of the proposals up to *i* − L (L =
  ``search.lag``, default the number of workers; results are told in proposal order, as few as that needs), so a
  run does not depend on timing: the same config and seed give the same archive on any backend, and a resume after
  kill -9 is identical;
- ``arrival``: results are told the moment they arrive (no worker waits for a slow one); the journal holds the
  arrival order, and a resume replays it exactly.

A child equal to one still in flight is not evaluated again: its unit is told when that result arrives (as a
repeat of an evaluated architecture is answered from the cache at once). The archive holds rows in the order they
were told. The engine's clock is the backend's (:class:`~gptnas.search.parallel.SimulatedMap`'s virtual time) or
the wall clock; ``search.budget_time`` stops new evaluations after that many seconds.

The engine knows neither a model nor an evaluator: both are reached only through the toolbox and the method's
hooks. Methods see the search so far only through ``state.history`` (no test accuracy there).
"""
from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Optional

from deap import base
from tqdm.auto import tqdm

from ..core.rng import Rngs
from ..core.candidate import Candidate
from ..core.types import make_individual
from ..errors import GptnasError
from ..evaluators.base import EvalResult
from ..evaluators.timed import EvalTimeout, TimedEvaluate, can_time_out  # noqa: F401 - their old home
from ..storage.archive import make_row
from .state import SearchState, finite_fitnesses, row_result

log = logging.getLogger(__name__)

ORDERS = ("lag", "arrival")


class SearchFailed(GptnasError):
    """More evaluations failed than the run allows (``search.max_failed_share``): the evaluator is broken."""


_NOKEY = object()  # the key of a child the space cannot key
_NONE = frozenset()  # nothing in flight


def _imap(map_fn, fn, items: list):
    """``(index, result)`` pairs as results arrive: from the backend's ``imap`` when it has one (completion
    order), else from ``map_fn`` in input order (the builtin ``map`` yields each result as it is computed)."""
    inner = getattr(map_fn, "func", map_fn)  # toolbox.register wraps in functools.partial
    imap = getattr(inner, "imap", None)
    if imap is not None:
        yield from imap(fn, items)
    else:
        yield from enumerate(map_fn(fn, items))


class SerialPool:
    """The one-worker backend: what the loop submits waits until it asks for a result, then all of it goes
    through ``map_fn`` in one call (a user's DEAP ``toolbox.map``, the simulated clock), results taken as they
    arrive (``imap`` when the map has one, else in input order: the builtin ``map`` computes each when taken).

    ``slots`` is 1 (a proposal sees every result before it: lag 1); ``batches`` tells the loop to submit a whole
    generation at once, as one ``map`` call."""

    slots = 1
    batches = True

    def __init__(self, map_fn=map):
        self.map_fn = map_fn
        self._pending: list = []   # (token, fn, item) submitted, not yet mapped
        self._tokens: list = []    # tokens of the batch being mapped, by position
        self._results = iter(())
        self._token = 0
        inner = getattr(map_fn, "func", map_fn)
        # one worker process (a time limit must be able to stop an evaluation): the same order, through the
        # backend's own queue, so that the engine can wait with a deadline and cancel
        self.worker = inner if getattr(inner, "fifo", False) else None
        if self.worker is not None:
            self.timed_wait, self.cancel = True, self.worker.cancel

    def submit(self, fn, item) -> int:
        if self.worker is not None:
            return self.worker.submit(fn, item)
        self._token += 1
        self._pending.append((self._token, fn, item))
        return self._token

    def next_done(self, timeout: Optional[float] = None):
        """``(token, result)`` of the next evaluation to finish (``timeout``: only with a worker process; None when
        it passes first)."""
        if self.worker is not None:
            return self.worker.next_done(timeout)
        for i, res in self._results:
            return self._tokens[i], res
        if not self._pending:
            raise RuntimeError("nothing submitted to wait for (a bug: please report)")
        self._tokens = [t for t, _, _ in self._pending]
        fn, items = self._pending[0][1], [item for _, _, item in self._pending]
        self._pending = []
        self._results = _imap(self.map_fn, fn, items)
        return self.next_done()

@dataclass
class Unit:
    """Children told to the method together: one child of a steady-state method, or a generation."""

    generation: int                   # its place in the ask order: the generation its rows get
    children: list
    keys: list                        # per child (None: dropped, not told)
    new: list = field(default_factory=list)     # keys this unit evaluates (budget, lag window)
    hit_only: bool = False            # every child answered from the cache when it was asked

    def pack(self, arrived: dict) -> dict:
        return {"generation": self.generation, "keys": self.keys, "new": self.new,
                "hit_only": self.hit_only,
                "children": [(list(c), c.origin, getattr(c, "parent_key", None)) for c in self.children],
                "arrived": [k for k in self.new if k in arrived]}

    @classmethod
    def unpack(cls, d: dict) -> "Unit":
        children = []
        for genome, origin, parent in d["children"]:
            ind = make_individual(genome, origin)
            if parent is not None:
                ind.parent_key = parent
            children.append(ind)
        return cls(d["generation"], children, list(d["keys"]), list(d["new"]), d["hit_only"])


class Search:
    """Runs a method on a toolbox until the budget of unique evaluations is spent.

    Args:
        space: the search space (used for canonical keys only).
        toolbox: a DEAP toolbox with ``evaluate`` and ``map`` plus what ``method`` uses.
        method: a :class:`~gptnas.methods.Method`, bound to this search.
        budget: number of unique architectures to evaluate.
        rngs: the run's random generators (checkpointed with the state).
        on_checkpoint: called with the state after every generation (writes the run directory).
        on_result: called with each new evaluation's archive row the moment its result arrives (journals it).
        answers: results journaled before a crash, by key: the re-run generations take them instead of evaluating.
        max_generations: optional cap on generations (the paper's protocol counts generations).
        stall_limit: stop when this many generations in a row produce nothing new to evaluate.
        max_failed_share: stop with status ``failed`` (and raise :class:`SearchFailed`) when more than this share of
            the evaluations so far failed, once 10 of them (or the whole budget) are in.
        budget_time: seconds (of the run's clock, summed over sessions) after which no new evaluation starts (status
            ``time``); ``on_time``: ``finish`` lets those in flight finish and records them, ``cancel`` stops them.
        order, lag: with several workers, which results a proposal sees (see the module).
    """

    NOKEY = _NOKEY  # the key of a child the space cannot key

    def __init__(self, space, toolbox: base.Toolbox, method, budget: int, rngs: Rngs,
                 on_checkpoint: Optional[Callable[[SearchState], None]] = None, max_generations: Optional[int] = None,
                 stall_limit: int = 200, progress: bool = True, on_result: Optional[Callable[[dict], None]] = None,
                 answers: Optional[dict] = None, max_failed_share: float = 1.0,
                 budget_time: Optional[float] = None, on_time: str = "finish", order: str = "lag",
                 lag: Optional[int] = None, eval_timeout: Optional[float] = None):
        self.space, self.toolbox, self.method = space, toolbox, method
        self.budget, self.rngs = int(budget), rngs
        self.on_checkpoint, self.on_result = on_checkpoint, on_result
        self.answers = dict(answers or {})
        self.max_generations, self.stall_limit, self.progress = max_generations, stall_limit, progress
        self.max_failed_share = max_failed_share
        self.budget_time, self.on_time, self.order, self.lag = budget_time, on_time, order, lag
        self.eval_timeout = eval_timeout
        fn = getattr(toolbox.evaluate, "func", toolbox.evaluate)  # toolbox.register wraps in functools.partial
        mapper = getattr(toolbox.map, "func", toolbox.map)
        self._shield = mapper is not map or getattr(fn, "uses_global_rng", True)
        self._warned: set = set()

    # ------------------------------------------------------------------------------------------------------------
    def run(self, state: SearchState | None = None) -> SearchState:
        """Run (or continue) the search; returns the final state."""
        state = self.start(state)
        try:
            if state.status == "running":
                self.begin(self.pool() or SerialPool(self.toolbox.map))
                self.loop()
        finally:
            self.bar.close()
        self.check_failed()
        return state

    def start(self, state: SearchState | None = None) -> SearchState:
        """Take up ``state`` (a new one by default): history, learners, progress bar and the run's clock."""
        state = self.state = state or SearchState()
        history = state.history
        history.attach(self.space.parse, self.budget)
        history.running = state.status == "running"
        if state.learner_states:
            self.method.load_learner_states(state.learner_states)
        self.bar = tqdm(total=self.budget, initial=min(state.evaluations, self.budget), unit="eval",
                        desc=getattr(self.method, "label", self.method.name), disable=not self.progress,
                        dynamic_ncols=True)
        t_session = time.perf_counter()
        elapsed0 = state.elapsed_s
        mapper = getattr(self.toolbox.map, "func", self.toolbox.map)
        if hasattr(mapper, "clock"):  # a virtual clock (SimulatedMap)
            t_virtual = mapper.clock()
            self.clock = lambda: elapsed0 + mapper.clock() - t_virtual
        else:
            self.clock = lambda: elapsed0 + time.perf_counter() - t_session
        self.hooks = getattr(self.method, "has_generation_hooks", lambda: True)()  # a duck-typed method: always
        return state

    def check_failed(self) -> None:
        """Raise :class:`SearchFailed` when the search stopped because too many evaluations failed."""
        state = self.state
        if state.status == "failed":
            first = next((r["failed"] for r in state.archive.rows if r["failed"]), "")
            raise SearchFailed(f"{state.num_failed} of {state.evaluations} evaluations failed (more than "
                               f"{self.max_failed_share:.0%}; the first: {first}): fix the evaluator and start again")

    # ------------------------------------------------------------------------------------------------------------
    def pool(self):
        """The backend when it runs several evaluations at once (``slots`` > 1 and ``submit``), else None."""
        mapper = getattr(self.toolbox.map, "func", self.toolbox.map)
        return mapper if getattr(mapper, "slots", 1) > 1 and hasattr(mapper, "submit") else None

    def timed_evaluate(self) -> "TimedEvaluate":
        return TimedEvaluate(self.toolbox.evaluate, self.eval_timeout)

    def time_is_up(self, now: float) -> bool:
        return self.budget_time is not None and now >= self.budget_time

    def shielded(self, fn, *args, with_torch: bool = False):
        """``fn(*args)`` with Python's, numpy's (and, ``with_torch``, torch's) global generators saved and restored
        around it: evaluators and backends may draw from them (Ray's start-up does; a training evaluator may seed
        torch), and the search's own draws must not depend on it, so serial and parallel runs stay identical. Torch's
        only with one worker: with several, a GPT fine-tune may be training in a thread beside the search, seeded
        through torch's global generator, which no proposal draws from."""
        if not self._shield:
            return fn(*args)
        saved = self.rngs.global_state(with_torch=with_torch)
        try:
            return fn(*args)
        finally:
            self.rngs.set_global_state(saved)

    def next_status(self, state: SearchState) -> str:
        n = state.evaluations
        if n and state.num_failed > self.max_failed_share * n and (n >= min(10, self.budget)):
            log.error("%d of %d evaluations failed: stopping", state.num_failed, n)
            return "failed"
        if n >= self.budget:
            return "complete"
        if self.max_generations is not None and state.generation >= self.max_generations:
            return "generations"
        if state.stall >= self.stall_limit:
            log.warning("no new architecture in %d generations; stopping at %d of %d evaluations (the method's "
                        "moves find only what it has evaluated: the space may hold fewer members than the budget)",
                        state.stall, n, self.budget)
            return "stalled"
        return "running"

    def key(self, ind):
        """The child's canonical key, or :data:`_NOKEY` when the space cannot key it (a genome of the wrong shape)."""
        try:
            return self.space.key(ind)
        except Exception:  # noqa: BLE001 - whatever the space raises for a malformed genome
            return _NOKEY

    def not_member(self, ind) -> EvalResult:
        """The failed result of a child that is not a member of the space (an operator's bug: built-in operators
        make members only); warned once per operator."""
        origin = getattr(ind, "origin", "") or "unknown"
        if origin not in self._warned:
            self._warned.add(origin)
            log.warning("operator %r made a child that is not a member of space %r (is_valid is False): recorded as "
                        "a failed evaluation, not evaluated; an operator must return members", origin,
                        getattr(self.space, "name", "space"))
        return EvalResult.failure(f"not a member of space {getattr(self.space, 'name', 'space')!r} (made by "
                                  f"{origin}): the operator must return members (space.is_valid)")

    def drop(self, state: SearchState, individuals: list) -> None:
        """Children the space cannot even key (wrong length, not integers): dropped, counted per operator."""
        for ind in individuals:
            origin = getattr(ind, "origin", "") or "unknown"
            state.dropped[origin] = state.dropped.get(origin, 0) + 1
            if state.dropped[origin] == 1:
                log.warning("operator %r made a child space %r cannot read (%r): dropped, not evaluated", origin,
                            getattr(self.space, "name", "space"), list(ind)[:20])

    def record(self, state: SearchState, n_new: int, generation: Optional[int] = None) -> None:
        fits = finite_fitnesses(state.population or [])
        best = state.best_row()
        state.logbook.append({  # what Logbook.record does for a record without chapters
            "gen": state.generation if generation is None else generation, "nevals": n_new, "evals": state.evaluations,
            "max": max(fits) if fits else math.nan, "avg": sum(fits) / len(fits) if fits else math.nan,
            "best": best["fitness"] if best else math.nan, "best_test": best["test"] if best else math.nan})
        log.debug("gen %d: %d new, %d/%d evaluations, best fitness %.4f", state.generation, n_new,
                  state.evaluations, self.budget, best["fitness"] if best else math.nan)

    def begin(self, backend) -> None:
        """The loop's working state for one :meth:`run` on ``backend`` (``slots`` workers, ``submit`` /
        ``next_done``)."""
        self.backend = backend
        # One worker (SerialPool): a generation goes to the backend whole, as one map call, and is told in order.
        self.batches = bool(getattr(backend, "batches", False))
        self.tell_order = "lag" if self.batches else self.order
        self.slots = int(backend.slots)
        self.capacity = math.inf if self.batches else self.slots  # evaluations submitted at once
        self.lag_n = int(self.lag) if self.lag else self.slots  # proposals between a proposal and the newest result
        self.max_open = 4 * self.lag_n + 10  # units asked and not told, repeats included
        self.open: deque[Unit] = deque()
        self.arrived: dict[str, tuple[EvalResult, float, float]] = {}  # result, seconds, clock: in, not told
        self.waiting: dict[int, str] = {}                      # token -> key being evaluated
        self.queue: deque[str] = deque()                       # keys to submit when a worker frees up
        self.items: dict[str, Candidate] = {}
        self.numbers: dict[str, int] = {}                      # key -> its place in the ask order (trial number)
        self.replay: deque[str] = deque()                      # the journal's arrival order (order=arrival)
        self.replaying: set = set()                            # keys whose answer the replay holds
        steady = getattr(self.method, "is_steady", None) or getattr(self.method, "steady", None)  # (its old name)
        self.steady = bool(steady()) if callable(steady) else bool(getattr(self.method, "steady_state", False))
        self.blind = not getattr(self.method, "reads_results", True)  # random search: no lag to wait for
        if self.eval_timeout is not None and getattr(backend, "worker", 0) is None and not can_time_out():
            log.warning("search.eval_timeout is not enforced: the evaluations run in this thread, and only the main "
                        "thread can stop one; run them in a worker process (workers=2, or parallel=\"process\")")

    # The ask/tell loop ------------------------------------------------------------------------------------------
    def loop(self) -> None:
        """Ask while a worker is free, tell as the order demands, until nothing more can be asked."""
        self.enter()
        try:
            while True:
                self.fill()
                if not self.busy():
                    break
                self.wait_one()
        except BaseException:  # Ctrl-C, a crash: the journaled results are safe; stop what is in flight at once
            if self.waiting and getattr(self.backend, "cancel", None) is not None:
                self.backend.cancel()
            raise
        self.finish()

    def enter(self) -> None:
        """The units in flight at the state's checkpoint are submitted again (or answered from the journal)."""
        state = self.state
        self.fn = self.timed_evaluate()
        arrived_before = set()
        for d in state.open or []:  # a resumed run: the units in flight at its checkpoint
            self.open.append(Unit.unpack(d))
            arrived_before.update(d.get("arrived", []))
        state.open = None
        if self.tell_order == "arrival":
            self.replay = deque(k for k in self.answers if k not in arrived_before)
        for key in (k for u in self.open for k in u.new):
            self.numbers[key] = state.evaluations + len(self.numbers)
        for unit in self.open:
            for key, child in zip(unit.keys, unit.children):
                if key is not None and key in unit.new:
                    self.items[key] = Candidate(child, getattr(child, "parent_key", None))
            for key in unit.new:
                if key in arrived_before and key in self.answers:
                    self.answer(key)
                else:
                    self.submit(key)
        self.sync_in_flight()

    def finish(self) -> None:
        """Nothing more can be asked: tell the rest, in order."""
        while self.open and self.complete(self.open[0]):
            self.tell(self.open.popleft())
        self.open.clear()
        self.sync_in_flight()
        if self.state.status == "running":  # nothing could be asked and nothing is in flight
            self.state.status = "stalled"

    def busy(self) -> bool:
        return bool(self.waiting or self.queue or self.replaying)

    def in_flight(self) -> int:
        return len(self.waiting) + len(self.replaying)

    # Asking -----------------------------------------------------------------------------------------------------
    def new_untold(self) -> int:
        return sum(len(u.new) for u in self.open)

    def fill(self) -> None:
        """Ask while a worker is free and the method may be asked (telling first what the order demands)."""
        state = self.state
        while state.status == "running":
            if self.open:  # (a serial search answered from the cache has nothing open, most often)
                if self.tell_order == "lag":
                    self.tell_for_lag()
                else:
                    self.tell_arrived()
                    if state.population is None and state.generation and self.busy():
                        self.wait_one()  # a steady method breeds from the initial population: its first result
                        continue
                if state.status != "running":
                    return
            if self.budget_time is not None and self.time_is_up(self.clock()):
                state.status = "time"
                if self.on_time == "cancel":
                    self.cancel()
                elif self.in_flight():
                    log.warning("time budget spent: waiting for the %d evaluation(s) in flight to finish "
                                "(search.on_time=cancel stops them at the deadline)", self.in_flight())
                return
            if self.queue or ((self.waiting or self.replaying) and self.in_flight() >= self.capacity):
                return
            if self.open:
                if not self.steady or state.population is None:
                    return  # a generation (or the initial population) must be told first
                if len(self.open) >= self.max_open:
                    if not self.busy():
                        return
                    self.wait_one()  # repeats waiting for a result in flight: the method must be told something first
                    continue
                if state.evaluations + self.new_untold() >= self.budget:
                    return  # the budget is committed: what is in flight ends the run
            if self.max_generations is not None and state.generation >= self.max_generations:
                return
            self.ask()

    def tell_for_lag(self) -> None:
        """Tell, in proposal order, as many units as the lag demands (waiting for their results), and a unit at the
        head that the cache answered when it was asked (that needs no waiting, so no timing)."""
        state = self.state
        while self.open and state.status == "running":
            head = self.open[0]
            limit = self.lag_n if self.steady and state.population is not None else 1
            if self.blind and self.steady and state.population is not None:
                if not self.complete(head):
                    return  # told in order as they complete, never waited for
                self.tell(self.open.popleft())
                continue
            # Repeats (no new evaluation) do not fill the window; a cap on them keeps a method that repeats itself
            # from being asked forever from a population that cannot change until it is told.
            if not head.hit_only and self.new_untold() < limit and len(self.open) < self.max_open:
                return
            while not self.complete(head):
                self.wait_one()
                if not self.open or self.open[0] is not head:  # cancelled at the time budget
                    return
            self.tell(self.open.popleft())

    def tell_arrived(self) -> None:
        for unit in [u for u in self.open if self.complete(u)]:
            if self.state.status != "running":
                return
            self.open.remove(unit)
            self.tell(unit)

    def ask(self) -> None:
        """Ask the method once (``initial`` / ``offspring``) and submit its new children; a child the cache answers
        is told at once, and while only that happens the method is asked again here (REA's repeats: what
        :meth:`fill` would do next, without its checks, which such a tell cannot change)."""
        state, method, toolbox, history, cache = self.state, self.method, self.toolbox, self.state.history, \
            self.state.cache
        tight = self.budget_time is None and self.max_generations is None
        while True:
            history.generation = state.generation
            if self.hooks:
                method.begin_generation(toolbox, history)
            if state.population is None:
                children = method.initial(toolbox, history)
            else:
                children = method.offspring(toolbox, state.population, history)
            keys = None
            if len(children) == 1 and not self.open:  # REA's one child, most often a repeat: from the cache
                child = children[0]
                keys = [self.key(child)]
                res = cache.get(keys[0])
                if res is not None:
                    f = child.fitness
                    f.wvalues = (res.fitness * f.weights[0],)  # what `fitness.values = (x,)` sets, without its map
                    generation = state.generation
                    state.generation = generation + 1
                    self.told([child], 0, generation)
                    if tight and state.status == "running":
                        continue
                    return
            break
        groups = [[c] for c in children] if self.steady and not self.batches else [list(children)]
        for group in groups or [[]]:
            self.add_unit(group, keys)
        self.sync_in_flight()

    def add_unit(self, children: list, keys: Optional[list] = None) -> None:
        state = self.state
        unit = Unit(state.generation, children, [])
        state.generation += 1
        keys = keys or [self.key(c) for c in children]
        if any(k is self.NOKEY for k in keys):
            self.drop(state, [c for c, k in zip(children, keys) if k is self.NOKEY])
        flying = self.flying()
        asked = state.evaluations + self.new_untold()  # new architectures asked so far (told, or in open units)
        remaining = self.budget - asked
        for child, key in zip(children, keys):
            if key is self.NOKEY:
                unit.keys.append(None)
            elif key in state.cache or key in flying or key in unit.new:
                unit.keys.append(key)  # answered by the cache, or by the evaluation in flight
            elif len(unit.new) < remaining:
                unit.keys.append(key)
                self.numbers[key] = asked + len(unit.new)
                unit.new.append(key)
                self.items[key] = Candidate(child, getattr(child, "parent_key", None))
                if not self.space.is_valid(child):  # a member of no space: a failed evaluation, never evaluated
                    self.arrived[key] = (self.not_member(child), 0.0, self.clock())
                else:
                    self.submit(key)
            else:
                unit.keys.append(None)  # past the budget: not evaluated, not told
        unit.hit_only = all(k is None or k in state.cache for k in unit.keys)
        self.open.append(unit)

    def flying(self) -> set:
        return {k for u in self.open for k in u.new}

    def sync_in_flight(self) -> None:
        self.state.history.in_flight = self.flying() if self.open else _NONE

    # Evaluating -------------------------------------------------------------------------------------------------
    def answer(self, key: str) -> None:
        """The result journaled before a crash (no evaluation)."""
        row = self.answers.pop(key)
        self.arrived[key] = (row_result(row), row["eval_time_s"], row["elapsed_s"])

    def submit(self, key: str) -> None:
        if key in self.answers:
            if self.tell_order == "lag":
                return self.answer(key)
            self.replaying.add(key)  # it arrives when the journal says it did
            return
        if self.in_flight() >= self.capacity:
            self.queue.append(key)
            return
        self.waiting[self.shielded(self.backend.submit, self.fn, self.items[key])] = key

    def wait_one(self) -> None:
        """Take the next result: the journal's, in its order, while a replay runs; then the backend'self."""
        if self.replay and self.replay[0] not in self.replaying:
            # the run asked differently from the journal (it never does unless its inputs changed): answer by key
            for key in sorted(self.replaying):
                self.answer(key)
            self.replaying.clear()
            self.replay.clear()
        elif self.replay:
            key = self.replay.popleft()
            self.replaying.discard(key)
            self.answer(key)
        else:
            if not self.waiting:
                raise RuntimeError("the engine waits for a result with nothing in flight (a bug: please report)")
            deadline = self.on_time == "cancel" and self.budget_time is not None and \
                getattr(self.backend, "timed_wait", False)
            if deadline:  # wait no longer than the time budget: what is still running then is stopped
                got = self.shielded(self.backend.next_done, max(0.0, self.budget_time - self.clock()))
                if got is None:
                    self.state.status = "time"
                    self.cancel()
                    return
                token, res = got
            else:
                token, res = self.shielded(self.backend.next_done, with_torch=self.batches)
            key = self.waiting.pop(token)
            if self.on_time == "cancel" and not self.batches and self.time_is_up(self.clock()):
                self.state.status = "time"  # it finished only after the time ran out
                self.cancel(also=1)
                return
            now = self.clock()
            self.arrived[key] = (res[0], res[1], now)
            if self.on_result:
                self.on_result(self.row(key, res[0], res[1], now))
        while self.queue and self.in_flight() < self.capacity:
            self.submit(self.queue.popleft())

    def unit_of(self, key: str) -> Unit:
        return next(u for u in self.open if key in u.new)

    def row(self, key: str, result: EvalResult, seconds: float, at: float) -> dict:
        """The archive row of a result in but not told: its unit's generation, its child's origin and parent."""
        unit = self.unit_of(key)
        child = next((c for c, k in zip(unit.children, unit.keys) if k == key), None)
        return make_row(unit.generation, key, result, seconds, at, getattr(child, "origin", ""),
                        getattr(child, "parent_key", None))

    def complete(self, unit: Unit) -> bool:
        cache, arrived = self.state.cache, self.arrived
        return all(k is None or k in cache or k in arrived for k in unit.keys)

    def cancel(self, also: int = 0) -> None:
        """Stop what is in flight (``search.on_time=cancel``): not recorded, counted in ``state.cancelled``. Every
        result already in is kept: a unit (a generation) cut short is told with the children whose results came."""
        running, waiting = len(self.waiting) + also, len(self.queue)
        if self.waiting and getattr(self.backend, "cancel", None) is not None:
            self.shielded(self.backend.cancel)
        stopped = set(self.waiting.values()) | set(self.queue)
        self.waiting.clear()
        self.queue.clear()
        for unit in self.open:
            if not self.complete(unit):  # keep its children whose results came; the rest are not evaluated
                unit.keys = [None if k in stopped or (k in unit.new and k not in self.arrived and
                                                      k not in self.state.cache) else k for k in unit.keys]
                unit.new = [k for k in unit.new if k in self.arrived]
        self.open = deque(u for u in self.open if self.complete(u))
        self.state.cancelled += running + waiting
        if running + waiting:
            log.warning("time budget spent: %d evaluation(s) running stopped%s; every result already in is kept",
                        running, f", {waiting} not started" if waiting else "")

    # Telling ----------------------------------------------------------------------------------------------------
    def tell(self, unit: Unit) -> None:
        """Tell the method a unit whose results are all in: what happens when a result arrives, written once."""
        state = self.state
        for key, child in zip(unit.keys, unit.children):
            if key is not None and key in unit.new and key in self.arrived:
                res, dt, at = self.arrived.pop(key)
                state.add_evaluation(key, res, dt, at, getattr(child, "origin", ""), generation=unit.generation,
                                     parent=getattr(child, "parent_key", None))
                self.items.pop(key, None)
                self.numbers.pop(key, None)
                if res.failed:
                    log.warning("evaluation of %s failed: %s", key, res.failed)
        evaluated = []
        for key, child in zip(unit.keys, unit.children):
            res = state.cache.get(key) if key is not None else None
            if res is not None:
                f = child.fitness
                f.wvalues = (res.fitness * f.weights[0],)
                evaluated.append(child)
        self.told(evaluated, len(unit.new), unit.generation)

    def told(self, evaluated: list, n_new: int, generation: int) -> None:
        """What follows a tell: survivors, statistics, status, learners, checkpoint."""
        state, method, toolbox, history = self.state, self.method, self.toolbox, self.state.history
        state.population = method.survivors(toolbox, state.population, evaluated, history)
        if n_new:
            self.bar.update(n_new)
            state.hof.update(evaluated)
            self.record(state, n_new, generation)
        state.stall = 0 if n_new else state.stall + 1
        state.empty_generations += not n_new
        history.in_flight = self.flying() if self.open else _NONE
        if n_new or state.stall >= self.stall_limit or self.max_generations is not None:  # else: nothing changed
            status = self.next_status(state)
            if state.status == "running" or status in ("complete", "failed"):
                state.status = status
        history.running = state.status == "running"
        if self.hooks:
            method.end_generation(toolbox, state.population, history)
            state.learner_states = method.learner_states()
        state.elapsed_s = self.clock()
        if self.on_checkpoint:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Hand the state to ``on_checkpoint`` with the units still open (a resume submits exactly them again) and
        the results in but not told."""
        state = self.state
        state.elapsed_s = self.clock()
        if self.on_checkpoint:
            state.open = [u.pack(self.arrived) for u in self.open]
            state.arrived_rows = [self.row(k, *r) for k, r in self.arrived.items()]
            self.on_checkpoint(state)
            state.open = None
