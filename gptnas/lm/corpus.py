"""Training data for the GPT.

- Pre-training corpus: unique valid architectures sampled from the space with a seeded rng; the GPT learns the
  grammar (and the space's prior) from them. For NB201 ``n`` may be the whole space (15,625).
- Fine-tuning / transfer data: :func:`top_architectures` picks the best architectures by some score (e.g. a
  benchmark column of a source dataset).

Sequences given to the model are ``<bos> t1 .. tn <end>`` (:func:`to_sequences`).
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..spaces.base import END, SearchSpace, count_members
from .vocab import BOS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusSettings:
    """How the pre-training corpus is drawn.

    Attributes:
        n: number of unique architectures (fewer if the space runs out; a warning says so). ``None``: follows the
            space's size (:func:`corpus_size`).
        seed: seed of the sampling rng.
    """

    n: Optional[int] = None
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


LARGE_CORPUS = 15_625   #: corpus of a space too large to enumerate (or of unknown size)
ENUMERABLE = 100_000    #: spaces up to this many architectures count as small enough to enumerate
SMALL_CORPUS = 2_048    #: corpus of an enumerable space: enough to learn its grammar, which is all it can teach


def space_size(space: SearchSpace) -> Optional[int]:
    """The number of architectures in ``space`` where it says (``space.size()``), else None."""
    size = getattr(space, "size", None)
    try:
        return int(size()) if callable(size) else None
    except (TypeError, ValueError, NotImplementedError):
        return None


def corpus_size(space: SearchSpace, n: Optional[int]) -> int:
    """The pre-training corpus size: ``n`` when given; otherwise ``SMALL_CORPUS`` draws (at most the whole space,
    its members where its rules reject some genomes) for a space small enough to enumerate — drawn uniformly, its
    corpus holds the grammar and nothing else, so more of it only costs time — and ``LARGE_CORPUS`` for any other."""
    if n is not None:
        return n
    size = count_members(space, space_size(space), ENUMERABLE)
    if size is not None and size <= ENUMERABLE:
        return min(size, SMALL_CORPUS)
    return LARGE_CORPUS


def sample_architectures(space: SearchSpace, n: int, seed: int = 0, max_tries: int | None = None) -> list[list[int]]:
    """``n`` distinct (by ``space.key``) architectures drawn with ``random.Random(seed)``, in draw order.

    Stops after ``max_tries`` draws (default ``50 n + 1000``, far beyond the ≈ n ln n needed to collect all of a
    small space like NB201), or after ten times as many draws in a row as it has found architectures without a
    new one (the space has run out: with 15,625 found, the chance that one more is left but missed is e^-10), and
    returns what it has, with a warning.
    """
    rng = random.Random(seed)
    max_tries = 50 * n + 1000 if max_tries is None else max_tries
    seen: set[str] = set()
    archs: list[list[int]] = []
    draws = misses = 0
    for draws in range(1, max_tries + 1):
        if len(archs) >= n or misses > max(1000, 10 * len(archs)):
            break
        a = list(space.sample(rng))
        k = space.key(a)
        if k not in seen:
            seen.add(k)
            archs.append(a)
            misses = 0
        else:
            misses += 1
    if len(archs) < n:
        log.warning("corpus: found only %d distinct architectures of %d requested in %d draws",
                    len(archs), n, draws)
    return archs


def to_sequences(space: SearchSpace, archs: Sequence[Sequence[int]]) -> list[list[str]]:
    """Architectures as model sequences ``[<bos>, t1, .., tn, <end>]``."""
    return [[BOS] + space.to_tokens(a) + [END] for a in archs]


def top_architectures(values: np.ndarray, index_to_genome: Callable[[int], Sequence[int]], n: int) -> list[list[int]]:
    """The ``n`` genomes with the highest ``values`` (NaN ignored), best first; ties keep the lower index first.

    Args:
        values: float array (num_archs,), e.g. validation accuracy indexed by benchmark index.
        index_to_genome: maps an index of ``values`` to its genome.
        n: how many to return (fewer if fewer values are finite).
    """
    values = np.asarray(values, dtype=float)
    finite = np.flatnonzero(~np.isnan(values))
    order = finite[np.argsort(-values[finite], kind="stable")]
    return [list(index_to_genome(int(i))) for i in order[:n]]
