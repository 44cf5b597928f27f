"""LM-Searcher's text (Hu et al., EMNLP 2025, ``search.py`` / ``utils.py`` of Ashone3/LM-Searcher), exactly:

    <code>|<score>,<code>|<score>,...,<code>;<code>;...;

the history — at most ``max_history`` (200) entries, best first, scores min–max normalised and written as Python's
``str(round(x, 4))`` — each followed by a comma, then the pool of unseen candidates, each followed by a semicolon.
The model replies with one code. Where the released code divides by zero (every history score equal), every score
is written as 1.0 here.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence


def normalise(scores: Sequence[float]) -> list[float]:
    """Min–max normalised scores in [0, 1]; all 1.0 when they are all equal."""
    lo, hi = min(scores), max(scores)
    if hi == lo:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def top_history(codes: Sequence[str], scores: Sequence[float], max_history: int = 200) -> list[tuple[str, float]]:
    """The ``max_history`` best ``(code, score)`` pairs, best first (ties: the earlier first)."""
    order = sorted(range(len(codes)), key=lambda i: -scores[i])[:max_history]
    return [(codes[i], scores[i]) for i in order]


def format_prompt(codes: Sequence[str], scores: Sequence[float], pool: Sequence[str], max_history: int = 200) -> str:
    """The prompt for history ``(codes, scores)`` (raw fitness, any order) and the candidate ``pool``."""
    top = top_history(codes, scores, max_history)
    norm = normalise([s for _, s in top]) if top else []
    text = "".join(f"{c}|{round(n, 4)}," for (c, _), n in zip(top, norm))
    return text + "".join(f"{c};" for c in pool)


def parse_reply(reply: str, pool: Sequence[str]) -> Optional[str]:
    """The pool's code the reply names (its first run of digits of a code's length), or None."""
    width = len(pool[0]) if pool else 0
    for m in re.finditer(r"\d+", reply):
        if len(m.group()) == width and m.group() in pool:
            return m.group()
    return None
