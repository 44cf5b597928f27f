"""The NAS-Bench-101 cell space (Ying et al. 2019), enumerated by the project itself, and its layer sequences.

A cell is a DAG on 7 vertices: vertex 0 is the cell input, vertex 6 the output, and the 5 interior vertices are
each labelled ``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or ``maxpool3x3``. A cell is *pruned* by removing the vertices
that are not on an input→output path; it is valid when the output is reachable from the input and the pruned graph
has at most 9 edges. Two cells are the same when their pruned labelled graphs are isomorphic; there are exactly
423,624 unique valid cells (:func:`count_unique` re-derives the number; ``experiments/nb101_enumerate.py`` times it).

Genome (``list[int]``, length 26): the 21 upper-triangle bits of the 7×7 adjacency matrix in row-major order
(``e01 e02 .. e06 e12 .. e56``), then the op id (:data:`OPS`) of interior vertices 1..5. Ops of pruned vertices
are kept in the genome but mean nothing. :meth:`NB101Space.key` is an exact canonical form (the pruned matrix and
ops of the minimal relabelling over all orders of the interior vertices), so isomorphic cells share one key, and
:meth:`NB101Space.parse` reads it back.

The network (:func:`build_network`, :meth:`NB101Space.to_module`) follows the official ``nasbench`` model builder:
stem Conv3x3-BN-ReLU to 128 channels; 3 stacks of 3 cells; a 2×2/2 max-pool before stacks 2 and 3, which double the
channels; global average pool; dense classifier. In a cell the output channels are split among the vertices that
feed the output (``compute_vertex_channels``); an input→vertex edge is a 1×1 Conv-BN-ReLU projection to the vertex's
channels; a vertex sums its inputs (truncating channels) and applies its op; the output concatenates the vertices
feeding it and adds the projected input when input→output is an edge. Differences from the official code:

- the cell is built from its canonical form (:func:`canonical`), not from the matrix as given: an isomorphic
  relabelling is the same function, except for which vertices get the +1 channel when the output channels do not
  divide evenly (the official code gives it to the lowest-numbered vertices of whatever order it was handed). So one
  key, one network, and one layer sequence;
- BatchNorm momentum defaults to PyTorch's 0.1 rather than the official decay 0.997 (``bn_momentum=0.003``): the
  project trains for a few epochs only, where running statistics with a 0.997 decay would still be mostly their
  initial values at evaluation. Epsilon is the official 1e-5;
- TensorFlow's ``same`` padding is written as PyTorch's: padding 1 for 3×3 convs and the 3×3/1 max-pool (which
  pads with -inf, as TF ignores padded cells), ``ceil_mode=True`` for the 2×2/2 max-pool (odd sizes round up, as
  TF's ``same``); initialisation is PyTorch's default, not TF's variance scaling;
- no auxiliary heads, dropout or weight decay settings (training is the evaluator's business).

Layer sequences (:func:`layer_tokens`, :func:`layer_texts`) are read by :func:`~gptnas.encodings.layers.trace_layers`
off the network's building blocks built on the meta device; channel truncations, sums and concatenations are not
layers and are not written, so the sequence does not determine the cell: 2,000 distinct random cells give about 1,280
distinct token sequences (12 distinct tokens at 32×32) and 1,320 distinct text sequences. :func:`nb101_corpus` is
the GPT pre-training corpus of GPT-NAS. The paper keeps only cells with validation accuracy ≥ 90 %; there are no
accuracies here, so the corpus is unfiltered random valid cells.

This module imports neither numpy nor torch until a function needs them; the network classes are created on first
use and are reachable as ``nb101.NB101Network``, ``nb101.NB101Cell`` and ``nb101.ConvBnRelu`` (they pickle).
"""
from __future__ import annotations

import functools
import itertools
import random
import re
from typing import Iterator, Optional, Sequence

from ..errors import InvalidArchitecture
from .sequence import CategoricalSequenceSpace

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
def _upper_index(n: int) -> dict[tuple[int, int], int]:
    return {e: k for k, e in enumerate((i, j) for i in range(n) for j in range(i + 1, n))}


@functools.lru_cache(maxsize=None)
def _weights(n: int) -> dict[tuple[int, int], int]:
    """Score of an edge at ``(a, b)`` of an ``n``-vertex matrix (see the comment above)."""
    idx = _upper_index(n)
    m = len(idx)
    w = {}
    for (a, b), k in idx.items():
        w[(a, b)] = 1 << (m - 1 - k)
        w[(b, a)] = 1 << (m + k)
    return w


@functools.lru_cache(maxsize=None)
def _positions(n: int) -> tuple[tuple[int, ...], ...]:
    """Every relabelling of an ``n``-vertex cell that fixes input and output: ``pos[old vertex] = new vertex``."""
    return tuple((0,) + p + (n - 1,) for p in itertools.permutations(range(1, n - 1)))


def canonical(matrix: Sequence[Sequence[int]], labels: Sequence[int]) -> tuple[Matrix, Labels]:
    """The canonical relabelling of a (pruned) cell: equal for two cells iff they are isomorphic.

    Exact: tries every order of the ``n-2`` interior vertices (at most 120).
    """
    n = len(matrix)
    w = _weights(n)
    edges = [(i, j) for i in range(n) for j in range(n) if matrix[i][j]]
    best = None
    for pos in _positions(n):
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


# Enumeration (numpy) ------------------------------------------------------------------------------------------------
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


def _full_dags(n: int, max_edges: int):
    """The matrices of :func:`_upper_bits` on which every vertex is on an input→output path (no pruning needed):
    every vertex but the output has an out-edge and every vertex but the input an in-edge (official
    ``is_full_dag``). ``(M, n(n-1)/2)`` uint8."""
    import numpy as np

    bits = _upper_bits(n, max_edges)
    idx = _upper_index(n)
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

    w, idx = _weights(n), _upper_index(n)
    perms = _positions(n)
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
    return np.stack([_label_digits(k) @ place[[pos[v] - 1 for v in range(1, n - 1)]] for pos in _positions(n)])


def _unique_graphs(n: int, max_edges: int, chunk: int = 1 << 15):
    """The canonical unlabelled full DAGs on ``n`` vertices and their automorphisms.

    Returns:
        ``bits`` ``(U, n(n-1)/2)`` uint8 of the canonical forms, and ``aut`` ``(U, P)`` bool: relabelling p maps the
        graph onto itself.
    """
    import numpy as np

    table = _score_table(n)
    bits = _full_dags(n, max_edges)
    m = bits.shape[1]
    best = [(bits[s:s + chunk].astype(np.float64) @ table).min(1) for s in range(0, len(bits), chunk)]
    # The minimal score is below 2**m (identity is upper triangular), so it is the canonical form's own bits.
    can = np.unique(np.concatenate(best)).astype(np.int64) if best else np.zeros(0, np.int64)
    canon_bits = ((can[:, None] >> np.arange(m - 1, -1, -1)) & 1).astype(np.uint8)
    aut = (canon_bits.astype(np.float64) @ table) == can[:, None]
    return canon_bits, aut


def _enumerate_arrays(max_vertices: int = NUM_VERTICES, max_edges: int = MAX_EDGES):
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
    for (i, j), k in _upper_index(n).items():
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
    for n, bits, labels in _enumerate_arrays(max_vertices, max_edges):
        for row in bits:
            matrix = _bits_to_matrix(n, row)
            for lab in labels:
                yield to_official(matrix, [int(o) for o in lab])


def count_unique(max_vertices: int = NUM_VERTICES, max_edges: int = MAX_EDGES) -> int:
    """Number of cells :func:`enumerate_unique` yields (423,624 with the defaults), without listing them."""
    return sum(len(bits) * len(labels) for _, bits, labels in _enumerate_arrays(max_vertices, max_edges))


@functools.lru_cache(maxsize=1)
def _valid_patterns():
    """Sorted int64 array of every valid 21-bit edge pattern (bit 20 = edge (0,1), genome order): validity does not
    depend on the ops. Used by the grammar (:meth:`NB101Space.next_tokens`)."""
    import numpy as np

    n, idx = NUM_VERTICES, _upper_index(NUM_VERTICES)
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


# Network (torch, built on first use) ---------------------------------------------------------------------------
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


_TORCH_CLASSES = ("ConvBnRelu", "NB101Cell", "NB101Network")


@functools.lru_cache(maxsize=1)
def _torch_classes() -> dict:
    """Define the torch modules (once, on first use); they are registered under this module's name so they
    pickle like ordinary classes."""
    import torch
    from torch import nn

    class ConvBnRelu(nn.Sequential):
        """Conv(k×k, stride 1, ``same`` padding, no bias) → BN → ReLU. ``(B, c_in, H, W) → (B, c_out, H, W)``."""

        def __init__(self, c_in: int, c_out: int, kernel: int, bn_momentum: float = 0.1):
            super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                             nn.BatchNorm2d(c_out, eps=1e-5, momentum=bn_momentum),
                             nn.ReLU(inplace=False))  # not in place: proxies hook on ReLU inputs

    def make_op(op: int, channels: int, bn_momentum: float) -> nn.Module:
        if OPS[op] == "conv3x3-bn-relu":
            return ConvBnRelu(channels, channels, 3, bn_momentum)
        if OPS[op] == "conv1x1-bn-relu":
            return ConvBnRelu(channels, channels, 1, bn_momentum)
        return nn.MaxPool2d(3, stride=1, padding=1)

    class NB101Cell(nn.Module):
        """One cell (the official ``build_module``) from its pruned ``matrix`` (n×n) and interior ``labels``.

        ``(B, c_in, H, W) → (B, c_out, H, W)``.
        """

        def __init__(self, matrix: Sequence[Sequence[int]], labels: Sequence[int], c_in: int, c_out: int,
                     bn_momentum: float = 0.1):
            super().__init__()
            self.matrix = tuple(tuple(int(b) for b in r) for r in matrix)
            self.labels = tuple(int(o) for o in labels)
            n = len(self.matrix)
            self.channels = compute_vertex_channels(c_in, c_out, self.matrix)
            ch = self.channels
            self.proj = nn.ModuleDict({str(t): ConvBnRelu(c_in, ch[t], 1, bn_momentum)
                                       for t in range(1, n - 1) if self.matrix[0][t]})
            self.vertex_ops = nn.ModuleList(make_op(o, ch[t], bn_momentum) for t, o in enumerate(self.labels, 1))
            self.out_proj = ConvBnRelu(c_in, c_out, 1, bn_momentum) if self.matrix[0][n - 1] else None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, m, ch = len(self.matrix), self.matrix, self.channels
            values, concat = [x], []
            for t in range(1, n - 1):
                add_in = [values[s][:, :ch[t]] for s in range(1, t) if m[s][t]]  # truncate to this vertex's width
                if m[0][t]:
                    add_in.append(self.proj[str(t)](x))
                v = add_in[0] if len(add_in) == 1 else torch.stack(add_in).sum(0)
                values.append(self.vertex_ops[t - 1](v))
                if m[t][n - 1]:
                    concat.append(values[t])
            if not concat:  # only input -> output
                return self.out_proj(x)
            out = concat[0] if len(concat) == 1 else torch.cat(concat, 1)
            return out + self.out_proj(x) if self.out_proj is not None else out

        def extra_repr(self) -> str:
            return f"channels={self.channels}"

    class NB101Network(nn.Module):
        """The NAS-Bench-101 network of one cell (see the module docstring for the differences from the official one).

        Args:
            matrix, labels: the cell, pruned (use :func:`build_network` to start from a genome).
            num_classes: logits out. in_channels: image channels in.
            stem_channels: stem width (128 officially); stack s runs at ``stem_channels * 2**s``.
            num_stacks, cells_per_stack: 3 and 3 officially.
            bn_momentum: PyTorch BatchNorm momentum (official decay 0.997 is ``0.003``).

        ``forward``: ``(B, in_channels, H, W)`` → ``(B, num_classes)``; any H, W ≥ 1.
        """

        def __init__(self, matrix, labels, num_classes: int = 10, in_channels: int = 3, stem_channels: int = 128,
                     num_stacks: int = 3, cells_per_stack: int = 3, bn_momentum: float = 0.1):
            super().__init__()
            self.stem = ConvBnRelu(in_channels, stem_channels, 3, bn_momentum)
            layers: list[nn.Module] = []
            c = stem_channels
            for stack in range(num_stacks):
                c_out = c if stack == 0 else 2 * c
                if stack > 0:
                    layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))  # TF "same": odd sizes round up
                for _ in range(cells_per_stack):
                    layers.append(NB101Cell(matrix, labels, c, c_out, bn_momentum))
                    c = c_out
            self.cells = nn.Sequential(*layers)
            self.global_pooling = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(c, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.global_pooling(self.cells(self.stem(x))).flatten(1))

    classes = {"ConvBnRelu": ConvBnRelu, "NB101Cell": NB101Cell, "NB101Network": NB101Network}
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def __getattr__(name: str):
    if name in _TORCH_CLASSES:
        return _torch_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cell_or_raise(genome: Sequence[int]) -> tuple[Matrix, Labels]:
    cell = pruned_cell(list(genome))
    if cell is None:
        raise InvalidArchitecture(f"not a valid NAS-Bench-101 cell (output unreachable, more than {MAX_EDGES} edges "
                                  f"after pruning, or not 21 bits + 5 ops in 0..2): {list(genome)!r}")
    return cell


def build_network(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                  stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3, bn_momentum: float = 0.1):
    """The ``NB101Network`` of a genome (its canonical pruned cell); ``input_shape`` is ``(C, H, W)``."""
    matrix, labels = canonical(*_cell_or_raise(genome))
    return _torch_classes()["NB101Network"](matrix, labels, num_classes=num_classes, in_channels=input_shape[0],
                                            stem_channels=stem_channels, num_stacks=num_stacks,
                                            cells_per_stack=cells_per_stack, bn_momentum=bn_momentum)


def trace_network_layers(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32),
                         device: str = "meta", **kwargs) -> list:
    """Reference: :func:`~gptnas.encodings.layers.trace_layers` of the whole network built on ``device``.

    0.07 to 0.2 s per genome on the meta device (BatchNorm's meta kernel is a Python decomposition; building the
    modules alone takes ~30 ms); the result equals :func:`network_layers`, which the tests check.
    """
    import torch

    from ..encodings.layers import trace_layers

    with torch.device(device):
        net = build_network(genome, input_shape, **kwargs)
    return trace_layers(net, tuple(input_shape))


@functools.lru_cache(maxsize=None)
def _primitive_layers(kind: str, args: tuple, shape: tuple[int, int, int]) -> tuple:
    """``trace_layers`` of one of the network's building blocks, built on the meta device (cached: a corpus uses
    only a few hundred distinct blocks). ``shape`` is the block's input ``(C, H, W)``."""
    import torch
    from torch import nn

    from ..encodings.layers import trace_layers

    with torch.device("meta"):
        if kind == "cbr":  # (c_in, c_out, kernel)
            block = _torch_classes()["ConvBnRelu"](*args)
        elif kind == "maxpool3":
            block = nn.MaxPool2d(3, stride=1, padding=1)
        elif kind == "maxpool2":
            block = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        elif kind == "gap":
            block = nn.AdaptiveAvgPool2d(1)
        else:  # fc: (c_in, num_classes), on the pooled (C, 1, 1) map (Flatten writes no layer)
            block = nn.Sequential(nn.Flatten(), nn.Linear(*args))
    return tuple(trace_layers(block, shape))


def _network_plan(matrix, labels, input_shape, num_classes=10, stem_channels=128, num_stacks=3, cells_per_stack=3,
                  bn_momentum=None) -> Iterator[tuple[str, tuple, tuple[int, int, int]]]:
    """The blocks of :class:`NB101Network` in the order its ``forward`` calls them: ``(kind, args, input (C,H,W))``.

    Mirrors ``NB101Network.forward`` / ``NB101Cell.forward`` (the tests compare with a full trace).
    """
    c, h, w = input_shape
    yield "cbr", (c, stem_channels, 3), (c, h, w)
    c = stem_channels
    n = len(matrix)
    for stack in range(num_stacks):
        c_out = c if stack == 0 else 2 * c
        if stack > 0:
            yield "maxpool2", (), (c, h, w)
            h, w = -(-h // 2), -(-w // 2)
        for _ in range(cells_per_stack):
            ch = compute_vertex_channels(c, c_out, matrix)
            for t in range(1, n - 1):
                if matrix[0][t]:
                    yield "cbr", (c, ch[t], 1), (c, h, w)
                op = OPS[labels[t - 1]]
                if op == "maxpool3x3":
                    yield "maxpool3", (), (ch[t], h, w)
                else:
                    yield "cbr", (ch[t], ch[t], 3 if op == "conv3x3-bn-relu" else 1), (ch[t], h, w)
            if matrix[0][n - 1]:
                yield "cbr", (c, c_out, 1), (c, h, w)
            c = c_out
    yield "gap", (), (c, h, w)
    yield "fc", (c, num_classes), (c, 1, 1)


def network_layers(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list:
    """The network's :class:`~gptnas.encodings.layers.Layer` records in execution order.

    Each building block (Conv-BN-ReLU of given widths and resolution, a pooling, the classifier) is traced once on
    the meta device and cached; a genome's sequence is its blocks' traces in ``forward`` order, about 1 ms instead of
    the 0.2 s of tracing the whole network (:func:`trace_network_layers`, which gives the same list). ``kwargs`` go
    to :func:`build_network` (``num_classes``, ``stem_channels``, ``num_stacks``, ``cells_per_stack``).
    """
    matrix, labels = canonical(*_cell_or_raise(genome))
    return [layer for kind, args, shape in _network_plan(matrix, labels, tuple(input_shape), **kwargs)
            for layer in _primitive_layers(kind, args, shape)]


def layer_tokens(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list[str]:
    """The GPT tokens (:meth:`Layer.token`) of the network's layers; isomorphic cells give the same list."""
    return [layer.token() for layer in network_layers(genome, input_shape, **kwargs)]


def layer_texts(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list[str]:
    """The lossless :meth:`Layer.text` of the network's layers (``encodings.layers.decode`` reads them back)."""
    return [layer.text() for layer in network_layers(genome, input_shape, **kwargs)]


def nb101_corpus(n: int, seed: int = 0, input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs
                 ) -> list[list[str]]:
    """GPT pre-training corpus: the layer-token sequences of ``n`` distinct (by key) random valid cells, drawn with
    ``random.Random(seed)`` by :meth:`NB101Space.sample`, in draw order.

    Unfiltered: GPT-NAS pre-trains on the NAS-Bench-101 cells with validation accuracy ≥ 90 %, but no accuracies
    exist here. ``kwargs`` go to :func:`build_network`.
    """
    if not 0 <= n <= NUM_UNIQUE_CELLS:
        raise ValueError(f"n must be in 0..{NUM_UNIQUE_CELLS} (the number of unique cells), got {n}")
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


# The space ----------------------------------------------------------------------------------------------------------
EDGE_NAMES = [f"e{i}{j}" for i, j in EDGES]
VERTEX_NAMES = [f"v{t}" for t in range(1, NUM_VERTICES - 1)]


class NB101Space(CategoricalSequenceSpace):
    """NAS-Bench-101 cells; the genome is 21 edge bits + 5 op ids (see the module docstring).

    Tokens are ``e01=0`` .. ``e56=1`` then ``v1=conv3x3`` .. ``v5=maxpool3x3``; the grammar offers an edge bit only
    if some completion is a valid cell. :meth:`key` is the canonical pruned cell (:func:`cell_key`); :meth:`parse`
    reads keys and token sequences. Mutation is the benchmark's REA mutation: flip each edge with probability 1/7,
    change each op with probability 1/5, until the child is valid and a different cell.

    Args:
        stem_channels, num_stacks, cells_per_stack: the network :meth:`to_module` builds (official: 128, 3, 3).
    """

    def __init__(self, stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3):
        super().__init__([["0", "1"]] * len(EDGES) + [list(OP_NAMES)] * NUM_INTERIOR,
                         names=EDGE_NAMES + VERTEX_NAMES, name="nb101")
        self.stem_channels, self.num_stacks, self.cells_per_stack = stem_channels, num_stacks, cells_per_stack

    def sample(self, rng: random.Random) -> list[int]:
        """Random bits and ops, redrawn until valid (as the official ``random_spec``; not uniform over cells)."""
        while True:
            g = [rng.randrange(2) for _ in EDGES] + [rng.randrange(len(OPS)) for _ in range(NUM_INTERIOR)]
            if pruned_cell(g) is not None:
                return g

    def is_valid(self, arch: Sequence[int]) -> bool:
        return super().is_valid(arch) and pruned_cell(list(arch)) is not None

    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        g = super().from_tokens(tokens)
        _cell_or_raise(g)
        return g

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        import numpy as np

        i = len(prefix)
        if i >= len(EDGES):
            return super().next_tokens(prefix)
        head = 0  # the prefix's bits as a number, first edge most significant
        for j, t in enumerate(prefix):
            if t not in self._lookup[j]:
                raise InvalidArchitecture(f"token {t!r} is not allowed at position {j} in space {self.name!r}")
            head = head << 1 | self._lookup[j][t]
        valid = _valid_patterns()
        free = len(EDGES) - i - 1  # bits after this one
        out = []
        for b in (0, 1):
            lo = ((head << 1) | b) << free
            if np.searchsorted(valid, lo) < np.searchsorted(valid, lo + (1 << free)):
                out.append(self._tokens[i][b])
        return out

    def key(self, arch: Sequence[int]) -> str:
        return cell_key(*_cell_or_raise(arch))

    def parse(self, text: str) -> list[int]:
        """A genome from a key (``011/001/000:conv3x3``) or a token sequence (``e01=1 e02=0 ...``)."""
        g = self.from_tokens(text.split()) if "=" in text else spec_to_genome(*parse_key(text))
        _cell_or_raise(g)
        return g

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        parent = self.key(arch)
        for _ in range(100):
            child = [1 - b if rng.random() < 1 / NUM_VERTICES else b for b in arch[:len(EDGES)]]
            child += [rng.choice([o for o in range(len(OPS)) if o != op]) if rng.random() < 1 / NUM_INTERIOR else op
                      for op in arch[len(EDGES):]]
            if self.is_valid(child) and self.key(child) != parent:
                return child
        return list(arch)

    def to_module(self, arch, input_shape, num_classes):
        return build_network(arch, tuple(input_shape), num_classes, stem_channels=self.stem_channels,
                             num_stacks=self.num_stacks, cells_per_stack=self.cells_per_stack)

    def describe(self) -> dict:
        return {**super().describe(), "stem_channels": self.stem_channels, "num_stacks": self.num_stacks,
                "cells_per_stack": self.cells_per_stack}
