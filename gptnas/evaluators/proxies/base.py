"""What every zero-cost proxy shares: the :class:`Proxy` record, the layers it scores and its degenerate values.

A proxy scores one freshly initialised network (train mode, float32) and returns a float where **higher means a
better predicted accuracy**. It may modify the network it is given (cast it to float64, replace its BatchNorm, take
absolute values of its weights): callers build a new one per proxy, from the same seed.

Data: ``x`` is a float tensor ``(B, C, H, W)`` and ``y`` int64 class labels ``(B,)``; data-free proxies get ``None``
for both and use ``input_shape`` = (C, H, W) only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import nn

#: Stand-in for log(0) (a degenerate network: all gradients zero, a singular kernel). Finite so that a valid but
#: degenerate architecture ranks last without being mistaken for a failed evaluation; far below any log that
#: float64 can produce (> -745 per factor).
LOG_ZERO = -1e6

ProxyFn = Callable[[nn.Module, Optional[torch.Tensor], Optional[torch.Tensor], Sequence[int]], float]


@dataclass(frozen=True)
class Proxy:
    """A registered zero-cost proxy.

    Attributes:
        name: registry key (``"synflow"``).
        fn: ``fn(net, x, y, input_shape) -> float``; higher is better.
        needs_data: whether ``fn`` needs a real batch ``(x, y)``.
        log_in_ensemble: whether the per-architecture ensemble works on ``log(score)`` (positive, heavy-tailed sums).
        summary: one line: definition and source.
    """

    name: str
    fn: ProxyFn
    needs_data: bool
    log_in_ensemble: bool
    summary: str


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """The Conv and Linear layers: the parameters every saliency proxy sums over (as in Abdelfattah et al.)."""
    return [m for m in net.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def safe_log(value: float) -> float:
    """``log(value)``, or :data:`LOG_ZERO` when ``value`` is 0 (or not positive)."""
    return math.log(value) if value > 0 else LOG_ZERO


def cross_entropy_grads(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Gradients of the mean cross-entropy on ``(x, y)`` w.r.t. each :func:`weight_layers` weight (zeros if unused)."""
    layers = weight_layers(net)
    loss = nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, [m.weight for m in layers], allow_unused=True)
    return [torch.zeros_like(m.weight) if g is None else g for m, g in zip(layers, grads)]
