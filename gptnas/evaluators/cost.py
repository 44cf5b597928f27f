"""Parameter and FLOP counts of a ``torch.nn.Module``, in the conventions of the published benchmarks.

FLOPs come from torch's own :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a multiply-add as
**2** FLOPs and counts only matrix products and convolutions (no BN, ReLU, pooling, element-wise adds, biases).

Benchmark convention (NAS-Bench-201 / NATS-Bench ``flop``, in MFLOPs; xautodl's counter): FLOPs are
**multiply-accumulates** of every Conv and Linear layer, plus one addition per output element of a layer that has a
bias; BatchNorm, ReLU, pooling and the node sums are not counted. So

    ``flops_m = (FlopCounterMode total / 2 + bias additions) / 1e6``,

which reproduces the official figures exactly (archs 0, 11, 284 of the NATS fixture: e.g. 15.64737 / 15.65322 /
3.91948 for CIFAR-10 32x32 / CIFAR-100 / ImageNet16-120 16x16, the only bias being the classifier's
``num_classes`` additions). See :func:`measure_cost`.

NASLib's ``zc_nasbench201.json`` ``flops`` use a different counter (tensorwatch): conv/linear MACs (classifier bias
not counted) **plus** 2 per BatchNorm output element, 1 per ReLU element, k² per average-pool output element and the
global pool's input elements. For NAS-Bench-201 that is, exactly for all 2,174 reference entries,

    ``naslib = benchmark - num_classes + 3·E·n_conv + 9·E·n_pool + c``

with ``E = 5·16·H·W·(1 + 1/2 + 1/4)`` the output elements of one edge over the 15 cells (``n_conv`` edges that are
1x1 or 3x3 convs, ``n_pool`` 3x3 average pools) and ``c`` = 160,832 at 32x32 (40,512 at 16x16): 156·H·W from the
skeleton's BN/ReLU/pools plus a 1,088 (576) remainder. Parameters agree between the two (every ``nn.Parameter``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCost:
    """Cost of one forward pass of batch 1.

    Attributes:
        params: number of parameters (every ``nn.Parameter``, BN affine included).
        torch_flops: FlopCounterMode's total (2 per multiply-add; convolutions and matrix products only).
        macs: multiply-accumulates of Conv/Linear layers (``torch_flops / 2``).
        bias_adds: additions for the biases of Conv/Linear layers (one per output element).
    """

    params: int
    torch_flops: int
    macs: int
    bias_adds: int

    @property
    def params_mb(self) -> float:
        """Parameters in millions (the benchmarks' "MB")."""
        return self.params / 1e6

    @property
    def flops_m(self) -> float:
        """FLOPs in millions, benchmark convention (MACs + bias additions)."""
        return (self.macs + self.bias_adds) / 1e6


def count_params(module: nn.Module) -> int:
    """Number of parameters (each shared tensor once)."""
    return sum(p.numel() for p in module.parameters())


def measure_cost(module: nn.Module, input_shape: Sequence[int]) -> ModelCost:
    """Count parameters and FLOPs of ``module`` on one input of ``input_shape`` = (C, H, W).

    Runs one forward pass without gradients, in eval mode (restored afterwards), on zeros of the module's dtype.
    """
    p = next(module.parameters(), None)
    x = torch.zeros((1, *input_shape), dtype=p.dtype if p is not None else torch.float32,
                    device=p.device if p is not None else "cpu")
    bias_adds = 0

    def bias_hook(mod, _inp, out):
        nonlocal bias_adds
        if getattr(mod, "bias", None) is not None:
            bias_adds += out.numel()

    handles = [m.register_forward_hook(bias_hook) for m in module.modules()
               if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    was_training = module.training
    counter = FlopCounterMode(display=False)
    try:
        module.eval()
        with torch.no_grad(), counter:
            module(x)
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    total = int(counter.get_total_flops())
    return ModelCost(params=count_params(module), torch_flops=total, macs=total // 2, bias_adds=bias_adds)
