"""The GPT's local move: change one component of an architecture, to the alternative the GPT finds most likely.

Every neighbour of the parent — one position's token replaced by another the grammar allows there, the whole
sequence still valid, not evaluated yet — is scored by its full-sequence likelihood under the GPT in one batched
pass, and one is drawn from ``softmax(loglik / temperature)``. Fine-tuned on the search's best architectures, the
GPT is the search's own model of good architectures (the idea of the cross-entropy method and of
estimation-of-distribution algorithms), and this move asks it which single change looks best — as local as REA's
mutation, instead of re-sampling 40 % of the positions.

With ``background`` the score is TPE's ratio l(x) / g(x) instead (Bergstra et al. 2011): l the GPT, g the
per-position token frequencies of every architecture evaluated so far (:class:`TokenFrequencies`). After a few
random evaluations the best ones share tokens partly because the search drew those tokens often; dividing by g
takes that out (the default's ``gptnas.contrast=1``; what it does at 25–200 queries is in BENCHMARKS.md, issue 13).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Sequence

import numpy as np

from ....spaces.base import END

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ....lm.proposer import GPTProposer


class TokenFrequencies:
    """Per-position token frequencies of the token sequences seen so far, add-one smoothed over a vocabulary of
    ``vocab_size`` tokens: ``g(x) = prod_i (count_i(x_i) + 1) / (n + vocab_size)``, the denominator of TPE's l/g."""

    def __init__(self, vocab_size: int):
        self.vocab_size, self.n = vocab_size, 0
        self.counts: dict[int, dict[str, int]] = {}

    def add(self, sequences: Iterable[Sequence[str]]) -> None:
        for tokens in sequences:
            for i, t in enumerate(tokens):
                at = self.counts.setdefault(i, {})
                at[t] = at.get(t, 0) + 1
            self.n += 1

    def log_prob(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        """log g (nats) of each token list; float64 array (n,)."""
        z = self.n + self.vocab_size
        logs: dict = {}  # (position, token) -> its log frequency: neighbours share all but one, so compute each once
        out = np.empty(len(sequences), dtype=np.float64)
        for j, c in enumerate(sequences):
            total = 0.0
            for i, t in enumerate(c):
                v = logs.get((i, t))
                if v is None:
                    v = logs[(i, t)] = np.log((self.counts.get(i, {}).get(t, 0) + 1) / z)
                total = total + v
            out[j] = total
        return out


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
                  fallback: Optional[Callable] = None, background: Optional[Callable] = None):
    """DEAP mutation in place: the GPT's most likely single change (see the module docstring); ``evaluated()``
    returns the keys already evaluated. When every neighbour has been evaluated, ``fallback(individual)`` (the
    classic mutation, which may jump further) makes the child instead. ``background(token_lists)``, when given, is
    subtracted from the GPT's log-likelihoods (nats, one per candidate): ``contrast * log g`` for TPE's l/g.
    Returns ``(individual,)`` with ``origin = "gpt-local"``."""
    space = proposer.space
    tokens = space.to_tokens(list(individual))
    seen = evaluated()
    cands = [c for c in neighbour_tokens(proposer, tokens) if space.key(space.from_tokens(c)) not in seen]
    if not cands and fallback is not None:
        return fallback(individual)
    if cands:
        scores = proposer.score_tokens(cands)
        if background is not None:
            scores = scores - background(cands)
        from ....lm.fill import choose  # torch: only once a GPT proposes
        individual[:] = space.from_tokens(cands[choose(scores, rng, temperature, top_k)])
    del individual.fitness.values
    individual.origin = "gpt-local"
    return (individual,)
