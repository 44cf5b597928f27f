"""#params: the number of parameters, in millions (NAS-Bench-Suite-Zero's baseline proxy). Data-free."""
from __future__ import annotations

from torch import nn

from ..cost import count_params
from .base import Proxy


def params(net: nn.Module, x, y, input_shape) -> float:
    """Parameters of ``net`` in millions."""
    return count_params(net) / 1e6


PROXY = Proxy("params", params, needs_data=False, log_in_ensemble=True,
              summary="number of parameters (M)")
