"""GraSP (Wang et al. 2020, "Picking winning tickets before training by preserving gradient flow"), as a NAS proxy
in Abdelfattah et al. 2021: ``sum over Conv/Linear weights of -θ ⊙ (H g)``, with g = ∂L/∂θ and H the Hessian of
the mean cross-entropy L on one batch (temperature 1, train-mode BatchNorm). ``H g`` is a Hessian-vector product:
the gradient of ``g_detached · ∂L/∂θ``. The minus sign follows Abdelfattah et al. (so that higher is better).
"""
from __future__ import annotations

import torch
from torch import nn

from .base import Proxy, cross_entropy_grads, weight_layers


def grasp(net: nn.Module, x, y, input_shape) -> float:
    """GraSP score of ``net`` on the batch ``(x, y)``."""
    layers = weight_layers(net)
    weights = [m.weight for m in layers]
    g = [t.detach() for t in cross_entropy_grads(net, x, y)]
    loss = nn.functional.cross_entropy(net(x), y)
    g_graph = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((gd * gg).sum() for gd, gg in zip(g, g_graph) if gg is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0  # no weight reaches the loss: H g = 0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))


PROXY = Proxy("grasp", grasp, needs_data=True, log_in_ensemble=False,
              summary="sum -θ⊙Hg on one batch (Wang et al. 2020)")
