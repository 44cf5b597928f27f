"""The NAS-Bench-101 network's torch modules (imported only when a network is built: ``network.build_network``).

See :mod:`gptnas.spaces.nb101` for the differences from the official network."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .graph import OPS, compute_vertex_channels


class ConvBnRelu(nn.Sequential):
    """Conv(k×k, stride 1, ``same`` padding, no bias) → BN → ReLU. ``(B, c_in, H, W) → (B, c_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bn_momentum: float = 0.1):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out, eps=1e-5, momentum=bn_momentum),
                         nn.ReLU(inplace=False))  # not in place: proxies hook on ReLU inputs


def make_op(op: int, channels: int, bn_momentum: float) -> nn.Module:
    if OPS[op] == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3, bn_momentum)
    if OPS[op] == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1, bn_momentum)
    return nn.MaxPool2d(3, stride=1, padding=1)


class NB101Cell(nn.Module):
    """One cell (the official ``build_module``) from its pruned ``matrix`` (n×n) and interior ``labels``.

    ``(B, c_in, H, W) → (B, c_out, H, W)``.
    """

    def __init__(self, matrix: Sequence[Sequence[int]], labels: Sequence[int], c_in: int, c_out: int,
                 bn_momentum: float = 0.1):
        super().__init__()
        self.matrix = tuple(tuple(int(b) for b in r) for r in matrix)
        self.labels = tuple(int(o) for o in labels)
        n = len(self.matrix)
        self.channels = compute_vertex_channels(c_in, c_out, self.matrix)
        ch = self.channels
        self.proj = nn.ModuleDict({str(t): ConvBnRelu(c_in, ch[t], 1, bn_momentum)
                                   for t in range(1, n - 1) if self.matrix[0][t]})
        self.vertex_ops = nn.ModuleList(make_op(o, ch[t], bn_momentum) for t, o in enumerate(self.labels, 1))
        self.out_proj = ConvBnRelu(c_in, c_out, 1, bn_momentum) if self.matrix[0][n - 1] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, ch = len(self.matrix), self.matrix, self.channels
        values, concat = [x], []
        for t in range(1, n - 1):
            add_in = [values[s][:, :ch[t]] for s in range(1, t) if m[s][t]]  # truncate to this vertex's width
            if m[0][t]:
                add_in.append(self.proj[str(t)](x))
            v = add_in[0] if len(add_in) == 1 else torch.stack(add_in).sum(0)
            values.append(self.vertex_ops[t - 1](v))
            if m[t][n - 1]:
                concat.append(values[t])
        if not concat:  # only input -> output
            return self.out_proj(x)
        out = concat[0] if len(concat) == 1 else torch.cat(concat, 1)
        return out + self.out_proj(x) if self.out_proj is not None else out

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class NB101Network(nn.Module):
    """The NAS-Bench-101 network of one cell (see the module docstring for the differences from the official one).

    Args:
        matrix, labels: the cell, pruned (use :func:`build_network` to start from a genome).
        num_classes: logits out. in_channels: image channels in.
        stem_channels: stem width (128 officially); stack s runs at ``stem_channels * 2**s``.
        num_stacks, cells_per_stack: 3 and 3 officially.
        bn_momentum: PyTorch BatchNorm momentum (official decay 0.997 is ``0.003``).

    ``forward``: ``(B, in_channels, H, W)`` → ``(B, num_classes)``; any H, W ≥ 1.
    """

    def __init__(self, matrix, labels, num_classes: int = 10, in_channels: int = 3, stem_channels: int = 128,
                 num_stacks: int = 3, cells_per_stack: int = 3, bn_momentum: float = 0.1):
        super().__init__()
        self.stem = ConvBnRelu(in_channels, stem_channels, 3, bn_momentum)
        layers: list[nn.Module] = []
        c = stem_channels
        for stack in range(num_stacks):
            c_out = c if stack == 0 else 2 * c
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))  # TF "same": odd sizes round up
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(matrix, labels, c, c_out, bn_momentum))
                c = c_out
        self.cells = nn.Sequential(*layers)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.cells(self.stem(x))).flatten(1))
