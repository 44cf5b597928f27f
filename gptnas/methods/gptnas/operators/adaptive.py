"""Adaptive operator selection: the mutation operators of a search used in proportion to their measured success.

A child *succeeds* when it evaluates better than its parent. Each operator's success rate is estimated as
``(successes + 1) / (trials + 2)``, and an operator is drawn with probability proportional to it, mixed with a
uniform ``floor`` so none is ever starved of evidence (probability matching). When the GPT's move is not paying
off, the search notices and leans on the classic move, and the other way round. The archive's ``origin`` column
records which operator made each child; :meth:`OperatorMix.state_dict` goes into the checkpoint.

A stalled search (``stall`` evaluations without a new best) draws only ``stall_to``, one named operator, until
the next new best — the default search's classic mutation, whose drift leaves a basin the GPT's move keeps it in —
or uniformly. For ablations, ``credit="best"`` counts a child a success only when it beats the best evaluation
before it (BENCHMARKS.md has what each variant did).
"""
from __future__ import annotations

import math
import random
from typing import Callable, Optional


class OperatorMix:
    """A DEAP mutation drawing one of ``ops`` (``name -> mutation``) per child.

    Args:
        ops: mutation operators (each ``individual -> (individual,)``), by name.
        rng: the search's generator. floor: share of uniform choice (0.2: each of two operators at least 10 %).
        window: count only the last this many scored children (None: all of them).
        credit: ``"parent"`` (a child succeeds by beating its parent) or ``"best"`` (by beating the best so far).
        stall: after this many evaluations without a new best, choose uniformly (None: never), or
            ``stall_to``, the name of one operator, only that one (until the next new best).
        key: the space's ``key`` (children are matched to their evaluations by key).
    """

    def __init__(self, ops: dict[str, Callable], rng: random.Random, key: Callable, floor: float = 0.2,
                 window: Optional[int] = None, credit: str = "parent", stall: Optional[int] = None,
                 stall_to: str = "uniform"):
        self.ops, self.rng, self.key, self.floor, self.window = ops, rng, key, floor, window
        self.credit, self.stall, self.stall_to = credit, stall, stall_to
        self.best: Optional[float] = None  # the search's best fitness so far
        self.since_best = 0                 # evaluations since it last improved
        self.stats = {name: [0, 0] for name in ops}  # successes, trials (within the window)
        self.recent: list[tuple[str, int]] = []      # (operator, success) of the last `window` children
        self.pending: dict[str, tuple[str, float]] = {}
        self.seen = 0

    def probabilities(self) -> dict[str, float]:
        if self.stall and self.since_best >= self.stall:
            if self.stall_to in self.ops:
                return {n: float(n == self.stall_to) for n in self.ops}
            return {n: 1 / len(self.ops) for n in self.ops}
        rates = {n: (s + 1) / (t + 2) for n, (s, t) in self.stats.items()}
        total = sum(rates.values())
        k = len(rates)
        return {n: self.floor / k + (1 - self.floor) * r / total for n, r in rates.items()}

    def __call__(self, individual):
        parent = individual.fitness.values[0] if individual.fitness.valid else None
        p = self.probabilities()
        u, acc, name = self.rng.random(), 0.0, next(iter(self.ops))
        for n, q in p.items():
            acc += q
            if u < acc:
                name = n
                break
        (child,) = self.ops[name](individual)
        if parent is not None:
            self.pending[self.key(child)] = (name, parent)
        return (child,)

    def update(self, history) -> None:
        """Score the children evaluated since the last call (``history``: the search's History)."""
        for e in list(history)[self.seen:]:
            made = self.pending.pop(e.key, None)
            best_before = self.best
            if not e.failed and math.isfinite(e.fitness) and (self.best is None or e.fitness > self.best):
                self.best, self.since_best = e.fitness, 0
            else:
                self.since_best += 1
            if made is not None:
                name, parent = made
                bar = parent if self.credit == "parent" or best_before is None else best_before
                won = int(not e.failed and e.fitness > bar)
                self.stats[name][1] += 1
                self.stats[name][0] += won
                if self.window:
                    self.recent.append((name, won))
                    if len(self.recent) > self.window:  # forget the oldest: what paid off early may not now
                        old, old_won = self.recent.pop(0)
                        self.stats[old][1] -= 1
                        self.stats[old][0] -= old_won
        self.seen = len(history)

    def state_dict(self) -> dict:
        return {"stats": {n: list(v) for n, v in self.stats.items()}, "pending": dict(self.pending),
                "seen": self.seen, "recent": [list(r) for r in self.recent],
                "best": self.best, "since_best": self.since_best}

    def load_state_dict(self, state: dict) -> None:
        self.stats = {n: list(state["stats"].get(n, [0, 0])) for n in self.ops}
        self.pending = {k: tuple(v) for k, v in state.get("pending", {}).items()}
        self.seen = state.get("seen", 0)
        self.recent = [tuple(r) for r in state.get("recent", [])]
        self.best, self.since_best = state.get("best"), state.get("since_best", 0)
