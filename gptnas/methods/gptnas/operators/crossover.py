"""Crossover with GPT repair of the junction.

Plain one-point crossover glues a prefix of one parent to a suffix of the other. The tokens at the cut are where
the child is least supported by evidence: they were chosen in the context of a different other half (in an NB201
cell, the edges on either side of the cut connect sub-graphs that come from different parents), and in spaces
with a real grammar the splice can be invalid outright. So after the splice the GPT regenerates the two positions
at the junction, plus every position where the child breaks the grammar, conditioned on all the other tokens of
the child (whole-candidate scoring, see :mod:`gptnas.lm.proposer`). The child keeps each parent's half intact
away from the cut, so crossover still mixes building blocks, while the seam becomes one the model finds likely.
A child that no filling can make valid keeps the genome of the parent whose prefix it has.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Optional, Sequence

from ....spaces.base import SearchSpace

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ....lm.proposer import GPTProposer


def _invalid_positions(space: SearchSpace, tokens: Sequence[str]) -> list[int]:
    """Positions whose token the grammar forbids after the tokens before it."""
    bad, prefix = [], []
    for i, t in enumerate(tokens):
        if t not in space.next_tokens(prefix):
            bad.append(i)
        prefix.append(t)
    return bad


def cx_gpt_repair(ind1, ind2, proposer: "GPTProposer", space: SearchSpace, rng: random.Random,
                  temperature: float = 1.0, top_k: Optional[int] = None):
    """DEAP crossover: one-point crossover on the token sequences, then GPT regeneration of the junction.

    Modifies both individuals in place; returns ``(ind1, ind2)`` with fitness deleted and
    ``origin = "gpt-crossover"``. Parameters after the individuals are normally bound with ``toolbox.register``.
    """
    t1, t2 = space.to_tokens(ind1), space.to_tokens(ind2)
    n = min(len(t1), len(t2))
    if n >= 2:
        cut = rng.randrange(1, n)
        kids = [t1[:cut] + t2[cut:], t2[:cut] + t1[cut:]]
        gaps = [sorted({cut - 1, cut, *_invalid_positions(space, k)}) for k in kids]
        fixed = proposer.reconstruct_tokens(kids, gaps, rng, temperature, top_k)
        parents = [list(ind1), list(ind2)]
        for ind, parent, new in zip((ind1, ind2), parents, fixed):
            ind[:] = space.from_tokens(new) if new is not None else parent
    del ind1.fitness.values, ind2.fitness.values
    ind1.origin = ind2.origin = "gpt-crossover"
    return ind1, ind2
