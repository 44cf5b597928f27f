"""The NAS-Bench-201 cell space: 6 edges, each one of 5 ops (15,625 cells)."""
from __future__ import annotations

from typing import Sequence

from ...encodings import nb201 as enc
from ..categorical import CategoricalSequenceSpace

EDGE_NAMES = [f"e{src}{dst}" for dst, src in enc.EDGES]  # e01 e02 e12 e03 e13 e23


class NB201Space(CategoricalSequenceSpace):
    """NAS-Bench-201 cells; the genome is the op list of :mod:`gptnas.encodings.nb201` (= NCode digits).

    The canonical key is the official string, and :meth:`parse` also reads NCodes and NASLib tuples.
    Mutation follows the benchmark paper's REA: one edge gets a different op.
    """

    def __init__(self):
        super().__init__([list(enc.OPS)] * enc.NUM_EDGES, names=EDGE_NAMES, name="nb201")

    def key(self, arch: Sequence[int]) -> str:
        try:
            return enc._STRINGS[tuple(arch)]  # the search asks for keys several times per evaluation
        except (KeyError, TypeError):
            return enc.ops_to_string(arch)

    def parse(self, text: str) -> list[int]:
        return list(enc.parse_any(text))

    def prompt_description(self) -> str:
        """The cell as an LLM reads it (LAPT's prompt): nodes, which edge feeds which node, the operations, a
        PyTorch-style forward."""
        return CELL_DESCRIPTION

    def to_module(self, arch, input_shape, num_classes):
        from .network import NB201Network  # torch is imported only when a network is built
        return NB201Network(enc.ops_to_string(arch), num_classes=num_classes, in_channels=input_shape[0])


CELL_DESCRIPTION = """The architecture is a cell, stacked 5 times in each of 3 stages of a network (16, 32 and 64
channels; a residual block halves the resolution between stages). The cell is a directed acyclic graph of 4 nodes:
node 0 is the cell's input (the previous cell's output) and node 3 its output; every other node is the sum of what
its incoming edges compute. It has 6 edges, in this order: layer0: node0->node1, layer1: node0->node2,
layer2: node1->node2, layer3: node0->node3, layer4: node1->node3, layer5: node2->node3. Each edge (layer) applies
one of 5 operations, channels and resolution unchanged:
  none: zeroise (outputs zeros, which cuts the connection)
  skip_connect: identity (the input passed on unchanged)
  nor_conv_1x1: ReLU -> 1x1 convolution -> BatchNorm
  nor_conv_3x3: ReLU -> 3x3 convolution -> BatchNorm
  avg_pool_3x3: 3x3 average pooling, stride 1
In PyTorch terms:
    def forward(x0):
        x1 = layer0(x0)
        x2 = layer1(x0) + layer2(x1)
        x3 = layer3(x0) + layer4(x1) + layer5(x2)
        return x3"""
