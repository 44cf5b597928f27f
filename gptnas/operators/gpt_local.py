"""The GPT's local move: change one component of an architecture, to the alternative the GPT finds most likely.

Every neighbour of the parent — one position's token replaced by another the grammar allows there, the whole
sequence still valid, not evaluated yet — is scored by its full-sequence likelihood under the GPT in one batched
pass, and one is drawn from ``softmax(loglik / temperature)``. Fine-tuned on the search's best architectures, the
GPT is the search's own model of good architectures (the idea of the cross-entropy method and of
estimation-of-distribution algorithms), and this move asks it which single change looks best — as local as REA's
mutation, instead of re-sampling 40 % of the positions.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable, Optional

from ..lm.fill import choose
from ..spaces.base import END

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ..lm.proposer import GPTProposer


def neighbour_tokens(proposer: "GPTProposer", tokens: list[str]) -> list[list[str]]:
    """Token sequences one position away from ``tokens`` that the grammar accepts whole."""
    out = []
    g = proposer.grammar
    free = getattr(proposer.space, "positions_independent", False)  # then every neighbour is a member
    for i, t in enumerate(tokens):
        for alt in sorted(g.allowed(tuple(tokens[:i]), end=False)[0]):
            if alt == t:
                continue
            cand = tokens[:i] + [alt] + tokens[i + 1:]
            if free or g.is_valid(cand):
                out.append(cand)
    return out


def mut_gpt_local(individual, proposer: "GPTProposer", rng: random.Random,
                  evaluated: Callable[[], set] = set, temperature: float = 1.0, top_k: Optional[int] = None,
                  fallback: Optional[Callable] = None):
    """DEAP mutation in place: the GPT's most likely single change (see the module docstring); ``evaluated()``
    returns the keys already evaluated. When every neighbour has been evaluated, ``fallback(individual)`` (the
    classic mutation, which may jump further) makes the child instead. Returns ``(individual,)`` with
    ``origin = "gpt-local"``."""
    space = proposer.space
    tokens = space.to_tokens(list(individual))
    seen = evaluated()
    cands = [c for c in neighbour_tokens(proposer, tokens) if space.key(space.from_tokens(c)) not in seen]
    if not cands and fallback is not None:
        return fallback(individual)
    if cands:
        scores = proposer.score_tokens(cands)
        individual[:] = space.from_tokens(cands[choose(scores, rng, temperature, top_k)])
    del individual.fitness.values
    individual.origin = "gpt-local"
    return (individual,)
