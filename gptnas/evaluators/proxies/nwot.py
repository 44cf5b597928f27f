"""NASWOT / nwot (Mellor et al. 2021, "Neural architecture search without training", v2 of the paper).

Every ReLU's input, flattened per image, gives a binary code c_n = [pre-activation > 0]. The kernel
``K[n, m] = Σ_ReLUs (c_n·c_m + (1-c_n)·(1-c_m))`` counts the units on which images n and m agree (so
``K = N_A - d_H``, the paper's units minus Hamming distance); the score is ``log|det K|``. Train-mode BatchNorm,
one forward pass, no gradients. A singular K (e.g. every ReLU input is zero) scores :data:`~.base.LOG_ZERO`.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import LOG_ZERO, Proxy


def nwot(net: nn.Module, x, y, input_shape) -> float:
    """log|det K| of ``net`` on the images ``x`` (labels unused)."""
    b = x.shape[0]
    kernel = torch.zeros((b, b), dtype=torch.float64)

    def hook(_module, inp, _out):
        codes = (inp[0].detach().reshape(b, -1) > 0).float()  # float32 is exact: counts stay < 2**24 per layer
        units = codes.shape[1]
        ones = codes.sum(1)
        # c·c' + (1-c)·(1-c') = 2 c·c' - |c| - |c'| + units: one matrix product instead of two
        agree = 2 * codes @ codes.T - ones[:, None] - ones[None, :] + units
        kernel.add_(agree.double())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    sign, logabsdet = torch.linalg.slogdet(kernel)
    return float(logabsdet) if float(sign) != 0 and torch.isfinite(logabsdet) else LOG_ZERO


PROXY = Proxy("nwot", nwot, needs_data=True, log_in_ensemble=False,
              summary="log|det K|, K = agreement of ReLU codes over a batch (Mellor et al. 2021)")
