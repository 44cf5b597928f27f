"""The search-space interface: what an architecture is, independent of how it is scored or proposed.

An architecture ("genome") is a plain ``list[int]`` so that it can live inside a DEAP individual (a ``list``
subclass) and so that DEAP's own sequence operators (``tools.cxTwoPoint``, ``tools.mutUniformInt``) apply to
fixed-length spaces unchanged. Everything else — tokens for the GPT, canonical keys, modules — goes through the space.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Sequence

#: Token that closes a sequence; :meth:`SearchSpace.next_tokens` offers it where an architecture may end.
END = "<end>"


class SearchSpace(ABC):
    """Small interface every search space implements.

    Subclasses must implement :meth:`sample`, :meth:`is_valid`, :meth:`to_tokens`, :meth:`from_tokens`,
    :meth:`next_tokens` and :attr:`vocabulary`. The defaults for :meth:`key`, :meth:`parse`, :meth:`mutate` and
    :meth:`crossover` work for most spaces.
    """

    name: str = "space"

    @abstractmethod
    def sample(self, rng: random.Random) -> list[int]:
        """A uniformly random valid architecture."""

    @abstractmethod
    def is_valid(self, arch: Sequence[int]) -> bool:
        """Whether ``arch`` is a member of the space."""

    @abstractmethod
    def to_tokens(self, arch: Sequence[int]) -> list[str]:
        """The architecture as a token sequence (no special tokens)."""

    @abstractmethod
    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Inverse of :meth:`to_tokens`; raises :class:`~gptnas.errors.InvalidArchitecture` if not a member."""

    @abstractmethod
    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        """The tokens the grammar allows after ``prefix`` (including :data:`END` where the sequence may stop).

        This is what lets a generative proposer decode only valid architectures.
        """

    @property
    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every token the space can produce, in a fixed order."""

    # Defaults -------------------------------------------------------------------------------------------------
    def key(self, arch: Sequence[int]) -> str:
        """Canonical string used for caching, archives and summaries (two equal architectures, one key)."""
        return " ".join(self.to_tokens(arch))

    def parse(self, text: str) -> list[int]:
        """Inverse of :meth:`key`: read an architecture a user typed."""
        return self.from_tokens(text.split())

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """A classic mutation: by default, resample until the result differs and is valid."""
        for _ in range(100):
            child = self.sample(rng)
            if list(child) != list(arch):
                return child
        return list(arch)

    def crossover(self, a: Sequence[int], b: Sequence[int], rng: random.Random) -> tuple[list[int], list[int]]:
        """A classic crossover: one-point on the genomes, keeping the parents where the children are invalid."""
        n = min(len(a), len(b))
        if n < 2:
            return list(a), list(b)
        cut = rng.randrange(1, n)
        c1, c2 = list(a[:cut]) + list(b[cut:]), list(b[:cut]) + list(a[cut:])
        return (c1 if self.is_valid(c1) else list(a)), (c2 if self.is_valid(c2) else list(b))

    def to_module(self, arch: Sequence[int], input_shape: tuple[int, int, int], num_classes: int):
        """A ``torch.nn.Module`` mapping ``(N, *input_shape)`` images to ``(N, num_classes)`` logits."""
        raise NotImplementedError(f"search space {self.name!r} cannot build networks yet")

    def describe(self) -> dict:
        """Plain-data description stored in run configs and model caches."""
        return {"name": self.name, "vocabulary": list(self.vocabulary)}
