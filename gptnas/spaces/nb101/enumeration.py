"""Enumerating the 423,624 unique NAS-Bench-101 cells with numpy, and the valid edge patterns the grammar uses."""
from __future__ import annotations

import functools
from typing import Iterator

from .graph import (MAX_EDGES, NUM_VERTICES, Matrix, relabellings, upper_index, edge_weights,
                    to_official)


def _upper_bits(n: int, max_edges: int):
    """Every upper-triangular ``n``-vertex matrix with at most ``max_edges`` edges, as a ``(M, n(n-1)/2)`` uint8
    array of its row-major upper-triangle bits (column 0 = edge (0,1))."""
    import numpy as np

    m = n * (n - 1) // 2
    codes = np.arange(1 << m, dtype=np.int32)
    bits = np.empty((len(codes), m), dtype=np.uint8)
    for k in range(m):  # column by column: a (2**21, 21) int temporary would take 350 MB
        bits[:, k] = (codes >> (m - 1 - k)) & 1
    return bits[bits.sum(1, dtype=np.int8) <= max_edges]


def full_dags(n: int, max_edges: int):
    """The matrices of :func:`_upper_bits` on which every vertex is on an input→output path (no pruning needed):
    every vertex but the output has an out-edge and every vertex but the input an in-edge (official
    ``is_full_dag``). ``(M, n(n-1)/2)`` uint8."""
    import numpy as np

    bits = _upper_bits(n, max_edges)
    idx = upper_index(n)
    ok = np.ones(len(bits), dtype=bool)
    for v in range(n):
        if v < n - 1:
            ok &= bits[:, [idx[(v, j)] for j in range(v + 1, n)]].any(1)
        if v > 0:
            ok &= bits[:, [idx[(i, v)] for i in range(v)]].any(1)
    return bits[ok]


def _score_table(n: int):
    """``(n(n-1)/2, P)`` float64: column p holds the score (see :func:`canonical`) of each upper edge after
    relabelling p, so ``bits @ table`` scores all P relabellings at once. Scores stay below 2**42: exact in float64."""
    import numpy as np

    w, idx = edge_weights(n), upper_index(n)
    perms = relabellings(n)
    table = np.zeros((len(idx), len(perms)))
    for p, pos in enumerate(perms):
        for (i, j), k in idx.items():
            table[k, p] = w[(pos[i], pos[j])]
    return table


def _label_digits(k: int):
    """``(3**k, k)`` int: every labelling of ``k`` interior vertices, row ``c`` = base-3 digits of ``c`` (vertex 1
    most significant), so a labelling's code is its row number."""
    import numpy as np

    return (np.arange(3 ** k)[:, None] // 3 ** np.arange(k - 1, -1, -1)) % 3


def _label_table(n: int):
    """``(P, 3**(n-2))`` int: entry ``[p, c]`` is the code of labelling ``c`` after relabelling ``p``."""
    import numpy as np

    k = n - 2
    place = 3 ** np.arange(k - 1, -1, -1)
    return np.stack([_label_digits(k) @ place[[pos[v] - 1 for v in range(1, n - 1)]] for pos in relabellings(n)])


def _unique_graphs(n: int, max_edges: int, chunk: int = 1 << 15):
    """The canonical unlabelled full DAGs on ``n`` vertices and their automorphisms.

    Returns:
        ``bits`` ``(U, n(n-1)/2)`` uint8 of the canonical forms, and ``aut`` ``(U, P)`` bool: relabelling p maps the
        graph onto itself.
    """
    import numpy as np

    table = _score_table(n)
    bits = full_dags(n, max_edges)
    m = bits.shape[1]
    best = [(bits[s:s + chunk].astype(np.float64) @ table).min(1) for s in range(0, len(bits), chunk)]
    # The minimal score is below 2**m (identity is upper triangular), so it is the canonical form's own bits.
    can = np.unique(np.concatenate(best)).astype(np.int64) if best else np.zeros(0, np.int64)
    canon_bits = ((can[:, None] >> np.arange(m - 1, -1, -1)) & 1).astype(np.uint8)
    aut = (canon_bits.astype(np.float64) @ table) == can[:, None]
    return canon_bits, aut


def enumerate_arrays(max_vertices: int = NUM_VERTICES, max_edges: int = MAX_EDGES):
    """Unique cells in blocks: yields ``(n, bits, labels)`` with ``bits`` ``(G, n(n-1)/2)`` canonical unlabelled
    graphs that share one automorphism group and ``labels`` ``(L, n-2)`` the labellings that are minimal in their
    orbit under it; every pair ``(graph, labelling)`` is one unique cell, already in :func:`canonical` form."""
    import numpy as np

    if not 2 <= max_vertices <= NUM_VERTICES:
        raise ValueError(f"max_vertices must be in 2..{NUM_VERTICES}, got {max_vertices}")
    for n in range(2, max_vertices + 1):
        bits, aut = _unique_graphs(n, max_edges)
        if not len(bits):
            continue
        lab = _label_table(n)  # (P, 3**k)
        digits = _label_digits(n - 2)
        codes = np.arange(len(digits))
        groups, which = np.unique(aut, axis=0, return_inverse=True)
        for g, perms in enumerate(groups):
            minimal = (lab[perms] >= codes).all(0)  # a labelling no automorphism makes smaller
            yield n, bits[which.ravel() == g], digits[minimal]


def _bits_to_matrix(n: int, row) -> Matrix:
    m = [[0] * n for _ in range(n)]
    for (i, j), k in upper_index(n).items():
        m[i][j] = int(row[k])
    return m


def enumerate_unique(max_vertices: int = NUM_VERTICES, max_edges: int = MAX_EDGES
                     ) -> Iterator[tuple[list[str], Matrix]]:
    """Every unique valid cell once, as official ``(ops, matrix)`` (pruned, canonical; see :func:`to_official`).

    Method (the official ``generate_graphs`` enumerates every labelled matrix and hashes it; this dedupes first):
    for each vertex count n = 2..7, take every upper-triangular matrix with ≤ 9 edges on which all vertices are on an
    input→output path; score all (n-2)! relabellings with one matrix product and keep the minimal one per graph
    (unlabelled canonical forms); the relabellings that keep that form are the graph's automorphisms; a labelling is
    kept iff no automorphism maps it to a smaller one. Each (graph, kept labelling) is one isomorphism class.
    Measured on one (shared) core: 0.3 to 1 s of numpy, plus 2 to 7 s to build the 423,624 Python pairs
    (``experiments/nb101_enumerate.py``).
    """
    for n, bits, labels in enumerate_arrays(max_vertices, max_edges):
        for row in bits:
            matrix = _bits_to_matrix(n, row)
            for lab in labels:
                yield to_official(matrix, [int(o) for o in lab])


def count_unique(max_vertices: int = NUM_VERTICES, max_edges: int = MAX_EDGES) -> int:
    """Number of cells :func:`enumerate_unique` yields (423,624 with the defaults), without listing them."""
    return sum(len(bits) * len(labels) for _, bits, labels in enumerate_arrays(max_vertices, max_edges))


@functools.lru_cache(maxsize=1)
def valid_patterns():
    """Sorted int64 array of every valid 21-bit edge pattern (bit 20 = edge (0,1), genome order): validity does not
    depend on the ops. Used by the grammar (:meth:`NB101Space.next_tokens`)."""
    import numpy as np

    n, idx = NUM_VERTICES, upper_index(NUM_VERTICES)
    m = len(idx)
    codes = np.arange(1 << m, dtype=np.int64)
    a = {(i, j): ((codes >> (m - 1 - k)) & 1).astype(bool) for (i, j), k in idx.items()}
    fwd = [np.ones(len(codes), bool)] + [None] * (n - 1)
    for j in range(1, n):
        fwd[j] = np.logical_or.reduce([fwd[i] & a[(i, j)] for i in range(j)])
    bwd = [None] * (n - 1) + [np.ones(len(codes), bool)]
    for i in range(n - 2, -1, -1):
        bwd[i] = np.logical_or.reduce([a[(i, j)] & bwd[j] for j in range(i + 1, n)])
    keep = [f & b for f, b in zip(fwd, bwd)]
    edges = sum((a[(i, j)] & keep[i] & keep[j]).astype(np.int8) for i, j in idx)
    return codes[fwd[n - 1] & (edges <= MAX_EDGES)]
