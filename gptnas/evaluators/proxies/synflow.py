"""SynFlow (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic
flow"), as a NAS proxy in Abdelfattah et al. 2021.

With every parameter replaced by its absolute value, BatchNorm bypassed and an all-ones input of batch 1,
``R = sum(net(1))``; the score is ``sum over Conv/Linear weights of |θ ⊙ ∂R/∂θ|``. Computed in float64 and
**reported as its natural log**: the raw sum spans tens of orders of magnitude (it multiplies weight magnitudes
along every path), and Spearman ρ is rank-based, so log changes nothing but keeps the number finite and readable.
NASLib's reference ``synflow`` scores are on the same log scale. A network whose output does not depend on its
weights (e.g. all cells ``none``) scores ``log 0`` → :data:`~.base.LOG_ZERO`. Data-free.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .base import LOG_ZERO, Proxy, weight_layers


def _bypass_batchnorm(net: nn.Module) -> None:
    """Replace every BatchNorm by an identity (the paper's synflow runs without BN)."""
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, child_name, nn.Identity())


def synflow(net: nn.Module, x, y, input_shape) -> float:
    """log SynFlow of ``net`` (modified in place: float64, |θ|, no BN). ``x``, ``y`` are ignored."""
    _bypass_batchnorm(net)
    net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones((1, *input_shape), dtype=torch.float64)).sum().backward()
    logs = []
    for layer in weight_layers(net):
        if layer.weight.grad is None:
            continue
        s = float((layer.weight.detach() * layer.weight.grad).abs().sum())
        if s > 0:
            logs.append(math.log(s))  # per-layer logs, summed with logsumexp: no overflow of the total
    if not logs:
        return LOG_ZERO
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs))


PROXY = Proxy("synflow", synflow, needs_data=False, log_in_ensemble=False,
              summary="log sum|θ⊙∂R/∂θ|, R = sum(f_|θ|(1)), no BN, float64 (Tanaka et al. 2020)")
