"""The NAS-Bench-201 network: the benchmark's own cell-based skeleton, built from an official arch string.

Layout (``C`` = ``channels``, ``N`` = ``cells_per_stage``), input ``(B, in_channels, H, W)``:

- stem: Conv3x3(in_channels→C, no bias) + BN                                 → (B, C, H, W)
- stage 1: N cells at C                                                        → (B, C, H, W)
- reduction: ResNet basic block C→2C, stride 2                                → (B, 2C, H/2, W/2)
- stage 2: N cells at 2C; reduction 2C→4C; stage 3: N cells at 4C            → (B, 4C, H/4, W/4)
- BN + ReLU, global average pooling, Linear(4C→num_classes)                  → (B, num_classes) logits

Cell: node 0 is the cell input; node j (1..3) is the sum over i < j of ``op_ij(node i)``; node 3 is the output.
Ops: ``none`` (zero), ``skip_connect`` (identity), ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU → Conv(no bias) → BN with
affine), ``avg_pool_3x3`` (stride 1, padding 1, ``count_include_pad=False``).

Parameter count: every ``nn.Parameter`` (conv weights, BN affine weight and bias, classifier weight and bias; BN
running statistics are buffers, not counted). ``none``, ``skip_connect`` and ``avg_pool_3x3`` have no parameters (in
this skeleton a cell never changes the channel count, so pooling needs no 1x1 projection). This reproduces the
benchmark's ``params`` (MB = 1e6 parameters) exactly: the NATS fixture's records, NASLib's 2,174 reference entries,
and ``*_ctpe_params_mb`` of ``nb201_extra.csv`` for 15,475 of the 15,625 cells at 10/100/120 classes. The other
150 rows hold another cell's count (always one conv edge × 15 cells more or fewer): the known NATS-Bench data bug
of the 200-epoch records (D-X-Y/NATS-Bench issue #36, ``get_cost_info(hp="200")`` ≠ ``hp="12"`` for some cells),
which those rows were taken from; the test lists them. :func:`nb201_param_count` gives the count without building
modules.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import nn

from ...encodings import nb201 as enc

log = logging.getLogger(__name__)


class ReLUConvBN(nn.Sequential):
    """ReLU → Conv2d(no bias) → BatchNorm2d(affine). ``(B, c_in, H, W) → (B, c_out, H/stride, W/stride)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),  # not in place: proxies hook on ReLU inputs
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros of the input's shape (multiplied, not allocated, so gradients flow as zeros)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """One cell edge with ``channels`` in and out, stride 1."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}: ops are {', '.join(enc.OPS)}")


class NB201Cell(nn.Module):
    """A 4-node cell; ``ops`` is the op list (official edge order). ``(B, C, H, W) → (B, C, H, W)``."""

    def __init__(self, ops: Sequence[int], channels: int):
        super().__init__()
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(make_op(enc.OPS[o], channels) for o in self.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(sum(self.edges[e](nodes[src]) for e, (dst, src) in enumerate(enc.EDGES) if dst == target))
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block ``c_in → c_out``, stride 2. ``(B, c_in, H, W) → (B, c_out, H/2, W/2)``.

    ``conv_b(conv_a(x)) + shortcut(x)``; the shortcut is AvgPool2d(2) → Conv1x1(no bias).
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, stride=1)
        self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                        nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """The NAS-Bench-201 network for one cell.

    Args:
        arch_str: official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, or an op list (6 ints).
        num_classes: logits out (10 CIFAR-10, 100 CIFAR-100, 120 ImageNet16-120).
        in_channels: image channels in (3 for the benchmark's datasets).
        channels: stem width C (16 in the benchmark); stages run at C, 2C, 4C.
        cells_per_stage: N (5 in the benchmark).

    ``forward``: ``(B, in_channels, H, W)`` float → ``(B, num_classes)`` logits; H and W divisible by 4.
    """

    def __init__(self, arch_str: str | Sequence[int], num_classes: int = 10, in_channels: int = 3,
                 channels: int = 16, cells_per_stage: int = 5):
        super().__init__()
        self.ops = enc.string_to_ops(arch_str) if isinstance(arch_str, str) else enc.check_ops(arch_str)
        self.arch_str = enc.ops_to_string(self.ops)
        self.num_classes, self.in_channels = int(num_classes), int(in_channels)
        self.channels, self.cells_per_stage = int(channels), int(cells_per_stage)
        c = self.channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, kernel_size=3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage > 0:
                layers.append(ResNetBasicBlock(width // 2, width))
            layers.extend(NB201Cell(self.ops, width) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(x).flatten(1))

    def extra_repr(self) -> str:
        return f"arch={self.arch_str!r}, num_classes={self.num_classes}, C={self.channels}, N={self.cells_per_stage}"


# Analytic parameter count --------------------------------------------------------------------------------------
def _conv_bn(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + 2 * c_out  # conv weight (no bias) + BN affine weight and bias


def _op_params(op: int, c: int) -> int:
    name = enc.OPS[op]
    if name == "nor_conv_1x1":
        return _conv_bn(c, c, 1)
    if name == "nor_conv_3x3":
        return _conv_bn(c, c, 3)
    return 0


def nb201_param_count(ops: Sequence[int], num_classes: int = 10, in_channels: int = 3, channels: int = 16,
                      cells_per_stage: int = 5) -> int:
    """Number of parameters of :class:`NB201Network` (an int, not MB) without building it.

    Equal to ``sum(p.numel() for p in NB201Network(...).parameters())``; the test checks both against the table.
    """
    ops = enc.check_ops(ops)
    c = channels
    total = _conv_bn(in_channels, c, 3)  # stem
    for width in (c, 2 * c, 4 * c):
        total += cells_per_stage * sum(_op_params(o, width) for o in ops)
    for width in (2 * c, 4 * c):  # reduction blocks: conv_a, conv_b, shortcut 1x1
        total += _conv_bn(width // 2, width, 3) + _conv_bn(width, width, 3) + (width // 2) * width
    total += 2 * 4 * c + 4 * c * num_classes + num_classes  # last BN, classifier
    return total


def nb201_flops(ops: Sequence[int], num_classes: int = 10, input_hw: int = 32, in_channels: int = 3,
                channels: int = 16, cells_per_stage: int = 5) -> int:
    """FLOPs of one ``(1, in_channels, input_hw, input_hw)`` forward pass, benchmark convention, without building.

    Convention (see :mod:`gptnas.evaluators.cost`): multiply-accumulates of every conv and linear layer plus the
    classifier's bias additions; equal to :func:`gptnas.evaluators.cost.measure_cost` ``(macs + bias_adds)``.
    Divide by 1e6 for the benchmark's MFLOPs.
    """
    ops = enc.check_ops(ops)
    c, hw = channels, input_hw
    per_op = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}
    total = in_channels * c * 9 * hw * hw  # stem
    for stage, width in enumerate((c, 2 * c, 4 * c)):
        side = hw >> stage  # 3x3 convs use padding 1, so stride-1 layers keep the side
        pixels = side * side
        if stage > 0:  # reduction: conv_a (stride 2), conv_b, shortcut 1x1 on the pooled input
            total += (width // 2) * width * 9 * pixels + width * width * 9 * pixels + (width // 2) * width * pixels
        total += cells_per_stage * sum(per_op.get(enc.OPS[o], 0) * width * width * pixels for o in ops)
    return total + 4 * c * num_classes + num_classes
