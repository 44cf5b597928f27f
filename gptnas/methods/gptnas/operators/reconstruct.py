"""GPT-NAS reconstruction mutation: eliminate some components, let the GPT regenerate them from the rest.

Each token position is eliminated independently with probability ``r`` (a float, or a zero-argument callable
such as :class:`~gptnas.operators.schedule.LinearDecay` for the paper's ``r = 0.4 (1 - t/T)``); the proposer
regenerates the eliminated positions conditioned on every kept one (see :mod:`gptnas.lm.proposer`).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ....lm.proposer import GPTProposer


Rate = Union[float, Callable[[], float]]


def _rate(rate: Rate) -> float:
    return float(rate() if callable(rate) else rate)


def _eliminate(n: int, r: float, rng: random.Random) -> list[int]:
    """Positions of a length-``n`` sequence eliminated independently with probability ``r``."""
    return [i for i in range(n) if rng.random() < r]


def mut_gpt_reconstruct(individual, proposer: "GPTProposer", rng: random.Random, rate: Rate = 0.4,
                        temperature: float = 1.0, top_k: Optional[int] = None, distinct: bool = True):
    """DEAP mutation: regenerate a random subset of ``individual``'s positions with the GPT, in place.

    Args:
        individual: a DEAP individual (list subclass holding a genome of ``proposer.space``).
        rate: elimination probability per position, or a callable returning it.
        temperature, top_k: how the GPT picks among the candidate fillings.
        distinct: exclude the parent's own filling when another valid one exists, so an elimination always
            yields a new architecture (no evaluation is spent on a copy).
    Returns:
        ``(individual,)`` with fitness deleted and ``origin = "gpt"`` (also when nothing was eliminated, in which
        case the genome is unchanged).
    """
    positions = _eliminate(len(proposer.space.to_tokens(individual)), _rate(rate), rng)
    if positions:
        individual[:] = proposer.reconstruct(list(individual), positions, rng, temperature, top_k,
                                             exclude_original=distinct)
    del individual.fitness.values
    individual.origin = "gpt"
    return (individual,)


def reconstruct_many(individuals: Sequence, proposer: "GPTProposer", rng: random.Random, rate: Rate = 0.4,
                     temperature: float = 1.0, top_k: Optional[int] = None, distinct: bool = True) -> list:
    """:func:`mut_gpt_reconstruct` applied to many individuals with one batched GPT pass; returns them.

    Cheaper than calling the mutation per individual when mutating a whole offspring batch (one forward for all
    candidates instead of one per individual); draws from ``rng`` in a different order, so results differ.
    """
    r = _rate(rate)
    todo, where = [], []
    for ind in individuals:
        pos = _eliminate(len(proposer.space.to_tokens(ind)), r, rng)
        if pos:
            todo.append(pos)
            where.append(ind)
    if where:
        new = proposer.reconstruct_many([list(ind) for ind in where], todo, rng, temperature, top_k,
                                        exclude_original=distinct)
        for ind, g in zip(where, new):
            ind[:] = g
    for ind in individuals:
        del ind.fitness.values
        ind.origin = "gpt"
    return list(individuals)
