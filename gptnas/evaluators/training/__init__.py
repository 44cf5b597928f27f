"""Fitness by training real networks: :mod:`.evaluator` (:class:`TrainingEvaluator`), :mod:`.placement` (where the
data lives: on the device, or streamed), :mod:`.loop` (the SGD training loop and accuracy)."""
from .evaluator import TrainingEvaluator, arch_seed, resolve_device
from .loop import CandidateFailed
from .placement import DeviceData, Gather

__all__ = ["CandidateFailed", "DeviceData", "Gather", "TrainingEvaluator", "arch_seed", "resolve_device"]
