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

NCode: the genome is already a fixed-length decision form — 21 edge bits and 5 op ids, one digit each — so
:meth:`NB101Space.ncode` writes it as 26 digits. It is a code of the genome, not of the cell: isomorphic cells (one
key) can have different codes, and not every 26-digit string is a valid cell.

Layout: :mod:`.graph` (genome ↔ matrix, pruning, canonical form, keys), :mod:`.enumeration` (numpy enumeration of
the unique cells, the grammar's valid edge patterns), :mod:`.network` (the torch network and its layer sequences),
:mod:`.corpus` (the GPT pre-training corpus), :mod:`.space` (:class:`NB101Space`). No module imports numpy or torch
until a function needs them; the network classes are created on first use and are reachable as
``nb101.NB101Network``, ``nb101.NB101Cell`` and ``nb101.ConvBnRelu`` (they pickle).
"""
from __future__ import annotations

from ...core.objects import lazy_exports
from .corpus import nb101_corpus
from .enumeration import count_unique, enumerate_unique
from .graph import (EDGES, GENOME_LENGTH, MAX_EDGES, NUM_INTERIOR, NUM_UNIQUE_CELLS, NUM_VERTICES, OP_NAMES, OPS, canonical,
                    cell_key, genome_matrix, num_edges, parse_key, prune, pruned_cell, spec_to_genome, to_official)
from .network import (build_network, compute_vertex_channels, layer_texts, layer_tokens, network_layers,
                      trace_network_layers)
from .space import EDGE_NAMES, VERTEX_NAMES, NB101Space


# the torch modules (ConvBnRelu, NB101Cell, NB101Network), imported on first use from .modules
__getattr__, __dir__ = lazy_exports(__name__, {n: "modules" for n in ("ConvBnRelu", "NB101Cell", "NB101Network")},
                                    globals())
