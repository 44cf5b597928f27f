"""The search loop. With one worker, one generation reads straight down:

population → ``method.offspring`` (``toolbox.mate`` / ``toolbox.mutate``, classic or GPT) →
``toolbox.map(toolbox.evaluate, new)`` → each result journaled as it arrives → cache / budget → archive →
``method.survivors`` (``toolbox.select``) → learners' ``end_generation`` → checkpoint.

With several workers (a backend with ``slots``), :mod:`gptnas.search.asynchronous` runs the same hooks
ask/tell-style, every worker busy. The engine knows neither a model nor an evaluator: both are reached only through the toolbox and the method's
hooks. Methods see the search so far only through ``state.history`` (no test accuracy there).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, Optional

from deap import base
from tqdm.auto import tqdm

from ..core.rng import Rngs
from ..core.types import Candidate
from ..errors import GptnasError
from ..evaluators.base import EvalResult, as_result
from ..storage.archive import make_row
from .state import SearchState, finite_fitnesses, row_result

log = logging.getLogger(__name__)


class SearchFailed(GptnasError):
    """More evaluations failed than the run allows (``search.max_failed_share``): the evaluator is broken."""


class TimedEvaluate:
    """Picklable wrapper: ``genome -> (EvalResult, seconds)``; accepts what :func:`~gptnas.evaluators.as_result`
    reads (a number, a DEAP tuple, an EvalResult; a non-finite fitness is a failure). An exception raised for one
    architecture becomes its failed evaluation (the search goes on); a :class:`~gptnas.errors.GptnasError` (bad
    data, bad settings, several objectives) is the user's to fix and propagates."""

    def __init__(self, evaluate: Callable):
        self.evaluate = evaluate

    def __call__(self, genome):
        t0 = time.perf_counter()
        try:
            res = as_result(self.evaluate(genome))
        except GptnasError:
            raise
        except Exception as e:  # noqa: BLE001 - one architecture's error is recorded, the search goes on
            res = EvalResult.failure(f"{type(e).__name__}: {e}")
        return res, time.perf_counter() - t0


_NOKEY = object()  # the key of a child the space cannot key


class SerialPool:
    """One evaluation at a time in this process, with the asynchronous loop's interface (a run whose checkpoint
    holds evaluations in flight, resumed with one worker)."""

    slots = 1

    def __init__(self):
        self._done: list = []
        self._token = 0

    def submit(self, fn, item) -> int:
        self._token += 1
        self._done.append((self._token, fn(item)))
        return self._token

    def next_done(self):
        return self._done.pop(0)


def _imap(map_fn, fn, items: list):
    """``(index, result)`` pairs as results arrive: from the backend's ``imap`` when it has one (completion
    order), else from ``map_fn`` in input order (the builtin ``map`` yields each result as it is computed)."""
    inner = getattr(map_fn, "func", map_fn)  # toolbox.register wraps in functools.partial
    imap = getattr(inner, "imap", None)
    if imap is not None:
        yield from imap(fn, items)
    else:
        yield from enumerate(map_fn(fn, items))


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
        order, lag: with several workers, which results a proposal sees (:mod:`gptnas.search.asynchronous`).
    """

    NOKEY = _NOKEY  # the key of a child the space cannot key

    def __init__(self, space, toolbox: base.Toolbox, method, budget: int, rngs: Rngs,
                 on_checkpoint: Optional[Callable[[SearchState], None]] = None, max_generations: Optional[int] = None,
                 stall_limit: int = 200, progress: bool = True, on_result: Optional[Callable[[dict], None]] = None,
                 answers: Optional[dict] = None, max_failed_share: float = 1.0,
                 budget_time: Optional[float] = None, on_time: str = "finish", order: str = "lag",
                 lag: Optional[int] = None):
        self.space, self.toolbox, self.method = space, toolbox, method
        self.budget, self.rngs = int(budget), rngs
        self.on_checkpoint, self.on_result = on_checkpoint, on_result
        self.answers = dict(answers or {})
        self.max_generations, self.stall_limit, self.progress = max_generations, stall_limit, progress
        self.max_failed_share = max_failed_share
        self.budget_time, self.on_time, self.order, self.lag = budget_time, on_time, order, lag
        fn = getattr(toolbox.evaluate, "func", toolbox.evaluate)  # toolbox.register wraps in functools.partial
        mapper = getattr(toolbox.map, "func", toolbox.map)
        self._shield = mapper is not map or getattr(fn, "uses_global_rng", True)
        self._warned: set = set()

    # ------------------------------------------------------------------------------------------------------------
    def run(self, state: SearchState | None = None) -> SearchState:
        """Run (or continue) the search; returns the final state."""
        state = state or SearchState()
        history = state.history
        history.attach(self.space.parse, self.budget)
        history.running = state.status == "running"
        if state.learner_states:
            self.method.load_learner_states(state.learner_states)
        bar = tqdm(total=self.budget, initial=min(state.evaluations, self.budget), unit="eval",
                   desc=getattr(self.method, "label", self.method.name), disable=not self.progress, dynamic_ncols=True)
        t_session = time.perf_counter()
        elapsed0 = state.elapsed_s
        pool = self.pool()
        mapper = getattr(self.toolbox.map, "func", self.toolbox.map)
        if hasattr(mapper, "clock"):  # a virtual clock (SimulatedMap)
            t_virtual = mapper.clock()
            clock = lambda: elapsed0 + mapper.clock() - t_virtual
        else:
            clock = lambda: elapsed0 + time.perf_counter() - t_session
        method, toolbox = self.method, self.toolbox
        hooks = self.hooks = getattr(method, "has_generation_hooks", lambda: True)()  # a duck-typed method: always
        try:
            if state.status == "running" and (pool is not None or state.open):
                from .asynchronous import AsyncLoop
                AsyncLoop(self, pool if pool is not None else SerialPool(), self.order, self.lag).run(state, clock,
                                                                                                       bar)
                if state.status == "running":  # nothing could be asked and nothing is in flight
                    state.status = "stalled"
            while state.status == "running":
                if self.time_is_up(clock()):
                    state.status = "time"
                    break
                history.generation = state.generation
                if hooks:
                    method.begin_generation(toolbox, history)
                if state.population is None:
                    offspring = method.initial(toolbox, history)
                else:
                    offspring = method.offspring(toolbox, state.population, history)
                evaluated, n_new = self.evaluate(state, offspring, clock)
                state.population = method.survivors(toolbox, state.population, evaluated, history)
                if n_new:  # cache hits are in the hall of fame already and change no statistic
                    bar.update(n_new)
                    state.hof.update(evaluated)
                    self.record(state, n_new)
                state.generation += 1
                state.stall = 0 if n_new else state.stall + 1
                state.status = self.next_status(state)
                history.running = state.status == "running"
                if hooks:
                    method.end_generation(toolbox, state.population, history)
                    state.learner_states = method.learner_states()
                state.elapsed_s = clock()
                if self.on_checkpoint:
                    self.on_checkpoint(state)
        finally:
            bar.close()
        if state.status == "failed":
            first = next((r["failed"] for r in state.archive.rows if r["failed"]), "")
            raise SearchFailed(f"{state.num_failed} of {state.evaluations} evaluations failed (more than "
                               f"{self.max_failed_share:.0%}; the first: {first}): fix the evaluator and start again")
        return state

    # What the asynchronous loop uses ------------------------------------------------------------------------------
    def pool(self):
        """The backend when it runs several evaluations at once (``slots`` > 1 and ``submit``), else None."""
        mapper = getattr(self.toolbox.map, "func", self.toolbox.map)
        return mapper if getattr(mapper, "slots", 1) > 1 and hasattr(mapper, "submit") else None

    def timed_evaluate(self) -> "TimedEvaluate":
        return TimedEvaluate(self.toolbox.evaluate)

    def time_is_up(self, now: float) -> bool:
        return self.budget_time is not None and now >= self.budget_time

    def shielded(self, fn, *args):
        """``fn(*args)`` with Python's and numpy's global generators saved and restored around it (see
        :meth:`evaluate`). Not torch's: a GPT fine-tune may be training in a thread beside the search (the
        asynchronous loop), seeded through torch's global generator, which no proposal draws from."""
        saved = self.rngs.global_state(with_torch=False) if self._shield else None
        try:
            return fn(*args)
        finally:
            if saved is not None:
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

    def evaluate(self, state: SearchState, individuals: list, clock: Callable[[], float]) -> tuple[list, int]:
        """Give every individual a fitness: from the cache, from the answers journaled before a crash, or by
        evaluating new architectures in one ``toolbox.map`` call. New architectures past the budget are dropped
        (not evaluated, not returned).

        Returns ``(individuals that have a fitness, number of new evaluations)``.
        """
        cache, key_of = state.cache, self.key
        if len(individuals) == 1:  # REA's one child, most often a repeat: answered from the cache
            res = cache.get(key_of(individuals[0]))
            if res is not None:
                f = individuals[0].fitness
                f.wvalues = (res.fitness * f.weights[0],)
                return list(individuals), 0
        keys = [key_of(ind) for ind in individuals]
        hits = [cache.get(k) for k in keys]
        if None not in hits:  # REA's children are often repeats: answered from the cache
            for ind, res in zip(individuals, hits):
                f = ind.fitness
                f.wvalues = (res.fitness * f.weights[0],)  # what `fitness.values = (x,)` sets, without its map
            return list(individuals), 0
        if _NOKEY in keys:
            self.drop(state, [ind for ind, k in zip(individuals, keys) if k is _NOKEY])
        new: dict[str, object] = {}
        remaining = self.budget - state.evaluations
        for ind, key in zip(individuals, keys):
            if key not in cache and key not in new and key is not _NOKEY and len(new) < remaining:
                new[key] = ind
        results: dict[str, tuple[EvalResult, float]] = {}
        todo = []
        is_valid = self.space.is_valid
        for key, ind in new.items():
            if not is_valid(ind):  # a member of no space: recorded as failed, never evaluated
                results[key] = (self.not_member(ind), 0.0)
            elif key in self.answers:
                row = self.answers.pop(key)
                results[key] = (row_result(row), row["eval_time_s"])
            else:
                todo.append(key)
        if todo:
            # Evaluators and backends may draw from the global generators (Ray's start-up does; a serial training
            # evaluator may seed torch): shield the search's own draws so serial and parallel runs stay identical.
            saved = self.rngs.global_state() if self._shield else None
            try:
                items = [Candidate(new[k], getattr(new[k], "parent_key", None)) for k in todo]
                for i, (res, dt) in _imap(self.toolbox.map, TimedEvaluate(self.toolbox.evaluate), items):
                    key = todo[i]
                    results[key] = (res, dt)
                    if self.on_result:
                        self.on_result(make_row(state.generation, key, res, dt, clock(), getattr(new[key], "origin", "")))
            finally:
                if saved is not None:
                    self.rngs.set_global_state(saved)
        for key, ind in new.items():
            res, dt = results[key]
            state.add_evaluation(key, res, dt, clock(), getattr(ind, "origin", ""))
            if res.failed:
                log.warning("evaluation of %s failed: %s", key, res.failed)
        out = []
        for ind, key in zip(individuals, keys):
            res = cache.get(key)
            if res is not None:
                ind.fitness.values = (res.fitness,)
                out.append(ind)
        return out, len(new)

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



