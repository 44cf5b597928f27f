"""NAS-Bench-101 cells as graphs: genome ↔ (matrix, labels), pruning, validity, and the exact canonical form
that makes isomorphic cells share one key (see :mod:`gptnas.spaces.nb101` for the cell and the genome)."""
from __future__ import annotations

import functools
import itertools
import re
from typing import Optional, Sequence

from ...errors import InvalidArchitecture

#: Official op names, in genome id order.
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: Short op names used in tokens and keys (``parse`` reads both).
OP_NAMES = ("conv3x3", "conv1x1", "maxpool3x3")
NUM_VERTICES = 7
MAX_EDGES = 9
NUM_INTERIOR = NUM_VERTICES - 2
#: Upper-triangle positions ``(src, dst)`` in genome order (row-major).
EDGES = tuple((i, j) for i in range(NUM_VERTICES) for j in range(i + 1, NUM_VERTICES))
GENOME_LENGTH = len(EDGES) + NUM_INTERIOR  # 26
#: The published number of unique valid cells (Ying et al. 2019).
NUM_UNIQUE_CELLS = 423_624

Matrix = list[list[int]]
Labels = tuple[int, ...]  # op ids of the interior vertices 1..n-2 of an n-vertex cell


# Genome <-> (matrix, labels) ------------------------------------------------------------------------------------
def genome_matrix(genome: Sequence[int]) -> Matrix:
    """The 7×7 adjacency matrix of a genome's 21 edge bits."""
    m = [[0] * NUM_VERTICES for _ in range(NUM_VERTICES)]
    for (i, j), bit in zip(EDGES, genome[:len(EDGES)]):
        m[i][j] = int(bit)
    return m


def spec_to_genome(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> list[int]:
    """Embed an ``n``-vertex cell (n ≤ 7, upper triangular) in a genome: vertices ``0..n-2`` keep their number, the
    output becomes vertex 6, and the unused vertices ``n-1..5`` get no edges and op 0."""
    n = len(matrix)
    if not 2 <= n <= NUM_VERTICES or len(labels) != n - 2:
        raise InvalidArchitecture(f"a NAS-Bench-101 cell has 2 to 7 vertices and n-2 ops, got {n} and {len(labels)}")
    where = list(range(n - 1)) + [NUM_VERTICES - 1]  # old vertex -> genome vertex
    full = [[0] * NUM_VERTICES for _ in range(NUM_VERTICES)]
    for i in range(n):
        for j in range(n):
            if matrix[i][j]:
                if j <= i:
                    raise InvalidArchitecture(f"the adjacency matrix must be strictly upper triangular: {matrix!r}")
                full[where[i]][where[j]] = 1
    ops = list(labels) + [0] * (NUM_INTERIOR - len(labels))
    return [full[i][j] for i, j in EDGES] + ops


def prune(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> Optional[tuple[Matrix, Labels]]:
    """Remove the vertices not on an input→output path (official ``ModelSpec._prune``).

    Args:
        matrix: ``n × n`` upper-triangular 0/1 adjacency; vertex 0 is the input, ``n-1`` the output.
        labels: op ids of vertices ``1..n-2``.
    Returns:
        ``(pruned matrix, pruned labels)``, or ``None`` when the output is not reachable from the input.
    """
    n = len(matrix)
    fwd = [False] * n  # reachable from the input; one pass suffices since edges go forward
    fwd[0] = True
    for j in range(1, n):
        fwd[j] = any(fwd[i] and matrix[i][j] for i in range(j))
    bwd = [False] * n  # reaches the output
    bwd[n - 1] = True
    for i in range(n - 2, -1, -1):
        bwd[i] = any(matrix[i][j] and bwd[j] for j in range(i + 1, n))
    if not fwd[n - 1]:
        return None
    keep = [v for v in range(n) if fwd[v] and bwd[v]]
    return ([[int(matrix[i][j]) for j in keep] for i in keep],
            tuple(int(labels[v - 1]) for v in keep[1:-1]))


def num_edges(matrix: Sequence[Sequence[int]]) -> int:
    return sum(map(sum, matrix))


def pruned_cell(genome: Sequence[int]) -> Optional[tuple[Matrix, Labels]]:
    """The genome's pruned cell, or ``None`` if it is not a valid cell (wrong shape, unreachable output, > 9 edges)."""
    if len(genome) != GENOME_LENGTH or any(b not in (0, 1) for b in genome[:len(EDGES)]) \
            or any(o not in (0, 1, 2) for o in genome[len(EDGES):]):
        return None
    cell = prune(genome_matrix(genome), genome[len(EDGES):])
    if cell is None or num_edges(cell[0]) > MAX_EDGES:
        return None
    return cell


# Canonical form ---------------------------------------------------------------------------------------------------
# Order of relabellings: a relabelled matrix is scored by its upper-triangle bits read row-major as a binary number,
# (0,1) the most significant; a relabelling that puts an edge below the diagonal scores above every upper-triangular
# one. The canonical form has the smallest score, then the smallest ops (base 3, vertex 1 most significant). The
# numpy enumeration scores the same way, so what it yields is already canonical.
def upper_index(n: int) -> dict[tuple[int, int], int]:
    return {e: k for k, e in enumerate((i, j) for i in range(n) for j in range(i + 1, n))}


@functools.lru_cache(maxsize=None)
def edge_weights(n: int) -> dict[tuple[int, int], int]:
    """Score of an edge at ``(a, b)`` of an ``n``-vertex matrix (see the comment above)."""
    idx = upper_index(n)
    m = len(idx)
    w = {}
    for (a, b), k in idx.items():
        w[(a, b)] = 1 << (m - 1 - k)
        w[(b, a)] = 1 << (m + k)
    return w


@functools.lru_cache(maxsize=None)
def relabellings(n: int) -> tuple[tuple[int, ...], ...]:
    """Every relabelling of an ``n``-vertex cell that fixes input and output: ``pos[old vertex] = new vertex``."""
    return tuple((0,) + p + (n - 1,) for p in itertools.permutations(range(1, n - 1)))


def canonical(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> tuple[Matrix, Labels]:
    """The canonical relabelling of a (pruned) cell: equal for two cells iff they are isomorphic.

    Exact: tries every order of the ``n-2`` interior vertices (at most 120).
    """
    n = len(matrix)
    w = edge_weights(n)
    edges = [(i, j) for i in range(n) for j in range(n) if matrix[i][j]]
    best = None
    for pos in relabellings(n):
        score = sum(w[(pos[i], pos[j])] for i, j in edges)
        new = [0] * (n - 2)
        for v in range(1, n - 1):
            new[pos[v] - 1] = labels[v - 1]
        cand = (score, tuple(new), pos)
        if best is None or cand[:2] < best[:2]:
            best = cand
    pos = best[2]
    out = [[0] * n for _ in range(n)]
    for i, j in edges:
        out[pos[i]][pos[j]] = 1
    return out, best[1]


def cell_key(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> str:
    """Readable canonical key, e.g. ``0110/0001/0001/0000:conv3x3,maxpool3x3`` (rows of the canonical pruned
    matrix, then the interior ops)."""
    m, ops = canonical(matrix, labels)
    return "/".join("".join(map(str, row)) for row in m) + ":" + ",".join(OP_NAMES[o] for o in ops)


_OP_IDS = {**{n: i for i, n in enumerate(OP_NAMES)}, **{n: i for i, n in enumerate(OPS)}}
_KEY = re.compile(r"([01]+(?:/[01]+)*):([A-Za-z0-9x,\-]*)")


def parse_key(text: str) -> tuple[Matrix, Labels]:
    """Inverse of :func:`cell_key`: ``(matrix, labels)`` (not checked for validity)."""
    m = _KEY.fullmatch(text.strip())
    rows = m[1].split("/") if m else []
    ops = [o for o in m[2].split(",") if o] if m else []
    if not m or any(len(r) != len(rows) for r in rows) or len(ops) != len(rows) - 2 \
            or any(o not in _OP_IDS for o in ops):
        raise InvalidArchitecture(
            f"{text!r} is not a NAS-Bench-101 cell key: expected n rows of n bits joined by '/', ':', then n-2 ops "
            f"from {', '.join(OP_NAMES)} joined by ',', e.g. '011/001/000:conv3x3'")
    return [[int(c) for c in r] for r in rows], tuple(_OP_IDS[o] for o in ops)


def to_official(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> tuple[list[str], Matrix]:
    """``(ops, matrix)`` as the official ``ModelSpec(matrix, ops)`` takes them (ops with ``input``/``output``)."""
    return ["input"] + [OPS[o] for o in labels] + ["output"], [list(map(int, r)) for r in matrix]


def cell_or_raise(genome: Sequence[int]) -> tuple[Matrix, Labels]:
    cell = pruned_cell(list(genome))
    if cell is None:
        raise InvalidArchitecture(f"not a valid NAS-Bench-101 cell (output unreachable, more than {MAX_EDGES} edges "
                                  f"after pruning, or not 21 bits + 5 ops in 0..2): {list(genome)!r}")
    return cell


def compute_vertex_channels(c_in: int, c_out: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of each vertex of a pruned cell (official ``compute_vertex_channels``).

    The output's ``c_out`` is split evenly among the interior vertices feeding it (the first ``c_out % fan_in`` of
    them get one more); a vertex that does not feed the output gets the largest channels of its successors, so a
    vertex never has fewer channels than one it feeds (truncation only ever drops channels).
    """
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    share, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            ch[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            ch[v] = max([ch[d] for d in range(v + 1, n - 1) if matrix[v][d]] + [0])
    if any(c <= 0 for c in ch[1:-1]):
        raise ValueError(f"{c_out} output channels cannot be split among {fan_in} vertices of cell {matrix!r}")
    return ch
