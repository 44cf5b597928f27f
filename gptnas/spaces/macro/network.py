"""The network of a block chain (:class:`gptnas.spaces.macro.MacroSpace`): fixed stem → blocks → fixed head."""
from __future__ import annotations

from typing import Sequence

from torch import nn

from .blocks import build_block


def build_stem(c_in: int, width: int, input_hw: int) -> nn.Module:
    """3×3 Conv-BN-ReLU to ``width``; for inputs of 128 px or more, ImageNet's 7×7/2 conv + 3×3/2 max-pool."""
    if input_hw >= 128:
        return nn.Sequential(nn.Conv2d(c_in, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                             nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    return nn.Sequential(nn.Conv2d(c_in, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())


class ChainNet(nn.Module):
    """``(N, C, H, W)`` images → ``(N, num_classes)`` logits.

    Args:
        arch: block-type ids.
        plan: per block ``(c_in, c_out, stride, h_in)`` (see :meth:`MacroSpace.plan`).
        input_shape: ``(C, H, W)``.
    """

    def __init__(self, arch: Sequence[int], plan, input_shape: tuple[int, int, int], num_classes: int, width: int):
        super().__init__()
        self.stem = build_stem(input_shape[0], width, input_shape[1])
        self.blocks = nn.ModuleList(build_block(b, c_in, c_out, s) for b, (c_in, c_out, s, _h) in zip(arch, plan))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plan[-1][1], num_classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(self.pool(x).flatten(1))
