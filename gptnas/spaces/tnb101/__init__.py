"""TransNAS-Bench-101 micro: the cell space (:mod:`.space`). The encodings are in :mod:`gptnas.encodings.tnb101`,
the table in :mod:`gptnas.bench.tnb101`."""
from .space import EDGE_NAMES, TNB101Space

__all__ = ["EDGE_NAMES", "TNB101Space"]
