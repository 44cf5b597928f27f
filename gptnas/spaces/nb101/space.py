"""The NAS-Bench-101 search space (:class:`NB101Space`)."""
from __future__ import annotations

import random
from typing import Sequence

from ...errors import InvalidArchitecture
from ..categorical import CategoricalSequenceSpace
from .enumeration import valid_patterns
from .graph import (EDGES, NUM_INTERIOR, NUM_VERTICES, OP_NAMES, OPS, cell_or_raise, cell_key,
                    parse_key, pruned_cell, spec_to_genome)
from .network import build_network

EDGE_NAMES = [f"e{i}{j}" for i, j in EDGES]
VERTEX_NAMES = [f"v{t}" for t in range(1, NUM_VERTICES - 1)]


class NB101Space(CategoricalSequenceSpace):
    """NAS-Bench-101 cells; the genome is 21 edge bits + 5 op ids (see the module docstring).

    Tokens are ``e01=0`` .. ``e56=1`` then ``v1=conv3x3`` .. ``v5=maxpool3x3``; the grammar offers an edge bit only
    if some completion is a valid cell. :meth:`key` is the canonical pruned cell (:func:`cell_key`); :meth:`parse`
    reads keys and token sequences. Mutation is the benchmark's REA mutation: flip each edge with probability 1/7,
    change each op with probability 1/5, until the child is valid and a different cell.

    Args:
        stem_channels, num_stacks, cells_per_stack: the network :meth:`to_module` builds (official: 128, 3, 3).
    """

    def __init__(self, stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3):
        super().__init__([["0", "1"]] * len(EDGES) + [list(OP_NAMES)] * NUM_INTERIOR,
                         names=EDGE_NAMES + VERTEX_NAMES, name="nb101")
        self.stem_channels, self.num_stacks, self.cells_per_stack = stem_channels, num_stacks, cells_per_stack

    def sample(self, rng: random.Random) -> list[int]:
        """Random bits and ops, redrawn until valid (as the official ``random_spec``; not uniform over cells)."""
        while True:
            g = [rng.randrange(2) for _ in EDGES] + [rng.randrange(len(OPS)) for _ in range(NUM_INTERIOR)]
            if pruned_cell(g) is not None:
                return g

    def is_valid(self, arch: Sequence[int]) -> bool:
        return super().is_valid(arch) and pruned_cell(list(arch)) is not None

    @property
    def grammar_exact(self) -> bool:  # next_tokens offers only bits some valid cell completes
        return type(self).is_valid is NB101Space.is_valid

    def to_tokens(self, arch: Sequence[int]) -> list[str]:
        if not self.is_valid(arch):  # a genome that is no cell has no tokens (its key would be no cell's either)
            raise InvalidArchitecture(f"not a valid NAS-Bench-101 cell: {list(arch)!r}")
        return super().to_tokens(arch)

    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        g = super().from_tokens(tokens)
        cell_or_raise(g)
        return g

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        import numpy as np

        i = len(prefix)
        if i >= len(EDGES):
            return super().next_tokens(prefix)
        head = 0  # the prefix's bits as a number, first edge most significant
        for j, t in enumerate(prefix):
            if t not in self._lookup[j]:
                raise InvalidArchitecture(f"token {t!r} is not allowed at position {j} in space {self.name!r}")
            head = head << 1 | self._lookup[j][t]
        valid = valid_patterns()
        free = len(EDGES) - i - 1  # bits after this one
        out = []
        for b in (0, 1):
            lo = ((head << 1) | b) << free
            if np.searchsorted(valid, lo) < np.searchsorted(valid, lo + (1 << free)):
                out.append(self._tokens[i][b])
        return out

    def key(self, arch: Sequence[int]) -> str:
        return cell_key(*cell_or_raise(arch))

    def parse(self, text: str) -> list[int]:
        """A genome from a key (``011/001/000:conv3x3``) or a token sequence (``e01=1 e02=0 ...``)."""
        g = self.from_tokens(text.split()) if "=" in text else spec_to_genome(*parse_key(text))
        cell_or_raise(g)
        return g

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        parent = self.key(arch)
        for _ in range(100):
            child = [1 - b if rng.random() < 1 / NUM_VERTICES else b for b in arch[:len(EDGES)]]
            child += [rng.choice([o for o in range(len(OPS)) if o != op]) if rng.random() < 1 / NUM_INTERIOR else op
                      for op in arch[len(EDGES):]]
            if self.is_valid(child) and self.key(child) != parent:
                return child
        return list(arch)

    def to_module(self, arch, input_shape, num_classes):
        return build_network(arch, tuple(input_shape), num_classes, stem_channels=self.stem_channels,
                             num_stacks=self.num_stacks, cells_per_stack=self.cells_per_stack)

    def describe(self) -> dict:
        return {**super().describe(), "stem_channels": self.stem_channels, "num_stacks": self.num_stacks,
                "cells_per_stack": self.cells_per_stack}
