"""Schedules for operator parameters that change over a run.

GPT-NAS eliminates a fraction ``r = 0.4 (1 - t / T)`` of an architecture's components before the GPT rebuilds
them: broad exploration early, small refinements late. The engine reports progress (evaluations used / budget)
each generation; the schedule keeps no counter of its own, so it resumes exactly from a checkpoint.
"""
from __future__ import annotations


class LinearDecay:
    """``r = start + (end - start) * progress``; call it (no arguments) for the current value.

    Args:
        start: value at progress 0 (default 0.4, the paper's initial elimination rate).
        end: value at progress 1.
    """

    def __init__(self, start: float = 0.4, end: float = 0.0):
        self.start = float(start)
        self.end = float(end)
        self.progress = 0.0

    def update(self, progress: float) -> None:
        """Set the run's progress, clipped to [0, 1]."""
        self.progress = min(1.0, max(0.0, float(progress)))

    def __call__(self) -> float:
        return self.start + (self.end - self.start) * self.progress

    def __repr__(self) -> str:
        return f"LinearDecay(start={self.start}, end={self.end}, progress={self.progress:.3f})"
