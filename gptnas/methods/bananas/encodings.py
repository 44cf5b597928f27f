"""What BANANAS' predictors read: architectures as one fixed-length float vector each.

- ``path`` (NAS-Bench-201, White et al.'s path encoding): one feature per sequence of operations an input→output
  path of the cell can carry, holding how many such paths the cell has. The cell has 4 nodes and 4 input→output
  routes (0→3, 0→1→3, 0→2→3, 0→1→2→3); a ``none`` edge carries nothing, so a route through one is no path, and
  the 4 live operations give 4 + 4² + 4³ = 84 features. (NASLib encodes ``none`` as an operation too, 155
  features; the paper's binary features become counts here, as two routes may carry the same sequence.)
- ``onehot`` on a fixed-length space (``space.options``): position i's option as a one-hot block of
  ``len(options[i])`` (a sub-space's genomes index its parent's options, so the blocks are the parent's).
- ``onehot`` on any other space (variable-length chains, a user's space with only ``sample`` / ``is_valid``):
  position i's token — ``space.to_tokens`` when the space has a grammar, else the genome's integer — one-hot over
  the tokens, plus a last slot meaning "the architecture has no position i"; padded to the longest architecture in
  the batch (every call encodes evaluated and candidate architectures together, so they share one width).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

ENCODINGS = ("auto", "path", "onehot")

# The genome is the op of each edge in the official string's order (gptnas.encodings.nb201.EDGES):
# (1←0), (2←0), (2←1), (3←0), (3←1), (3←2); op 0 is "none", 1..4 skip, conv 1x1, conv 3x3, avg pool.
_ROUTES = ((3,), (0, 4), (1, 5), (0, 2, 5))  # the edges of each input→output route, input first
_LIVE = 4  # operations that carry a signal
_OFFSET = {1: 0, 2: _LIVE, 3: _LIVE + _LIVE ** 2}  # where the paths of each length start
PATH_FEATURES = _LIVE + _LIVE ** 2 + _LIVE ** 3  # 84


def path_encoding(genome: Sequence[int]) -> np.ndarray:
    """``(84,)`` float32 of one NAS-Bench-201 cell (6 op indices, 0 = none): feature ``offset(len) + index`` counts
    the paths whose op sequence (ops 1..4 as base-4 digits, input side first) is that one. An all-``none`` cell is
    the zero vector; a cell whose only live edge is the skip 0→3 has a single 1, at feature 0."""
    out = np.zeros(PATH_FEATURES, dtype=np.float32)
    for edges in _ROUTES:
        ops = [int(genome[e]) for e in edges]
        if 0 in ops:  # a none edge cuts the route
            continue
        idx = 0
        for op in ops:
            idx = idx * _LIVE + (op - 1)
        out[_OFFSET[len(ops)] + idx] += 1
    return out


def onehot_encoding(genome: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    """``(sum(sizes),)`` float32: position i's option index as a one-hot block of ``sizes[i]``."""
    out = np.zeros(int(sum(sizes)), dtype=np.float32)
    start = 0
    for v, n in zip(genome, sizes):
        out[start + int(v)] = 1.0
        start += n
    return out


def is_nb201(space) -> bool:
    """Whether ``space`` is NAS-Bench-201's cell space or a sub-space of it (a sub-space keeps its parent's name)."""
    from ...spaces.nb201.space import NB201Space
    return getattr(space, "name", None) == "nb201" or isinstance(space, NB201Space) or \
        isinstance(getattr(space, "parent", None), NB201Space)


def choose_encoding(space, name: str = "auto") -> str:
    """``auto`` → ``path`` on NAS-Bench-201, else ``onehot``; ``path`` anywhere else is a one-line ConfigError."""
    from ...errors import ConfigError
    if name == "auto":
        return "path" if is_nb201(space) else "onehot"
    if name == "path" and not is_nb201(space):
        raise ConfigError(f"bananas option encoding=path reads NAS-Bench-201 cells and space "
                          f"{getattr(space, 'name', 'space')!r} is not one: use encoding=onehot (or auto)")
    return name


def encode(genomes: Sequence[Sequence[int]], space, kind: str) -> np.ndarray:
    """``(len(genomes), features)`` float32 array of encoding ``kind`` (``path`` | ``onehot``, see the module)."""
    if kind == "path":
        return np.stack([path_encoding(g) for g in genomes]) if len(genomes) else np.zeros((0, PATH_FEATURES),
                                                                                           np.float32)
    options = getattr(space, "options", None)
    if options is not None:
        sizes = [len(o) for o in options]
        return np.stack([onehot_encoding(g, sizes) for g in genomes]) if len(genomes) else \
            np.zeros((0, sum(sizes)), np.float32)
    return padded_onehot(genomes, space)


def padded_onehot(genomes: Sequence[Sequence[int]], space=None) -> np.ndarray:
    """``(n, L * (V + 1))`` float32: position j's token one-hot over V tokens, or the last slot where the
    architecture is shorter than L, the longest of ``genomes``. Tokens are ``space.to_tokens`` over
    ``space.vocabulary`` when the space has a grammar, else the genome's integers (those seen here)."""
    if hasattr(space, "to_tokens") and hasattr(space, "vocabulary"):
        vocab = {t: i for i, t in enumerate(space.vocabulary)}
        seqs = [[vocab[t] for t in space.to_tokens(g)] for g in genomes]
        size = len(vocab)
    else:
        values = sorted({int(v) for g in genomes for v in g})
        index = {v: i for i, v in enumerate(values)}
        seqs = [[index[int(v)] for v in g] for g in genomes]
        size = len(values)
    length = max((len(s) for s in seqs), default=0)
    out = np.zeros((len(seqs), length, size + 1), dtype=np.float32)
    out[:, :, size] = 1.0  # "no position here", cleared where there is one
    for i, s in enumerate(seqs):
        if s:
            out[i, np.arange(len(s)), size] = 0.0
            out[i, np.arange(len(s)), s] = 1.0
    return out.reshape(len(seqs), -1)


__all__ = ["ENCODINGS", "PATH_FEATURES", "choose_encoding", "encode", "is_nb201", "onehot_encoding",
           "padded_onehot", "path_encoding"]
