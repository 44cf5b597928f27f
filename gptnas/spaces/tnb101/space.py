"""The TransNAS-Bench-101 micro cell space: 6 edges × {skip_connect, none, conv3x3, conv1x1}, 4,096 cells."""
from __future__ import annotations

from typing import Sequence

from ...encodings import tnb101 as enc
from ..categorical import CategoricalSequenceSpace

EDGE_NAMES = [f"e{s}{t}" for s, t in enc.EDGES]  # e01 e02 e03 e12 e13 e23 (NASLib order)


class TNB101Space(CategoricalSequenceSpace):
    """TransNAS-Bench-101 micro cells; the genome is NASLib's op tuple (= NCode digits), the key its tuple string.

    Fitness comes from the benchmark's table (``--fitness benchmark``); the benchmark's own networks (a task-specific
    encoder-decoder per task) are not rebuilt here, so ``to_module`` is not available.
    """

    def __init__(self):
        super().__init__([list(enc.OPS)] * enc.NUM_EDGES, names=EDGE_NAMES, name="tnb101")

    def key(self, arch: Sequence[int]) -> str:
        return enc.ops_to_tuple_string(arch)

    def parse(self, text: str) -> list[int]:
        return list(enc.parse_any(text))

    def prompt_description(self) -> str:
        """The cell as an LLM reads it (LAPT's prompt): nodes, edges, operations, a PyTorch-style forward."""
        return CELL_DESCRIPTION


CELL_DESCRIPTION = """The architecture is a cell: a directed acyclic graph of 4 nodes. Node 0 is the cell's input and
node 3 its output; every other node is the sum of what its incoming edges compute. It has 6 edges, in this order:
layer0: node0->node1, layer1: node0->node2, layer2: node0->node3, layer3: node1->node2, layer4: node1->node3,
layer5: node2->node3. Each edge (layer) applies one of 4 operations:
  skip_connect: identity (the input passed on unchanged)
  none: zeroise (outputs zeros, which cuts the connection)
  conv3x3: ReLU -> 3x3 convolution -> BatchNorm, channels unchanged
  conv1x1: ReLU -> 1x1 convolution -> BatchNorm, channels unchanged
In PyTorch terms:
    def forward(x0):
        x1 = layer0(x0)
        x2 = layer1(x0) + layer3(x1)
        x3 = layer2(x0) + layer4(x1) + layer5(x2)
        return x3"""
