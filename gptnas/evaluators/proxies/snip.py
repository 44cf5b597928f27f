"""SNIP (Lee et al. 2019, "SNIP: single-shot network pruning based on connection sensitivity"), as a NAS proxy in
Abdelfattah et al. 2021: ``sum over Conv/Linear weights of |θ ⊙ ∂L/∂θ|`` with L the mean cross-entropy on one
batch (train-mode BatchNorm). This equals the paper's ``|∂L/∂c|`` of a multiplicative mask ``c = 1`` on every
weight, without patching the layers.
"""
from __future__ import annotations

from torch import nn

from .base import Proxy, cross_entropy_grads, weight_layers


def snip(net: nn.Module, x, y, input_shape) -> float:
    """SNIP saliency of ``net`` on the batch ``(x, y)``."""
    grads = cross_entropy_grads(net, x, y)
    return float(sum((m.weight.detach() * g).abs().sum() for m, g in zip(weight_layers(net), grads)))


PROXY = Proxy("snip", snip, needs_data=True, log_in_ensemble=True,
              summary="sum|θ⊙∂L/∂θ| on one batch (Lee et al. 2019)")
