"""Zero-cost proxies: a registry of scores computed on an untrained network, and their ensembles.

Registered (higher is better for all): ``synflow`` (log), ``snip``, ``grad_norm``, ``grasp``, ``fisher``,
``jacob_cov``, ``nwot``, ``params`` (M), ``flops`` (MFLOPs). Definitions follow Abdelfattah et al. 2021
("Zero-cost proxies for lightweight NAS"), Mellor et al. 2021 (NASWOT) and Tanaka et al. 2020 (SynFlow); each
module's docstring gives the formula.

>>> from gptnas.evaluators.proxies import score_proxy
>>> score_proxy("synflow", net, None, None, (3, 32, 32))   # net is consumed (modified): build one per proxy
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from ...errors import ConfigError
from . import fisher, flops, grad_norm, grasp, jacob_cov, nwot, params, snip, synflow
from .base import LOG_ZERO, Proxy
from .ensemble import ReferenceScale, rank_average, reference_ensemble

PROXIES: dict[str, Proxy] = {}


def register(proxy: Proxy) -> Proxy:
    """Add a proxy to the registry (names are unique)."""
    if proxy.name in PROXIES:
        raise ValueError(f"proxy {proxy.name!r} is already registered")
    PROXIES[proxy.name] = proxy
    return proxy


for _module in (synflow, snip, grad_norm, grasp, fisher, jacob_cov, nwot, params, flops):
    register(_module.PROXY)


def get_proxy(name: str) -> Proxy:
    """The registered proxy ``name``; :class:`ConfigError` listing the valid names otherwise."""
    try:
        return PROXIES[name]
    except KeyError:
        raise ConfigError(f"unknown zero-cost proxy {name!r}: choose from {', '.join(PROXIES)}") from None


def score_proxy(name: str, net: nn.Module, x: Optional[torch.Tensor], y: Optional[torch.Tensor],
                input_shape: Sequence[int]) -> float:
    """Score ``net`` (a fresh network, which the proxy may modify) with proxy ``name``.

    ``x`` ``(B, *input_shape)`` float and ``y`` ``(B,)`` int64 are required by data-dependent proxies.
    """
    proxy = get_proxy(name)
    if proxy.needs_data and (x is None or y is None):
        raise ConfigError(f"proxy {name!r} needs a data batch (x, y)")
    net.train()
    return float(proxy.fn(net, x, y, tuple(input_shape)))


__all__ = ["LOG_ZERO", "PROXIES", "Proxy", "ReferenceScale", "get_proxy", "rank_average", "reference_ensemble",
           "register", "score_proxy"]
