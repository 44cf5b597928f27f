"""GPT-NAS's pre-training corpus: layer sequences of random NAS-Bench-101 cells."""
from __future__ import annotations

import random

from .graph import NUM_UNIQUE_CELLS
from .network import layer_tokens


def nb101_corpus(n: int, seed: int = 0, input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs
                 ) -> list[list[str]]:
    """GPT pre-training corpus: the layer-token sequences of ``n`` distinct (by key) random valid cells, drawn with
    ``random.Random(seed)`` by :meth:`NB101Space.sample`, in draw order.

    Unfiltered: GPT-NAS pre-trains on the NAS-Bench-101 cells with validation accuracy ≥ 90 %, but no accuracies
    exist here. ``kwargs`` go to :func:`build_network`.
    """
    if not 0 <= n <= NUM_UNIQUE_CELLS:
        raise ValueError(f"n must be in 0..{NUM_UNIQUE_CELLS} (the number of unique cells), got {n}")
    from .space import NB101Space
    space, rng = NB101Space(), random.Random(seed)
    seen: set[str] = set()
    corpus = []
    while len(corpus) < n:
        g = space.sample(rng)
        k = space.key(g)
        if k not in seen:
            seen.add(k)
            corpus.append(layer_tokens(g, input_shape, **kwargs))
    return corpus
