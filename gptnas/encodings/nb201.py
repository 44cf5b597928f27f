"""NAS-Bench-201 cell encodings and the conversions between them.

The canonical form inside gptnas is the *op list*: six integers in the official string's edge order
(0→1), (0→2), (1→2), (0→3), (1→3), (2→3), each an index into :data:`OPS`
(none=0, skip_connect=1, nor_conv_1x1=2, nor_conv_3x3=3, avg_pool_3x3=4). This is also LM-Searcher's NCode digit
order, so NCode is the op list written as six digits.

Other forms:
- the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``;
- NASLib's 6-tuple: edge order (0→1), (0→2), (0→3), (1→2), (1→3), (2→3) and op indices
  0=skip_connect, 1=none, 2=nor_conv_3x3, 3=nor_conv_1x1, 4=avg_pool_3x3;
- the official benchmark index 0..15624, which is an arbitrary (shuffled) order fixed by the release. It cannot be
  computed from the ops, so :class:`IndexMap` is built from the release's list of strings (``meta_archs`` of
  NATS-Bench, or the ``arch_str`` column stored in an imported table).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from ..errors import InvalidArchitecture

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target node, source node) of each edge, in the official string's order.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES  # 15,625

# NASLib: position i of its tuple holds our edge _NASLIB_EDGE[i]; its op index j is our op _NASLIB_OP[j].
_NASLIB_EDGE = (0, 1, 3, 2, 4, 5)
_NASLIB_OP = (1, 0, 3, 2, 4)  # naslib index -> our index
_OUR_TO_NASLIB_OP = tuple(_NASLIB_OP.index(i) for i in range(len(OPS)))

_STRING_RE = re.compile(r"^\|([a-z_0-9]+)~0\|\+\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|\+"
                        r"\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|([a-z_0-9]+)~2\|$")
_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def check_ops(ops: Sequence[int]) -> tuple[int, ...]:
    """Validate an op list (6 ints in 0..4) and return it as a tuple."""
    try:
        ops_t = tuple(int(o) for o in ops)
    except (TypeError, ValueError):
        raise InvalidArchitecture(f"NAS-Bench-201 op list must be 6 integers in 0..4, got {ops!r}") from None
    if len(ops_t) != NUM_EDGES or any(o < 0 or o >= len(OPS) for o in ops_t):
        raise InvalidArchitecture(f"NAS-Bench-201 op list must be 6 integers in 0..4, got {list(ops)!r}")
    return ops_t


_STRINGS: dict[tuple, str] = {}  # op tuple -> official string: the search computes keys many times per evaluation


def ops_to_string(ops: Sequence[int]) -> str:
    """Op list → official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
    try:
        return _STRINGS[tuple(ops)]
    except (KeyError, TypeError):
        pass
    t = check_ops(ops)
    o = [OPS[i] for i in t]
    s = f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
    if all(type(v) is int for v in ops):  # at most the 15,625 cells
        _STRINGS[t] = s
    return s


def string_to_ops(text: str) -> tuple[int, ...]:
    """Official string → op list. Raises :class:`InvalidArchitecture` naming the expected format."""
    m = _STRING_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise InvalidArchitecture(
            f"malformed NAS-Bench-201 architecture string {text!r}: expected the form {_EXAMPLE}")
    try:
        return tuple(OPS.index(name) for name in m.groups())
    except ValueError:
        bad = [n for n in m.groups() if n not in OPS]
        raise InvalidArchitecture(
            f"unknown NAS-Bench-201 op {bad[0]!r} in {text!r}: ops are {', '.join(OPS)}") from None


def ops_to_ncode(ops: Sequence[int]) -> str:
    """Op list → LM-Searcher NCode, e.g. ``"333103"``."""
    return "".join(str(o) for o in check_ops(ops))


def ncode_to_ops(code: str) -> tuple[int, ...]:
    """NCode (six digits 0..4) → op list."""
    if not (isinstance(code, str) and len(code) == NUM_EDGES and all(c in "01234" for c in code)):
        raise InvalidArchitecture(f"malformed NCode {code!r}: expected six digits 0..4, e.g. '333103'")
    return tuple(int(c) for c in code)


def ops_to_naslib(ops: Sequence[int]) -> tuple[int, ...]:
    """Op list → NASLib 6-tuple (its edge order and op numbering)."""
    o = check_ops(ops)
    return tuple(_OUR_TO_NASLIB_OP[o[e]] for e in _NASLIB_EDGE)


def naslib_to_ops(t: Sequence[int]) -> tuple[int, ...]:
    """NASLib 6-tuple → op list."""
    n = check_ops(t)
    ops = [0] * NUM_EDGES
    for pos, edge in enumerate(_NASLIB_EDGE):
        ops[edge] = _NASLIB_OP[n[pos]]
    return tuple(ops)


def parse_naslib(text: str) -> tuple[int, ...]:
    """``"(0, 2, 3, 2, 3, 1)"`` → NASLib tuple of ints."""
    parts = text.strip().strip("()[]").split(",")
    try:
        return check_ops([int(p) for p in parts if p.strip()])
    except ValueError:
        raise InvalidArchitecture(f"malformed NASLib tuple {text!r}: expected e.g. '(0, 2, 3, 2, 3, 1)'") from None


def ops_to_int(ops: Sequence[int]) -> int:
    """Op list → base-5 integer 0..15624 (a dense code in *our* order, not the official index)."""
    v = 0
    for o in check_ops(ops):
        v = v * len(OPS) + o
    return v


def int_to_ops(v: int) -> tuple[int, ...]:
    """Inverse of :func:`ops_to_int`."""
    if not 0 <= int(v) < NUM_ARCHS:
        raise InvalidArchitecture(f"base-5 code {v} out of range 0..{NUM_ARCHS - 1}")
    out = []
    for _ in range(NUM_EDGES):
        v, r = divmod(int(v), len(OPS))
        out.append(r)
    return tuple(reversed(out))


def parse_any(text: str) -> tuple[int, ...]:
    """Parse an official string, an NCode or a NASLib tuple into an op list."""
    t = text.strip()
    if t.startswith("|"):
        return string_to_ops(t)
    if t.startswith("("):
        return naslib_to_ops(parse_naslib(t))
    if len(t) == NUM_EDGES and t.isdigit():
        return ncode_to_ops(t)
    raise InvalidArchitecture(
        f"cannot read NAS-Bench-201 architecture {text!r}: give an official string like {_EXAMPLE}, "
        "an NCode like '333103' or a NASLib tuple like '(0, 2, 3, 2, 3, 1)'")


class IndexMap:
    """Official benchmark index ↔ op list, built from the release's strings in index order."""

    def __init__(self, arch_strings: Iterable[str]):
        codes = [ops_to_int(string_to_ops(s)) for s in arch_strings]
        if len(codes) != NUM_ARCHS or len(set(codes)) != NUM_ARCHS:
            raise InvalidArchitecture(
                f"an index map needs all {NUM_ARCHS} distinct NAS-Bench-201 strings, got {len(set(codes))}")
        self._index_to_code = codes
        self._code_to_index = [0] * NUM_ARCHS
        for i, c in enumerate(codes):
            self._code_to_index[c] = i

    def index(self, ops: Sequence[int]) -> int:
        """Op list → official index."""
        return self._code_to_index[ops_to_int(ops)]

    def ops(self, index: int) -> tuple[int, ...]:
        """Official index → op list."""
        if not 0 <= int(index) < NUM_ARCHS:
            raise InvalidArchitecture(f"NAS-Bench-201 index {index} out of range 0..{NUM_ARCHS - 1}")
        return int_to_ops(self._index_to_code[int(index)])

    def strings(self) -> list[str]:
        """All official strings in index order."""
        return [ops_to_string(int_to_ops(c)) for c in self._index_to_code]
