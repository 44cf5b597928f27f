"""The search loop. One generation reads straight down:

population → ``method.offspring`` (``toolbox.mate`` / ``toolbox.mutate``, classic or GPT) →
``toolbox.map(toolbox.evaluate, new)`` → cache / budget → archive → ``method.survivors`` (``toolbox.select``)
→ checkpoint.

The engine knows neither the GPT nor the evaluator: both are reached only through the toolbox.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import time
from typing import Callable

from deap import base
from tqdm.auto import tqdm

from ..evaluators.base import EvalResult
from ..spaces.base import SearchSpace
from .rng import Rngs
from .state import SearchState, finite_fitnesses
from .types import Candidate

log = logging.getLogger(__name__)

#: Test hook: SIGKILL the process once the archive holds this many rows (mid-generation, before the checkpoint).
KILL_AFTER_ENV = "GPTNAS_FAULT_KILL_AFTER_EVALS"


class TimedEvaluate:
    """Picklable wrapper: ``genome -> (EvalResult, seconds)``; accepts evaluators that return a DEAP tuple."""

    def __init__(self, evaluate: Callable):
        self.evaluate = evaluate

    def __call__(self, genome):
        t0 = time.perf_counter()
        res = self.evaluate(genome)
        if not isinstance(res, EvalResult):  # a plain DEAP evaluate returning (fitness,) or a number
            res = EvalResult(float(res[0] if isinstance(res, (tuple, list)) else res))
        return res, time.perf_counter() - t0


class Search:
    """Runs a method on a toolbox until the budget of unique evaluations is spent.

    Args:
        space: the search space (used for canonical keys only).
        toolbox: a DEAP toolbox with ``evaluate`` and ``map`` plus what ``method`` uses.
        method: a :class:`~gptnas.search.methods.Method`.
        budget: number of unique architectures to evaluate.
        rngs: the run's random generators (checkpointed with the state).
        on_checkpoint: called with the state after every generation (writes the run directory).
        max_generations: optional cap on generations (the paper's protocol counts generations).
        stall_limit: stop when this many generations in a row produce nothing new to evaluate.
    """

    def __init__(self, space: SearchSpace, toolbox: base.Toolbox, method, budget: int, rngs: Rngs,
                 on_checkpoint: Callable[[SearchState], None] | None = None, max_generations: int | None = None,
                 stall_limit: int = 200, progress: bool = True):
        self.space, self.toolbox, self.method = space, toolbox, method
        self.budget, self.rngs = int(budget), rngs
        self.on_checkpoint = on_checkpoint
        self.max_generations, self.stall_limit, self.progress = max_generations, stall_limit, progress
        kill = os.environ.get(KILL_AFTER_ENV)
        self._kill_after = int(kill) if kill else None

    # ------------------------------------------------------------------------------------------------------------
    def run(self, state: SearchState | None = None) -> SearchState:
        """Run (or continue) the search; returns the final state."""
        state = state or SearchState()
        bar = tqdm(total=self.budget, initial=min(state.evaluations, self.budget), unit="eval",
                   desc=f"{self.method.name}", disable=not self.progress, dynamic_ncols=True)
        t_session = time.perf_counter()
        elapsed0 = state.elapsed_s
        try:
            while state.status == "running":
                self.method.begin_generation(self.toolbox, state, progress=state.evaluations / self.budget)
                if state.population is None:
                    offspring = self.method.initial(self.toolbox, state)
                else:
                    offspring = self.method.offspring(self.toolbox, state)
                clock = lambda: elapsed0 + time.perf_counter() - t_session
                evaluated, n_new = self.evaluate(state, offspring, clock)
                bar.update(n_new)
                state.population = self.method.survivors(self.toolbox, state, evaluated)
                state.hof.update(evaluated)
                self.record(state, n_new)
                state.generation += 1
                state.stall = 0 if n_new else state.stall + 1
                state.status = self.next_status(state)
                self.method.end_generation(self.toolbox, state)
                state.elapsed_s = clock()
                if self.on_checkpoint:
                    self.on_checkpoint(state)
        finally:
            bar.close()
        return state

    def next_status(self, state: SearchState) -> str:
        if state.evaluations >= self.budget:
            return "complete"
        if self.max_generations is not None and state.generation >= self.max_generations:
            return "generations"
        if state.stall >= self.stall_limit:
            log.warning("no new architecture in %d generations; stopping at %d of %d evaluations",
                        state.stall, state.evaluations, self.budget)
            return "stalled"
        return "running"

    def evaluate(self, state: SearchState, individuals: list, clock: Callable[[], float]) -> tuple[list, int]:
        """Give every individual a fitness: from the cache, or by evaluating new architectures in one
        ``toolbox.map`` call. New architectures past the budget are dropped (not evaluated, not returned).

        Returns ``(individuals that have a fitness, number of new evaluations)``.
        """
        remaining = self.budget - state.evaluations
        keys = [self.space.key(ind) for ind in individuals]
        new: dict[str, object] = {}
        for ind, key in zip(individuals, keys):
            if key not in state.cache and key not in new and len(new) < remaining:
                new[key] = ind
        # Evaluators and backends may draw from the global generators (Ray's start-up does; a serial training
        # evaluator may seed torch): shield the search's own draws so serial and parallel runs stay identical.
        saved = self.rngs.global_state()
        try:
            results = list(self.toolbox.map(TimedEvaluate(self.toolbox.evaluate),
                                            [Candidate(i, getattr(i, "parent_key", None))
                                             for i in new.values()]))
        finally:
            self.rngs.set_global_state(saved)
        for (key, ind), (res, dt) in zip(new.items(), results):
            state.add_evaluation(key, res, dt, clock(), getattr(ind, "origin", ""))
            if res.failed:
                log.warning("evaluation of %s failed: %s", key, res.failed)
            if self._kill_after is not None and state.evaluations >= self._kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        out = []
        for ind, key in zip(individuals, keys):
            if key in state.cache:
                ind.fitness.values = (state.cache[key].fitness,)
                out.append(ind)
        return out, len(new)

    def record(self, state: SearchState, n_new: int) -> None:
        fits = finite_fitnesses(state.population or [])
        best = state.best_row()
        state.logbook.record(
            gen=state.generation, nevals=n_new, evals=state.evaluations,
            max=max(fits) if fits else math.nan, avg=sum(fits) / len(fits) if fits else math.nan,
            best=best["fitness"] if best else math.nan, best_test=best["test"] if best else math.nan)
        log.debug("gen %d: %d new, %d/%d evaluations, best fitness %.4f", state.generation, n_new,
                 state.evaluations, self.budget, best["fitness"] if best else math.nan)
