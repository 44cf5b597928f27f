"""NAS-Bench-201: the cell space (:mod:`.space`) and its network (:mod:`.network`, torch, imported on use).

The encodings (official string, op list, NCode, NASLib tuple, official index) are in :mod:`gptnas.encodings.nb201`.
"""
from .space import EDGE_NAMES, NB201Space

__all__ = ["EDGE_NAMES", "NB201Space"]
