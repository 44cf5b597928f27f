"""Spaces with rules of their own, as a user writes them (tests and experiments/constrained_space.py import them).

- :data:`rules`: 8 positions × {conv3, conv5, pool}; a chain may not start with a pool nor hold two pools in a row
  (a rule between positions, as real macro spaces have): 2,448 of 6,561 genomes (37 %) are members.
- :data:`rare`: the same positions; a member has exactly two pools, none at the ends, and at least four conv5:
  330 of 6,561 (5.0 %); its ``sample`` draws until it meets one, as users write it.
"""
from __future__ import annotations

import random

from gptnas.spaces import CategoricalSequenceSpace

OPS = ["conv3", "conv5", "pool"]


class NoDoublePool(CategoricalSequenceSpace):
    """Chains without a leading pool and without two pools in a row."""

    def __init__(self):
        super().__init__([OPS] * 8, name="rules8")

    def is_valid(self, arch) -> bool:
        return super().is_valid(arch) and arch[0] != 2 and not any(a == b == 2 for a, b in zip(arch, arch[1:]))


class RareMembers(CategoricalSequenceSpace):
    """5 % of the genomes are members; ``sample`` rejection-samples."""

    def __init__(self):
        super().__init__([OPS] * 8, name="rare8")

    def is_valid(self, arch) -> bool:
        return super().is_valid(arch) and list(arch).count(2) == 2 and arch[0] != 2 and arch[-1] != 2 \
            and list(arch).count(1) >= 4

    def sample(self, rng: random.Random) -> list[int]:
        while True:
            g = [rng.randrange(3) for _ in range(8)]
            if self.is_valid(g):
                return g


rules = NoDoublePool()
rare = RareMembers()
plain = CategoricalSequenceSpace([OPS] * 8, name="plain8")  # the same positions without rules: the control


def evaluate(arch) -> float:
    """The README's chain8 score: conv5 pays early, pooling late, two pools in a row cost 2."""
    score = sum((2 - i / 4) * (op == 1) + (i / 4) * (op == 2) for i, op in enumerate(arch))
    return score - 2 * sum(a == b == 2 for a, b in zip(arch, arch[1:]))


def evaluate_b(arch) -> float:
    """Another task on the same space (a source for transfer): conv3 pays late, pooling early."""
    return sum((i / 4) * (op == 0) + (2 - i / 4) * (op == 2) for i, op in enumerate(arch))


def _nk_table(seed: int):
    import numpy as np
    return np.random.default_rng(seed).random((8, 3, 3, 3))


_NK = {}


def nk(arch, seed: int = 0) -> float:
    """A rugged landscape (NK, K = 2): position i scores by its option and its two right neighbours' (wrapping),
    from a table drawn with ``seed``; the mean of the eight, in [0, 1]."""
    t = _NK.get(seed)
    if t is None:
        t = _NK[seed] = _nk_table(seed)
    return float(sum(t[i, arch[i], arch[(i + 1) % 8], arch[(i + 2) % 8]] for i in range(8)) / 8)


def nk_b(arch) -> float:
    """Another NK landscape on the same space (a source task for ``nk``)."""
    return nk(arch, seed=1)


def evaluate_related(arch) -> float:
    """A task related to ``evaluate`` (a source for transfer): the same preferences with other weights."""
    return sum((1.5 - i / 5) * (op == 1) + (0.2 + i / 5) * (op == 2) for i, op in enumerate(arch))


def nk_related(arch) -> float:
    """A landscape related to ``nk``: 70 % its table, 30 % another's."""
    return 0.7 * nk(arch) + 0.3 * nk(arch, seed=2)
