"""A ready search space for the common case: a fixed-length sequence of categorical choices.

>>> space = CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")

defines an 8-layer chain space in one line. Tokens are ``"<position>=<option>"`` so a token names both where it
stands and what it chose; the grammar allows exactly the options of the next position.
"""
from __future__ import annotations

import random
from typing import Sequence

from ..errors import InvalidArchitecture
from .base import END, SearchSpace


class CategoricalSequenceSpace(SearchSpace):
    """Fixed-length genome; position ``i`` takes an index into ``options[i]``.

    Args:
        options: one list of option names per position (names must not contain spaces or ``=``).
        names: one name per position (default ``p0``, ``p1``, ...).
        name: the space's name.
    """

    def __init__(self, options: Sequence[Sequence[str]], names: Sequence[str] | None = None, name: str = "sequence"):
        if not options or any(len(o) == 0 for o in options):
            raise ValueError("every position needs at least one option")
        self.options = [list(map(str, o)) for o in options]
        self.names = list(names) if names is not None else [f"p{i}" for i in range(len(options))]
        if len(self.names) != len(self.options):
            raise ValueError("one name per position")
        self.name = name
        self._tokens = [[f"{n}={o}" for o in opts] for n, opts in zip(self.names, self.options)]
        self._lookup = [{t: j for j, t in enumerate(ts)} for ts in self._tokens]

    @property
    def length(self) -> int:
        return len(self.options)

    def sample(self, rng: random.Random) -> list[int]:
        return [rng.randrange(len(o)) for o in self.options]

    def is_valid(self, arch: Sequence[int]) -> bool:
        return len(arch) == self.length and all(
            isinstance(v, int) and 0 <= v < len(o) for v, o in zip(arch, self.options))

    def to_tokens(self, arch: Sequence[int]) -> list[str]:
        if not self.is_valid(arch):
            raise InvalidArchitecture(f"not a member of space {self.name!r}: {list(arch)!r}")
        return [self._tokens[i][v] for i, v in enumerate(arch)]

    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        if len(tokens) != self.length:
            raise InvalidArchitecture(
                f"space {self.name!r} needs {self.length} tokens, got {len(tokens)}: {' '.join(tokens)!r}")
        try:
            return [self._lookup[i][t] for i, t in enumerate(tokens)]
        except KeyError as e:
            raise InvalidArchitecture(f"token {e.args[0]!r} is not allowed there in space {self.name!r}") from None

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        i = len(prefix)
        return list(self._tokens[i]) if i < self.length else [END]

    @property
    def vocabulary(self) -> list[str]:
        return [t for ts in self._tokens for t in ts]

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """Change one position to a different option (positions with one option are never picked)."""
        child = list(arch)
        free = [i for i, o in enumerate(self.options) if len(o) > 1]
        if not free:
            return child
        i = rng.choice(free)
        child[i] = rng.choice([j for j in range(len(self.options[i])) if j != child[i]])
        return child

    def describe(self) -> dict:
        return {"name": self.name, "names": self.names, "options": self.options}
