"""A space's grammar as masks over the vocabulary: what a decoder may emit after a prefix.

:class:`Grammar` remembers the look-ups (a GPT asks the same prefixes again and again) and forgets them when the
space changes its grammar (a :class:`~gptnas.spaces.Subspace` widened or narrowed during a search counts its
changes in ``grammar_version``).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..errors import InvalidArchitecture
from ..spaces.base import END, grammar_is_exact
from .vocab import Vocab

_MEMO_MAX = 200_000  # look-ups remembered (bounded for large variable-length spaces)


class Grammar:
    """``allowed(prefix)`` → (tokens the space allows next, BoolTensor mask of shape (vocab,)).

    A space whose ``is_valid`` has rules the grammar does not enforce (a user's constraint between positions) is
    not ``exact``: a sequence the grammar accepts is then a member only if :meth:`is_member` says so.
    """

    def __init__(self, space, vocab: Vocab):
        self.space, self.vocab = space, vocab
        self._memo: dict[tuple, tuple[frozenset, torch.Tensor]] = {}
        self._version = getattr(space, "grammar_version", 0)
        self.exact = grammar_is_exact(space)

    def is_member(self, tokens: Sequence[str]) -> bool:
        """Whether a sequence the grammar accepts is a member of the space (always, when the grammar is exact)."""
        if self.exact:
            return True
        try:
            return bool(self.space.is_valid(self.space.from_tokens(list(tokens))))
        except InvalidArchitecture:
            return False

    def allowed(self, prefix: tuple, end: bool = True) -> tuple[frozenset, torch.Tensor]:
        """Tokens allowed after ``prefix`` (a tuple of tokens) and their mask; ``end=False`` drops :data:`END`."""
        version = getattr(self.space, "grammar_version", 0)
        if version != self._version:
            self._memo.clear()
            self._version = version
        key = (prefix, end)
        hit = self._memo.get(key)
        if hit is None:
            toks = self.space.next_tokens(list(prefix))
            if not end:
                toks = [t for t in toks if t != END]
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            if toks:
                mask[self.vocab.ids(toks)] = True
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            hit = self._memo[key] = (frozenset(toks), mask)
        return hit

    def is_valid(self, tokens: Sequence[str]) -> bool:
        """Whether ``tokens`` is a whole architecture: the grammar accepts it and it is a member of the space."""
        prefix: list[str] = []
        for t in tokens:
            if t not in self.allowed(tuple(prefix))[0]:
                return False
            prefix.append(t)
        return END in self.allowed(tuple(prefix))[0] and self.is_member(tokens)
