"""Combining several proxies into one score.

Over a **population** (all candidates scored together) the ensemble is :func:`rank_average`: each proxy ranks the
candidates, and a candidate's score is its mean rank — the voting/rank-averaging used by Abdelfattah et al. 2021 and
NAS-Bench-Suite-Zero; it needs no knowledge of each proxy's scale.

For **one architecture at a time** (what an :class:`~gptnas.evaluators.base.Evaluator` does) ranks within the
current population would make an architecture's fitness depend on who else is scored, breaking caching and the run
archive. Instead each proxy is standardised against a **fixed reference sample** of the space (seeded, scored once
per evaluator): ``z_p = (t_p(s) - median_p) / (IQR_p / 1.349)`` with ``t_p = log`` for positive, heavy-tailed sums
(snip, grad_norm, fisher, params, flops; synflow and nwot are already logs) and the identity otherwise; the
ensemble score is ``mean_p z_p``. This is scale-free like rank averaging, monotone in every proxy, a fixed function
of the architecture, and — unlike the percentile within the reference (its rank) — it does not saturate at 1 for
the architectures better than the whole reference sample, which is exactly where a search spends its time.
Median/IQR rather than mean/std so that a degenerate reference member (score ``LOG_ZERO``) cannot swamp the scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from .base import safe_log

_IQR_TO_SIGMA = 1.349  # IQR of a standard normal


def rank_average(scores: Mapping[str, Sequence[float]]) -> np.ndarray:
    """Mean rank of each candidate over the proxies.

    Args:
        scores: ``{proxy: scores of the n candidates}`` (all the same length n; higher is better; NaN counts as the
            lowest score).

    Returns:
        ``(n,)`` float array: mean over proxies of the candidate's rank (1 = lowest score, n = highest; ties get
        their average rank). Higher is better.
    """
    if not scores:
        raise ValueError("rank_average needs at least one proxy's scores")
    arrays = [np.asarray(v, dtype=float) for v in scores.values()]
    n = len(arrays[0])
    if any(a.shape != (n,) for a in arrays):
        raise ValueError("rank_average: every proxy needs one score per candidate (same length)")
    ranks = [rankdata(np.where(np.isnan(a), -np.inf, a)) for a in arrays]
    return np.mean(ranks, axis=0)


@dataclass(frozen=True)
class ReferenceScale:
    """Median and robust spread of one proxy (on its ensemble scale) over a reference sample."""

    center: float
    scale: float

    @classmethod
    def fit(cls, values: Sequence[float]) -> "ReferenceScale":
        v = np.asarray(values, dtype=float)
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        scale = (q3 - q1) / _IQR_TO_SIGMA
        if not scale > 0:  # constant reference: fall back to the spread, then to 1
            scale = float(np.std(v)) or 1.0
        return cls(float(med), float(scale))


def ensemble_scale(value: float, log: bool) -> float:
    """A proxy score on the scale the per-architecture ensemble standardises."""
    return safe_log(value) if log else float(value)


def reference_ensemble(scores: Mapping[str, float], reference: Mapping[str, ReferenceScale],
                       log_scale: Mapping[str, bool]) -> float:
    """Per-architecture ensemble: mean robust z-score of each proxy against its reference sample."""
    zs = [(ensemble_scale(scores[p], log_scale[p]) - reference[p].center) / reference[p].scale for p in scores]
    z = float(np.mean(zs))
    return z if math.isfinite(z) else -math.inf
