"""grad_norm (Abdelfattah et al. 2021): the sum over Conv/Linear layers of the Euclidean (Frobenius) norm of the
gradient of the mean cross-entropy on one batch w.r.t. that layer's weight (train-mode BatchNorm).
"""
from __future__ import annotations

from torch import nn

from .base import Proxy, cross_entropy_grads


def grad_norm(net: nn.Module, x, y, input_shape) -> float:
    """Sum of per-layer gradient norms of ``net`` on the batch ``(x, y)``."""
    return float(sum(g.norm() for g in cross_entropy_grads(net, x, y)))


PROXY = Proxy("grad_norm", grad_norm, needs_data=True, log_in_ensemble=True,
              summary="sum over layers of ||∂L/∂W||₂ on one batch (Abdelfattah et al. 2021)")
