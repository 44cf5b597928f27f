"""The search loop with every worker busy: the engine asks the method for children whenever a worker is free and
tells it each result as it completes (ask/tell, as Optuna and Nevergrad run their optimisers).

One *ask* is one ``method.initial`` / ``method.offspring`` call. Its children become *units*, each told to the
method by ``method.survivors`` + ``end_generation`` once its result is in:

- a **steady-state** method (``method.steady()``: REA and what runs on it — ``gptnas`` with the REA loop, ``lapt``,
  ranked pre-screening — random search, LM-Searcher) is asked again as soon as a worker frees up, from the
  population as it stands; each child is a unit of its own (REA's survivors of several children one at a time
  are the survivors of all of them at once);
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
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..core.types import Candidate, make_individual
from ..evaluators.base import EvalResult
from ..storage.archive import make_row
from .state import row_result

log = logging.getLogger(__name__)

ORDERS = ("lag", "arrival")


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


class AsyncLoop:
    """Runs :class:`~gptnas.search.engine.Search`'s method on a backend with ``slots`` workers (see the module).

    Args: search (the engine: budget, method, toolbox, callbacks), pool (a backend with ``submit`` /
    ``next_done``), order (``lag`` | ``arrival``), lag (proposals between a proposal and the newest result it
    sees; None: the number of workers).
    """

    def __init__(self, search, pool, order: str = "lag", lag: Optional[int] = None):
        self.s, self.pool = search, pool
        self.order = order
        self.slots = int(pool.slots)
        self.lag = int(lag) if lag else self.slots
        self.max_open = 4 * self.lag + 10  # units asked and not told, repeats included
        self.open: deque[Unit] = deque()
        self.arrived: dict[str, tuple[EvalResult, float, float]] = {}  # result, seconds, clock: in, not told
        self.waiting: dict[int, str] = {}                      # token -> key being evaluated
        self.queue: deque[str] = deque()                       # keys to submit when a worker frees up
        self.items: dict[str, Candidate] = {}
        self.replay: deque[str] = deque()                      # the journal's arrival order (order=arrival)
        self.replaying: set = set()                            # keys whose answer the replay holds
        self.steady = bool(getattr(search.method, "steady", lambda: False)())
        self.blind = not getattr(search.method, "reads_results", True)  # random search: no lag to wait for

    # ------------------------------------------------------------------------------------------------------------
    def run(self, state, clock: Callable[[], float], bar) -> None:
        s = self.s
        self.state, self.clock, self.bar = state, clock, bar
        self.fn = s.timed_evaluate()
        arrived_before = set()
        for d in state.open or []:  # a resumed run: the units in flight at its checkpoint
            self.open.append(Unit.unpack(d))
            arrived_before.update(d.get("arrived", []))
        state.open = None
        if self.order == "arrival":
            self.replay = deque(k for k in s.answers if k not in arrived_before)
        for unit in self.open:
            for key, child in zip(unit.keys, unit.children):
                if key is not None and key in unit.new:
                    self.items[key] = Candidate(child, getattr(child, "parent_key", None))
            for key in unit.new:
                if key in arrived_before and key in s.answers:
                    self.answer(key)
                else:
                    self.start(key)
        self.sync_in_flight()
        try:
            while True:
                self.fill()
                if not self.busy():
                    break
                self.wait_one()
        except BaseException:  # Ctrl-C, a crash: the journaled results are safe; stop what is in flight at once
            if self.waiting and getattr(self.pool, "cancel", None) is not None:
                self.pool.cancel()
            raise
        while self.open and self.complete(self.open[0]):  # nothing more to ask: the rest, in order
            self.tell(self.open.popleft())
        self.open.clear()
        self.sync_in_flight()

    def busy(self) -> bool:
        return bool(self.waiting or self.queue or self.replaying)

    def in_flight(self) -> int:
        return len(self.waiting) + len(self.replaying)

    # Asking -----------------------------------------------------------------------------------------------------
    def new_untold(self) -> int:
        return sum(len(u.new) for u in self.open)

    def fill(self) -> None:
        """Ask while a worker is free and the method may be asked (telling first what the order demands)."""
        s, state = self.s, self.state
        while state.status == "running":
            if self.order == "lag":
                self.tell_for_lag()
            else:
                self.tell_arrived()
                if state.population is None and state.generation and self.busy():
                    self.wait_one()  # a steady method breeds from the initial population: its first result
                    continue
            if state.status != "running":
                return
            if s.time_is_up(self.clock()):
                state.status = "time"
                if s.on_time == "cancel":
                    self.cancel()
                return
            if self.in_flight() >= self.slots or self.queue:
                return
            if self.open and (not self.steady or state.population is None):
                return  # a generation (or the initial population) must be told first
            if len(self.open) >= self.max_open:
                if not self.busy():
                    return
                self.wait_one()  # repeats waiting for a result in flight: the method must be told something first
                continue
            if state.evaluations + self.new_untold() >= s.budget:
                return  # the budget is committed: what is in flight ends the run
            if s.max_generations is not None and state.generation >= s.max_generations:
                return
            self.ask()

    def tell_for_lag(self) -> None:
        """Tell, in proposal order, as many units as the lag demands (waiting for their results), and a unit at the
        head that the cache answered when it was asked (that needs no waiting, so no timing)."""
        state = self.state
        while self.open and state.status == "running":
            head = self.open[0]
            limit = self.lag if self.steady and state.population is not None else 1
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
        s, state, method, toolbox, history = self.s, self.state, self.s.method, self.s.toolbox, self.state.history
        history.generation = state.generation
        if s.hooks:
            method.begin_generation(toolbox, history)
        if state.population is None:
            children = method.initial(toolbox, history)
        else:
            children = method.offspring(toolbox, state.population, history)
        groups = [[c] for c in children] if self.steady else [list(children)]
        for group in groups or [[]]:
            self.add_unit(group)
        self.sync_in_flight()

    def add_unit(self, children: list) -> None:
        s, state = self.s, self.state
        unit = Unit(state.generation, children, [])
        state.generation += 1
        keys = [s.key(c) for c in children]
        if any(k is s.NOKEY for k in keys):
            s.drop(state, [c for c, k in zip(children, keys) if k is s.NOKEY])
        flying = self.flying()
        remaining = s.budget - state.evaluations - self.new_untold()
        for child, key in zip(children, keys):
            if key is s.NOKEY:
                unit.keys.append(None)
            elif key in state.cache or key in flying or key in unit.new:
                unit.keys.append(key)  # answered by the cache, or by the evaluation in flight
            elif len(unit.new) < remaining:
                unit.keys.append(key)
                unit.new.append(key)
                self.items[key] = Candidate(child, getattr(child, "parent_key", None))
                if not s.space.is_valid(child):  # a member of no space: a failed evaluation, never evaluated
                    self.arrived[key] = (s.not_member(child), 0.0, self.clock())
                else:
                    self.start(key)
            else:
                unit.keys.append(None)  # past the budget: not evaluated, not told
        unit.hit_only = all(k is None or k in state.cache for k in unit.keys)
        self.open.append(unit)

    def flying(self) -> set:
        return {k for u in self.open for k in u.new}

    def sync_in_flight(self) -> None:
        self.state.history.in_flight = self.flying() if self.open else set()

    # Evaluating -------------------------------------------------------------------------------------------------
    def answer(self, key: str) -> None:
        """The result journaled before a crash (no evaluation)."""
        row = self.s.answers.pop(key)
        self.arrived[key] = (row_result(row), row["eval_time_s"], row["elapsed_s"])

    def start(self, key: str) -> None:
        if key in self.s.answers:
            if self.order == "lag":
                return self.answer(key)
            self.replaying.add(key)  # it arrives when the journal says it did
            return
        if self.in_flight() >= self.slots:
            self.queue.append(key)
            return
        self.waiting[self.s.shielded(self.pool.submit, self.fn, self.items[key])] = key

    def wait_one(self) -> None:
        """Take the next result: the journal's, in its order, while a replay runs; then the backend's."""
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
            token, res = self.s.shielded(self.pool.next_done)
            key = self.waiting.pop(token)
            if self.s.on_time == "cancel" and self.s.time_is_up(self.clock()):
                self.state.status = "time"  # it was still in flight when the time ran out
                self.cancel(also=1)
                return
            now = self.clock()
            self.arrived[key] = (res[0], res[1], now)
            if self.s.on_result:
                unit = self.unit_of(key)
                self.s.on_result(make_row(unit.generation, key, res[0], res[1], now, self.origin(unit, key)))
        while self.queue and self.in_flight() < self.slots:
            self.start(self.queue.popleft())

    def unit_of(self, key: str) -> Unit:
        return next(u for u in self.open if key in u.new)

    @staticmethod
    def origin(unit: Unit, key: str) -> str:
        return next((getattr(c, "origin", "") for c, k in zip(unit.children, unit.keys) if k == key), "")

    def complete(self, unit: Unit) -> bool:
        cache, arrived = self.state.cache, self.arrived
        return all(k is None or k in cache or k in arrived for k in unit.keys)

    def cancel(self, also: int = 0) -> None:
        """Stop what is in flight (``search.on_time=cancel``): not recorded, counted in ``state.cancelled``."""
        n = len(self.waiting) + len(self.queue) + also
        if self.waiting and getattr(self.pool, "cancel", None) is not None:
            self.s.shielded(self.pool.cancel)
        self.waiting.clear()
        self.queue.clear()
        self.open = deque(u for u in self.open if self.complete(u))
        kept = self.flying()
        self.arrived = {k: r for k, r in self.arrived.items() if k in kept}
        self.state.cancelled += n
        if n:
            log.warning("time budget spent: %d evaluation(s) in flight cancelled", n)

    # Telling ----------------------------------------------------------------------------------------------------
    def tell(self, unit: Unit) -> None:
        s, state, method, toolbox, history = self.s, self.state, self.s.method, self.s.toolbox, self.state.history
        for key, child in zip(unit.keys, unit.children):
            if key is not None and key in unit.new and key in self.arrived:
                res, dt, at = self.arrived.pop(key)
                state.add_evaluation(key, res, dt, at, getattr(child, "origin", ""), generation=unit.generation)
                self.items.pop(key, None)
                if res.failed:
                    log.warning("evaluation of %s failed: %s", key, res.failed)
        evaluated = []
        for key, child in zip(unit.keys, unit.children):
            res = state.cache.get(key) if key is not None else None
            if res is not None:
                child.fitness.values = (res.fitness,)
                evaluated.append(child)
        state.population = method.survivors(toolbox, state.population, evaluated, history)
        n_new = len(unit.new)
        if n_new:
            self.bar.update(n_new)
            state.hof.update(evaluated)
            s.record(state, n_new, unit.generation)
        state.stall = 0 if n_new else state.stall + 1
        self.sync_in_flight()
        status = s.next_status(state)
        if state.status == "running" or status in ("complete", "failed"):
            state.status = status
        history.running = state.status == "running"
        if s.hooks:
            method.end_generation(toolbox, state.population, history)
            state.learner_states = method.learner_states()
        state.elapsed_s = self.clock()
        if s.on_checkpoint:
            state.open = [u.pack(self.arrived) for u in self.open]
            state.arrived_rows = [make_row(self.unit_of(k).generation, k, r[0], r[1], r[2],
                                           self.origin(self.unit_of(k), k)) for k, r in self.arrived.items()]
            s.on_checkpoint(state)
            state.open = None
