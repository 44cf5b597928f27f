"""Principle-guided variation: DEAP operators that follow a score per (position, option) — design principles'
evidence — inside a (refined) categorical space.

- :func:`init_principled`: a population drawn without repeats with probability ``∝ exp(score / temperature)``,
  where a cell's score is the sum of its options' scores;
- :func:`mut_principled`: of the parent's neighbours in the space (one position changed to another allowed
  option) not evaluated yet, the best-scored (ties drawn at random); the space's own mutation when every
  neighbour has been evaluated.
"""
from __future__ import annotations

import itertools
import math
import random
from typing import Callable

import numpy as np

from ...core.types import make_individual
from ...errors import SpaceError

#: Spaces larger than this are sampled, not enumerated, by :func:`init_principled`.
ENUMERATE_MAX = 200_000


def cell_score(scores: np.ndarray, genome) -> float:
    return float(sum(scores[i, o] for i, o in enumerate(genome)))


def init_principled(n: int, space, scores: Callable[[], np.ndarray], rng: random.Random, temperature: float = 1.0):
    """``n`` distinct individuals (``origin="principles"``) of ``space`` (fewer if it is smaller)."""
    s = scores()
    allowed = getattr(space, "allowed", None) or [list(range(len(o))) for o in space.options]
    gen = np.random.default_rng(rng.getrandbits(63))
    if math.prod(len(a) for a in allowed) <= ENUMERATE_MAX:
        cells = [c for c in itertools.product(*allowed) if space.is_valid(list(c))]
        if not cells:
            raise SpaceError(f"the refined space {space!r} has no member (is_valid rejects every architecture it "
                             "allows): allow more options (lapt.max_options) or loosen the space's rules")
        w = np.array([cell_score(s, c) for c in cells]) / temperature
        p = np.exp(w - w.max())
        picks = gen.choice(len(cells), size=min(n, len(cells)), replace=False, p=p / p.sum())
        genomes = [list(cells[i]) for i in picks]
    else:  # per position, independently: the same distribution when the space has no validity constraint
        genomes, seen = [], set()
        for _ in range(200 * n):  # bounded: a space whose rules reject most draws must not hang the search
            if len(genomes) >= n:
                break
            g = []
            for i, a in enumerate(allowed):
                w = np.array([s[i, o] for o in a]) / temperature
                p = np.exp(w - w.max())
                g.append(int(a[gen.choice(len(a), p=p / p.sum())]))
            if space.is_valid(g) and tuple(g) not in seen:
                seen.add(tuple(g))
                genomes.append(g)
        for _ in range(10 * (n - len(genomes))):  # topped up with the space's own members
            if len(genomes) >= n:
                break
            g = space.sample(rng)
            if tuple(g) not in seen:
                seen.add(tuple(g))
                genomes.append(g)
    return [make_individual(g, "principles") for g in genomes]


def mut_principled(individual, space, scores: Callable[[], np.ndarray], evaluated: Callable[[], set],
                   rng: random.Random):
    """DEAP mutation in place: the best-scored unevaluated neighbour (see the module docstring). ``evaluated()``
    returns the keys evaluated so far. Returns ``(individual,)`` with ``origin="principles"``."""
    s, seen = scores(), evaluated()
    allowed = getattr(space, "allowed", None) or [list(range(len(o))) for o in space.options]
    parent = list(individual)
    best, best_score = [], -math.inf
    for i, a in enumerate(allowed):
        for o in a:
            if o == parent[i]:
                continue
            child = parent[:i] + [o] + parent[i + 1:]
            if not space.is_valid(child) or space.key(child) in seen:
                continue
            sc = cell_score(s, child)
            if sc > best_score + 1e-12:
                best, best_score = [child], sc
            elif abs(sc - best_score) <= 1e-12:
                best.append(child)
    individual[:] = rng.choice(best) if best else space.mutate(parent, rng)
    del individual.fitness.values
    individual.origin = "principles"
    return (individual,)
