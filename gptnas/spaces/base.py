"""The search-space interface: what an architecture is, independent of how it is scored or proposed.

An architecture ("genome") is a plain ``list[int]`` so that it can live inside a DEAP individual (a ``list``
subclass) and so that DEAP's own sequence operators (``tools.cxTwoPoint``, ``tools.mutUniformInt``) apply to
fixed-length spaces unchanged. Everything else — canonical keys, tokens for a generative model, networks — goes
through the space.

Two levels:

- :class:`SearchSpace`, all any method needs: ``sample``, ``is_valid``, ``key`` / ``parse``, ``mutate``,
  ``crossover``. Only the first two are required; the others have defaults for ``list[int]`` genomes.
- :class:`GrammarSpace` adds the token grammar that methods with a generative model (the GPT) ask for:
  ``to_tokens``, ``from_tokens``, ``next_tokens``, ``vocabulary``. :func:`has_grammar` says whether a space has it.
  :class:`~gptnas.spaces.CategoricalSequenceSpace` provides it for free.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Sequence

from ..errors import InvalidArchitecture

#: Token that closes a sequence; :meth:`GrammarSpace.next_tokens` offers it where an architecture may end.
END = "<end>"
GRAMMAR = ("to_tokens", "from_tokens", "next_tokens", "vocabulary")


class SearchSpace(ABC):
    """Small interface every search space implements: :meth:`sample` and :meth:`is_valid` at least."""

    name: str = "space"

    @abstractmethod
    def sample(self, rng: random.Random) -> list[int]:
        """A random valid architecture (uniform where the space can afford it)."""

    @abstractmethod
    def is_valid(self, arch: Sequence[int]) -> bool:
        """Whether ``arch`` is a member of the space."""

    # Defaults -------------------------------------------------------------------------------------------------
    def key(self, arch: Sequence[int]) -> str:
        """Canonical string used for caching, archives and summaries (two equal architectures, one key).

        Default: the tokens joined by spaces when the space has a grammar, else the genome's integers."""
        if hasattr(self, "to_tokens"):
            return " ".join(self.to_tokens(arch))
        return " ".join(str(int(v)) for v in arch)

    def parse(self, text: str) -> list[int]:
        """Inverse of :meth:`key`: read an architecture a user typed."""
        if hasattr(self, "from_tokens"):
            return self.from_tokens(text.split())
        try:
            arch = [int(v) for v in text.split()]
        except ValueError:
            raise InvalidArchitecture(f"cannot read {text!r} as an architecture of space {self.name!r}: "
                                      "expected integers separated by spaces") from None
        if not self.is_valid(arch):
            raise InvalidArchitecture(f"{text!r} is not a member of space {self.name!r}")
        return arch

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """A classic mutation: by default, resample until the result differs and is valid (the parent unchanged
        after 100 draws: a repeat, which costs no evaluation)."""
        for _ in range(100):
            child = self.sample(rng)
            if list(child) != list(arch) and self.is_valid(child):
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
        raise NotImplementedError(f"search space {self.name!r} cannot build networks")

    def describe(self) -> dict:
        """Plain-data description stored in run directories and model caches (same description, same space)."""
        d = {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}"}
        if has_grammar(self):
            d["vocabulary"] = list(self.vocabulary)
        return d


class GrammarSpace(SearchSpace):
    """A space with a token grammar, for generative proposers (see :mod:`gptnas.lm`)."""

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

    def describe(self) -> dict:
        return {"name": self.name, "vocabulary": list(self.vocabulary)}


def fingerprint(space) -> str:
    """Short sha256 of ``space.describe()``: a run records it, so a resume or a transfer from the run can tell
    whether it is handed the space the run searched (a sub-space has its parent's)."""
    import hashlib
    import json
    return hashlib.sha256(json.dumps(space.describe(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def grammar_is_exact(space) -> bool:
    """Whether every token sequence ``space``'s grammar accepts is a member: its ``is_valid`` adds no rule the
    grammar does not enforce (the space says so with ``grammar_exact``). Otherwise what a generative model decodes
    under the grammar is checked with ``is_valid`` before it is proposed."""
    return bool(getattr(space, "grammar_exact", False))


def count_members(space, size: int | None, limit: int = 100_000) -> int | None:
    """How many of a fixed-length space's ``size`` genomes (its ``size()``, before any rule) are members: ``size``
    where ``is_valid`` adds no rule of its own, else counted by enumerating them when ``size <= limit``; None when it
    cannot say."""
    options = getattr(space, "options", None)
    if size is None or grammar_is_exact(space):
        return size
    if options is None or size > limit:
        return None
    import itertools
    allowed = getattr(space, "allowed", None) or [range(len(o)) for o in options]  # a sub-space: its own options
    return sum(bool(space.is_valid(list(g))) for g in itertools.product(*allowed))


def has_grammar(space) -> bool:
    """Whether ``space`` has the token grammar a generative model needs (duck-typed: the four members)."""
    return all(hasattr(space, m) for m in GRAMMAR)


def require_grammar(space, who: str) -> None:
    """Raise :class:`~gptnas.errors.ConfigError` naming what is missing when ``space`` has no token grammar."""
    from ..errors import ConfigError

    missing = [m for m in GRAMMAR if not hasattr(space, m)]
    if missing:
        raise ConfigError(f"{who} needs a space with a token grammar, and space {space.name!r} lacks "
                          f"{', '.join(missing)}: use gptnas.spaces.CategoricalSequenceSpace or subclass "
                          "gptnas.spaces.GrammarSpace")
