"""Initial population drawn from the GPT instead of uniformly from the space."""
from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # the proposer pulls in torch: only for type hints
    from ....lm.proposer import GPTProposer


log = logging.getLogger(__name__)


def init_gpt_population(container, proposer: "GPTProposer", n: int, rng: random.Random, temperature: float = 1.0,
                        top_k: Optional[int] = None, unique: bool = True, max_rounds: int = 20) -> list:
    """``n`` individuals of type ``container`` sampled from the GPT (batched), each with ``origin = "gpt"``.

    With ``unique`` (default) architectures are distinct by ``space.key``; if the model is too peaked to give
    ``n`` distinct ones within ``max_rounds`` batches, the rest are filled with repeats and a warning is logged.
    """
    space = proposer.space
    genomes: list[list[int]] = []
    seen: set[str] = set()
    for _ in range(max_rounds if unique else 1):
        need = n - len(genomes)
        if need <= 0:
            break
        for g in proposer.sample(need if not unique else max(need, 8), rng, temperature, top_k):
            k = space.key(g)
            if unique and k in seen:
                continue
            seen.add(k)
            genomes.append(g)
            if len(genomes) == n:
                break
    if len(genomes) < n:
        log.warning("GPT gave only %d distinct architectures of %d; filling with repeats", len(genomes), n)
        genomes += proposer.sample(n - len(genomes), rng, temperature, top_k)
    pop = []
    for g in genomes:
        ind = container(g)
        ind.origin = "gpt"
        pop.append(ind)
    return pop
