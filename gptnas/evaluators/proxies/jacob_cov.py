"""jacob_cov (Mellor et al. 2020, NASWOT v1; as used in Abdelfattah et al. 2021).

J is the Jacobian of the summed logits w.r.t. each input, one row per image ``(B, C·H·W)``; with Σ_J its
correlation matrix across the batch and λ its eigenvalues, the score is ``-Σ_i [log(λ_i + k) + 1/(λ_i + k)]``,
``k = 1e-5`` (higher: less correlated input gradients). Train-mode BatchNorm.

When a row of J is constant (e.g. the logits do not depend on the input), the correlation is undefined; the score
is then the formula's minimum over correlation matrices, reached when all rows are perfectly correlated
(eigenvalues B, 0, …, 0): ``-[log(B + k) + 1/(B + k) + (B - 1)(log k + 1/k)]``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import Proxy

_K = 1e-5


def _score(eig: np.ndarray) -> float:
    eig = np.clip(eig, 0.0, None)  # tiny negative rounding errors
    return float(-np.sum(np.log(eig + _K) + 1.0 / (eig + _K)))


def jacob_cov(net: nn.Module, x, y, input_shape) -> float:
    """jacob_cov of ``net`` on the images ``x`` (labels unused)."""
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    (jac,) = torch.autograd.grad(out, x, torch.ones_like(out), allow_unused=True)
    b = x.shape[0]
    worst = _score(np.array([b] + [0.0] * (b - 1)))
    if jac is None:
        return worst
    j = jac.reshape(b, -1).double().numpy()
    if np.any(j.std(axis=1) == 0):
        return worst
    return _score(np.linalg.eigvalsh(np.corrcoef(j)))


PROXY = Proxy("jacob_cov", jacob_cov, needs_data=True, log_in_ensemble=False,
              summary="-Σ log(λ+k)+1/(λ+k), λ eigenvalues of corr(∂Σf/∂x) (Mellor et al. 2020)")
