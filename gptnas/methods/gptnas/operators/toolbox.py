"""Register the GPT operators into an existing ``deap.base.Toolbox`` next to the classic ones."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Optional

from ....spaces.base import SearchSpace
from .crossover import cx_gpt_repair
from .init import init_gpt_population
from .reconstruct import Rate, mut_gpt_reconstruct, reconstruct_many
from .schedule import LinearDecay

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ....lm.proposer import GPTProposer


def _population(n: int, container, proposer: "GPTProposer", rng: random.Random, temperature: float,
                top_k: Optional[int], unique: bool) -> list:
    # n first so that toolbox.population_gpt(50) works like DEAP's toolbox.population(n=50).
    return init_gpt_population(container, proposer, n, rng, temperature, top_k, unique)


def register_gpt_variation(toolbox, space: SearchSpace, proposer: "GPTProposer", rng: random.Random, rate: Rate,
                           temperature: float = 1.0, top_k: Optional[int] = None, container=None,
                           crossover: bool = True, unique: bool = True) -> None:
    """Register what both the method and a user's own toolbox get: ``mutate_many`` (:func:`reconstruct_many`),
    ``population_gpt(n)`` (:func:`init_gpt_population`) and, with ``crossover`` and a GPT that can repair a junction,
    ``mate`` (:func:`cx_gpt_repair`)."""
    if container is None:
        from ....core.types import Individual as container  # the engine's creator type
    toolbox.register("mutate_many", reconstruct_many, proposer=proposer, rng=rng, rate=rate,
                     temperature=temperature, top_k=top_k)
    if crossover and hasattr(proposer, "reconstruct_tokens"):
        toolbox.register("mate", cx_gpt_repair, proposer=proposer, space=space, rng=rng,
                         temperature=temperature, top_k=top_k)
    toolbox.register("population_gpt", _population, container=container, proposer=proposer, rng=rng,
                     temperature=temperature, top_k=top_k, unique=unique)


def register_gpt_operators(toolbox, space: SearchSpace, proposer: "GPTProposer", rng: random.Random,
                           rate: Optional[Rate] = None, temperature: float = 1.0, top_k: Optional[int] = None,
                           container=None, unique: bool = True) -> Rate:
    """Register ``mutate`` (:func:`mut_gpt_reconstruct`), ``mate`` (:func:`cx_gpt_repair`),
    ``mutate_many`` (:func:`reconstruct_many`) and ``population_gpt(n)`` (:func:`init_gpt_population`).

    Args:
        rate: elimination rate, a float or a schedule; default ``LinearDecay(0.4, 0.0)``.
        container: individual type for ``population_gpt``; default :data:`gptnas.core.types.Individual`.
    Returns:
        the rate/schedule, so the engine can call ``update(progress)`` on it each generation.
    """
    rate = LinearDecay() if rate is None else rate
    register_gpt_variation(toolbox, space, proposer, rng, rate, temperature, top_k, container, unique=unique)
    toolbox.register("mutate", mut_gpt_reconstruct, proposer=proposer, rng=rng, rate=rate,
                     temperature=temperature, top_k=top_k)
    return rate
