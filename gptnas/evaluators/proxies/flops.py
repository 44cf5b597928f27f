"""FLOPs: one forward pass of batch 1 at ``input_shape``, in MFLOPs, benchmark convention (multiply-accumulates of
Conv/Linear layers plus bias additions; see :mod:`gptnas.evaluators.cost`). Data-free."""
from __future__ import annotations

from torch import nn

from ..cost import measure_cost
from .base import Proxy


def flops(net: nn.Module, x, y, input_shape) -> float:
    """MFLOPs of ``net`` on one input of ``input_shape``."""
    return measure_cost(net, input_shape).flops_m


PROXY = Proxy("flops", flops, needs_data=False, log_in_ensemble=True,
              summary="MFLOPs of one forward pass, MAC convention (NAS-Bench-201)")
