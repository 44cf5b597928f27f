"""Fisher (Theis et al. 2018; Turner et al. 2020), as a NAS proxy in Abdelfattah et al. 2021.

For each output channel k of each Conv/Linear layer, with activations a (the layer's output) and their gradients
g = ∂L/∂a on one batch (mean cross-entropy, train-mode BatchNorm):
``F_k = ½ · mean_n (Σ_spatial a_nk · g_nk)²``. As in the reference implementations, the per-channel value is given
to every weight of that channel and the score sums over weights: ``Σ_layers Σ_k F_k · (fan-in of channel k)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .base import Proxy, weight_layers


def fisher(net: nn.Module, x, y, input_shape) -> float:
    """Fisher saliency of ``net`` on the batch ``(x, y)``."""
    layers = weight_layers(net)
    per_layer: dict[int, torch.Tensor] = {}
    handles = []

    def forward_hook(module, _inp, out):
        act = out.detach()

        def grad_hook(grad, i=id(module), act=act):
            prod = act * grad
            g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod  # (N, channels)
            f = 0.5 * g_nk.pow(2).mean(0)
            per_layer[i] = per_layer[i] + f if i in per_layer else f

        if out.requires_grad:
            out.register_hook(grad_hook)

    for m in layers:
        handles.append(m.register_forward_hook(forward_hook))
    try:
        net.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for m in layers:
        if id(m) in per_layer:
            total += float(per_layer[id(m)].sum()) * math.prod(m.weight.shape[1:])
    return total


PROXY = Proxy("fisher", fisher, needs_data=True, log_in_ensemble=True,
              summary="Σ_k ½·mean_n(Σ a⊙∂L/∂a)² per channel × fan-in (Turner et al. 2020)")
