"""The NAS-Bench-101 network and its layer sequences for the GPT. The torch modules are in ``modules.py``, imported
when a network is built: importing this module costs no torch."""
from __future__ import annotations

import functools
from typing import Iterator, Sequence

from .graph import OPS, canonical, cell_or_raise, compute_vertex_channels



def build_network(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                  stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3, bn_momentum: float = 0.1):
    """The ``NB101Network`` of a genome (its canonical pruned cell); ``input_shape`` is ``(C, H, W)``."""
    matrix, labels = canonical(*cell_or_raise(genome))
    from .modules import NB101Network
    return NB101Network(matrix, labels, num_classes=num_classes, in_channels=input_shape[0],
                        stem_channels=stem_channels, num_stacks=num_stacks, cells_per_stack=cells_per_stack,
                        bn_momentum=bn_momentum)


def trace_network_layers(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32),
                         device: str = "meta", **kwargs) -> list:
    """Reference: :func:`~gptnas.encodings.layers.trace_layers` of the whole network built on ``device``.

    0.07 to 0.2 s per genome on the meta device (BatchNorm's meta kernel is a Python decomposition; building the
    modules alone takes ~30 ms); the result equals :func:`network_layers`, which the tests check.
    """
    import torch

    from ...encodings.layers import trace_layers

    with torch.device(device):
        net = build_network(genome, input_shape, **kwargs)
    return trace_layers(net, tuple(input_shape))


@functools.lru_cache(maxsize=None)
def _primitive_layers(kind: str, args: tuple, shape: tuple[int, int, int]) -> tuple:
    """``trace_layers`` of one of the network's building blocks, built on the meta device (cached: a corpus uses
    only a few hundred distinct blocks). ``shape`` is the block's input ``(C, H, W)``."""
    import torch
    from torch import nn

    from ...encodings.layers import trace_layers
    from .modules import ConvBnRelu

    with torch.device("meta"):
        if kind == "cbr":  # (c_in, c_out, kernel)
            block = ConvBnRelu(*args)
        elif kind == "maxpool3":
            block = nn.MaxPool2d(3, stride=1, padding=1)
        elif kind == "maxpool2":
            block = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        elif kind == "gap":
            block = nn.AdaptiveAvgPool2d(1)
        else:  # fc: (c_in, num_classes), on the pooled (C, 1, 1) map (Flatten writes no layer)
            block = nn.Sequential(nn.Flatten(), nn.Linear(*args))
    return tuple(trace_layers(block, shape))


def _network_plan(matrix, labels, input_shape, num_classes=10, stem_channels=128, num_stacks=3, cells_per_stack=3,
                  bn_momentum=None) -> Iterator[tuple[str, tuple, tuple[int, int, int]]]:
    """The blocks of :class:`NB101Network` in the order its ``forward`` calls them: ``(kind, args, input (C,H,W))``.

    Mirrors ``NB101Network.forward`` / ``NB101Cell.forward`` (the tests compare with a full trace).
    """
    c, h, w = input_shape
    yield "cbr", (c, stem_channels, 3), (c, h, w)
    c = stem_channels
    n = len(matrix)
    for stack in range(num_stacks):
        c_out = c if stack == 0 else 2 * c
        if stack > 0:
            yield "maxpool2", (), (c, h, w)
            h, w = -(-h // 2), -(-w // 2)
        for _ in range(cells_per_stack):
            ch = compute_vertex_channels(c, c_out, matrix)
            for t in range(1, n - 1):
                if matrix[0][t]:
                    yield "cbr", (c, ch[t], 1), (c, h, w)
                op = OPS[labels[t - 1]]
                if op == "maxpool3x3":
                    yield "maxpool3", (), (ch[t], h, w)
                else:
                    yield "cbr", (ch[t], ch[t], 3 if op == "conv3x3-bn-relu" else 1), (ch[t], h, w)
            if matrix[0][n - 1]:
                yield "cbr", (c, c_out, 1), (c, h, w)
            c = c_out
    yield "gap", (), (c, h, w)
    yield "fc", (c, num_classes), (c, 1, 1)


def network_layers(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list:
    """The network's :class:`~gptnas.encodings.layers.Layer` records in execution order.

    Each building block (Conv-BN-ReLU of given widths and resolution, a pooling, the classifier) is traced once on
    the meta device and cached; a genome's sequence is its blocks' traces in ``forward`` order, about 1 ms instead of
    the 0.2 s of tracing the whole network (:func:`trace_network_layers`, which gives the same list). ``kwargs`` go
    to :func:`build_network` (``num_classes``, ``stem_channels``, ``num_stacks``, ``cells_per_stack``).
    """
    matrix, labels = canonical(*cell_or_raise(genome))
    return [layer for kind, args, shape in _network_plan(matrix, labels, tuple(input_shape), **kwargs)
            for layer in _primitive_layers(kind, args, shape)]


def layer_tokens(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list[str]:
    """The GPT tokens (:meth:`Layer.token`) of the network's layers; isomorphic cells give the same list."""
    return [layer.token() for layer in network_layers(genome, input_shape, **kwargs)]


def layer_texts(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), **kwargs) -> list[str]:
    """The lossless :meth:`Layer.text` of the network's layers (``encodings.layers.decode`` reads them back)."""
    return [layer.text() for layer in network_layers(genome, input_shape, **kwargs)]
