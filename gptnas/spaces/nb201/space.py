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

    def to_module(self, arch, input_shape, num_classes):
        from .network import NB201Network  # torch is imported only when a network is built
        return NB201Network(enc.ops_to_string(arch), num_classes=num_classes, in_channels=input_shape[0])
