"""The 15 block types of the GPT-NAS block-chain space (Yu et al., arXiv 2305.05351, section 3.1), as modules.

Every builder takes ``(c_in, c_out, stride)`` and returns a module mapping ``(N, c_in, H, W)`` to
``(N, c_out, ceil(H / stride), ceil(W / stride))``, so any chain of blocks is a valid network. The designs follow
torchvision's definitions of the named families, at the widths the chain gives them. Blocks that cannot change
the width or the resolution themselves (SqueezeExcitation, BatchNorm, ReLU, pooling for the width) get a 1×1
Conv-BN adapter in front when the chain asks for a change: skip connections exist only inside blocks.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .block_types import BLOCK_TYPES  # noqa: E402,F401 (re-exported)


def conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU):
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def _groups(channels: int, want: int) -> int:
    """Largest divisor of ``channels`` that is at most ``want`` (grouped convs must divide the width)."""
    return max(g for g in range(1, min(want, channels) + 1) if channels % g == 0)


class Residual(nn.Module):
    """``act(body(x) + shortcut(x))`` with a 1×1 Conv-BN shortcut when the shape changes (ResNet style)."""

    def __init__(self, body: nn.Module, c_in: int, c_out: int, stride: int, act: bool = True):
        super().__init__()
        self.body = body
        self.shortcut = (conv_bn(c_in, c_out, 1, stride, act=None) if (c_in != c_out or stride != 1)
                         else nn.Identity())
        self.act = nn.ReLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class SqueezeExcitation(nn.Module):
    """Channel attention (EfficientNet): global pool → 1×1 reduce → SiLU → 1×1 expand → sigmoid → scale."""

    def __init__(self, c: int, squeeze: int, act: type = nn.SiLU):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class Inception(nn.Module):
    """GoogLeNet's module: 1×1 | 1×1→3×3 | 1×1→3×3 | maxpool 3×3→1×1, concatenated (torchvision uses 3×3 in
    the third branch too). ``c_out`` is split over the branches."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        q = c_out // 4
        widths = (c_out - 3 * q, q, q, q)
        self.b1 = conv_bn(c_in, widths[0], 1)
        self.b2 = nn.Sequential(conv_bn(c_in, max(1, widths[1] // 2), 1), conv_bn(max(1, widths[1] // 2), widths[1], 3))
        self.b3 = nn.Sequential(conv_bn(c_in, max(1, widths[2] // 4), 1), conv_bn(max(1, widths[2] // 4), widths[2], 3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv_bn(c_in, widths[3], 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int = 2):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class InvertedResidual(nn.Module):
    """ShuffleNetV2 unit. Same shape: split channels, transform one half, concatenate, shuffle. Changing shape:
    both branches see the whole input (the downsampling unit). ``c_out`` must be even."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        half = c_out // 2
        self.split = c_in == c_out and stride == 1
        b_in = c_in // 2 if self.split else c_in
        if self.split:
            self.branch1 = None
        else:
            self.branch1 = nn.Sequential(nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
                                         nn.BatchNorm2d(c_in), conv_bn(c_in, c_out - half, 1))
        self.branch2 = nn.Sequential(conv_bn(b_in, half, 1),
                                     nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False),
                                     nn.BatchNorm2d(half), conv_bn(half, half, 1))
        self.shuffle = ChannelShuffle(2)

    def forward(self, x):
        if self.split:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.branch2(b)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return self.shuffle(out)


def _bottleneck(c_in: int, c_out: int, stride: int, mid: int, groups: int = 1) -> nn.Module:
    body = nn.Sequential(conv_bn(c_in, mid, 1), conv_bn(mid, mid, 3, stride, groups=_groups(mid, groups)),
                         conv_bn(mid, c_out, 1, act=None))
    return Residual(body, c_in, c_out, stride)


def _adapter(c_in: int, c_out: int, stride: int, block: nn.Module) -> nn.Module:
    """``block`` preceded by a 1×1 Conv-BN when the chain changes width or resolution here."""
    if c_in == c_out and stride == 1:
        return block
    return nn.Sequential(conv_bn(c_in, c_out, 1, stride, act=None), block)


def build_block(kind: int | str, c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    """One block of the chain.

    Args:
        kind: index into :data:`BLOCK_TYPES` or its name.
        c_in, c_out: channels in and out; ``c_out`` even (the ShuffleNet unit splits it).
        stride: 1, or 2 where the chain halves the resolution.
    Returns:
        module mapping ``(N, c_in, H, W)`` → ``(N, c_out, ceil(H/stride), ceil(W/stride))``.
    """
    name = BLOCK_TYPES[kind] if isinstance(kind, int) else kind
    if name == "ConvNormActivation":
        return conv_bn(c_in, c_out, 3, stride, act=nn.SiLU)
    if name == "SqueezeExcitation":
        return _adapter(c_in, c_out, stride, SqueezeExcitation(c_out, max(1, c_out // 4)))
    if name == "Inception":
        inc = Inception(c_in, c_out)
        return inc if stride == 1 else nn.Sequential(nn.MaxPool2d(3, stride, 1), inc)
    if name in ("AvgPool", "MaxPool"):
        pool = (nn.AvgPool2d(3, stride, 1, count_include_pad=False) if name == "AvgPool"
                else nn.MaxPool2d(3, stride, 1))
        return pool if c_in == c_out else nn.Sequential(pool, conv_bn(c_in, c_out, 1, act=None))
    if name == "ResBottleneckBlock":  # RegNet: bottleneck multiplier 1, group width 8, SE on the 3×3 output
        body = nn.Sequential(conv_bn(c_in, c_out, 1), conv_bn(c_out, c_out, 3, stride, groups=_groups(c_out, c_out // 8 or 1)),
                             SqueezeExcitation(c_out, max(1, c_in // 4), act=nn.ReLU), conv_bn(c_out, c_out, 1, act=None))
        return Residual(body, c_in, c_out, stride)
    if name == "Stem":  # RegNet's simple stem: 3×3 conv, BN, ReLU
        return conv_bn(c_in, c_out, 3, stride)
    if name == "Bottleneck":  # ResNet: expansion 4
        return _bottleneck(c_in, c_out, stride, max(1, c_out // 4))
    if name == "BasicBlock":
        body = nn.Sequential(conv_bn(c_in, c_out, 3, stride), conv_bn(c_out, c_out, 3, act=None))
        return Residual(body, c_in, c_out, stride)
    if name == "ResNeXtBottleneck":  # ResNeXt 32×4d style: cardinality 32 (or what the width allows)
        return _bottleneck(c_in, c_out, stride, max(1, c_out // 2), groups=32)
    if name == "InvertedResidual":
        return InvertedResidual(c_in, c_out, stride)
    if name == "WideBottleneck":  # Wide-ResNet-50-2: the bottleneck twice as wide as ResNet's
        return _bottleneck(c_in, c_out, stride, max(1, c_out // 2))
    if name == "BatchNorm":
        return _adapter(c_in, c_out, stride, nn.BatchNorm2d(c_out))
    if name == "ReLU":
        return _adapter(c_in, c_out, stride, nn.ReLU())
    if name == "Conv":
        return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
    raise ValueError(f"unknown block type {kind!r}: expected one of {', '.join(BLOCK_TYPES)}")


def out_resolution(h: int, stride: int) -> int:
    return math.ceil(h / stride)
