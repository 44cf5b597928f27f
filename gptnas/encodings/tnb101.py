"""TransNAS-Bench-101 micro (cell) encodings, in NASLib's convention (what the benchmark's tables use).

The cell has NAS-Bench-201's four nodes but its edges in NASLib's order (0→1), (0→2), (0→3), (1→2), (1→3), (2→3),
each one of 4 ops: 0 = skip_connect, 1 = none, 2 = conv3x3 (nor_conv_3x3), 3 = conv1x1 (nor_conv_1x1). The genome
is that 6-tuple, so NCode is its six digits (``"311133"``) and the tables' key is the tuple ``"(3, 1, 1, 1, 3, 3)"``.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import InvalidArchitecture

OPS = ("skip_connect", "none", "conv3x3", "conv1x1")
#: (source node, target node) of each edge, in NASLib's order.
EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES  # 4,096
_EXAMPLE = "(3, 1, 1, 1, 3, 3)"


def check_ops(ops: Sequence[int]) -> tuple[int, ...]:
    try:
        t = tuple(int(o) for o in ops)
    except (TypeError, ValueError):
        raise InvalidArchitecture(f"a TransNAS-Bench-101 cell is 6 integers in 0..3, got {ops!r}") from None
    if len(t) != NUM_EDGES or any(not 0 <= o < len(OPS) for o in t):
        raise InvalidArchitecture(f"a TransNAS-Bench-101 cell is 6 integers in 0..3, got {list(ops)!r}")
    return t


def ops_to_tuple_string(ops: Sequence[int]) -> str:
    """Op tuple → the tables' key, e.g. ``"(3, 1, 1, 1, 3, 3)"``."""
    return "(" + ", ".join(str(o) for o in check_ops(ops)) + ")"


def ops_to_int(ops: Sequence[int]) -> int:
    """Op tuple → base-4 integer 0..4095 (first edge most significant)."""
    v = 0
    for o in check_ops(ops):
        v = v * len(OPS) + o
    return v


def parse_any(text: str) -> tuple[int, ...]:
    """A tuple string ``"(3, 1, 1, 1, 3, 3)"``, an NCode ``"311133"`` or ops joined by spaces → op tuple."""
    t = str(text).strip()
    if t.startswith(("(", "[")):
        try:
            return check_ops([int(p) for p in t.strip("()[]").split(",") if p.strip()])
        except ValueError:
            pass
    elif len(t) == NUM_EDGES and t.isdigit():
        return check_ops([int(c) for c in t])
    raise InvalidArchitecture(f"cannot read TransNAS-Bench-101 cell {text!r}: give a tuple like {_EXAMPLE} or an "
                              "NCode like '311133' (edges in NASLib order, ops 0=skip_connect 1=none 2=conv3x3 "
                              "3=conv1x1)")
