"""Filling gaps in a token sequence by whole-candidate scoring: list the fillings the grammar allows, then draw one
by its full-sequence likelihood (see :mod:`gptnas.lm.proposer` for why)."""
from __future__ import annotations

import itertools
import random
from typing import Optional, Sequence

import numpy as np

from ..spaces.base import END
from .grammar import Grammar


class _TooMany(Exception):
    """Raised inside enumeration when the candidates exceed the limit."""


def enumerate_fillings(grammar: Grammar, tokens: Sequence[str], gaps: Sequence[int],
                       limit: int) -> Optional[list[list[str]]]:
    """All grammar-valid fillings of ``gaps`` in ``tokens`` (same length), or ``None`` if more than ``limit``.

    In depth-first order: the gaps left to right, each gap's options sorted."""
    if getattr(grammar.space, "positions_independent", False):
        return _product_fillings(grammar, tokens, gaps, limit)
    gapset, n = set(gaps), len(tokens)
    # Cheap bound along the original path (exact for fixed-option spaces such as NB201).
    bound, prefix = 1, []
    for i, t in enumerate(tokens):
        if i in gapset:
            bound *= max(1, len(grammar.allowed(tuple(prefix), end=False)[0]))
            if bound > limit:
                return None
        prefix.append(t)
    out: list[list[str]] = []
    budget = [limit * (n + 1) * 8]  # node visits, guards spaces whose bound above is loose

    def rec(prefix: list[str]) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooMany
        i = len(prefix)
        if i == n:
            if END in grammar.allowed(tuple(prefix))[0] and grammar.is_member(prefix):
                out.append(list(prefix))
                if len(out) > limit:
                    raise _TooMany
            return
        if i in gapset:
            for t in sorted(grammar.allowed(tuple(prefix), end=False)[0]):
                rec(prefix + [t])
        elif tokens[i] in grammar.allowed(tuple(prefix))[0]:
            rec(prefix + [tokens[i]])

    try:
        rec([])
    except _TooMany:
        return None
    return out


def _product_fillings(grammar: Grammar, tokens: Sequence[str], gaps: Sequence[int],
                      limit: int) -> Optional[list[list[str]]]:
    """:func:`enumerate_fillings` where the options at one position do not depend on the others: the Cartesian
    product of each gap's options, in the same order, without walking the grammar per candidate."""
    tokens = list(tokens)
    gapset = set(gaps)
    if END not in grammar.allowed(tuple(tokens))[0]:  # the wrong length
        return []
    options = []
    for i, t in enumerate(tokens):
        allowed = grammar.allowed(tuple(tokens[:i]), end=False)[0]
        if i in gapset:
            options.append(sorted(allowed))
        elif t not in allowed:
            return []
    total = 1
    for o in options:
        total *= len(o)
    if total > limit:
        return None
    order = sorted(gapset)
    out = []
    for combo in itertools.product(*options):
        cand = list(tokens)
        for i, t in zip(order, combo):
            cand[i] = t
        out.append(cand)
    return out


def choose(loglik: np.ndarray, rng: random.Random, temperature: float, top_k: Optional[int]) -> int:
    """Index drawn from ``softmax(loglik / temperature)`` over the ``top_k`` best (0 temperature = argmax)."""
    order = np.argsort(-loglik, kind="stable")
    if temperature <= 0:
        return int(order[0])
    if top_k is not None and top_k > 0:
        order = order[:top_k]
    z = loglik[order] / temperature
    w = np.exp(z - z.max())
    u = rng.random() * float(w.sum())
    acc = 0.0
    for j, wj in zip(order, w):
        acc += float(wj)
        if u < acc:
            return int(j)
    return int(order[-1])
