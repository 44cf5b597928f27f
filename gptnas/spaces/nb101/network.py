"""The NAS-Bench-101 network (torch, built on first use) and its layer sequences for the GPT.

The torch classes are created on first use and are reachable as ``network.NB101Network``, ``network.NB101Cell`` and
``network.ConvBnRelu`` (they pickle); importing this module costs no torch."""
from __future__ import annotations

import functools
from typing import Iterator, Sequence

from .graph import OPS, cell_or_raise, canonical


def compute_vertex_channels(c_in: int, c_out: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of each vertex of a pruned cell (official ``compute_vertex_channels``).

    The output's ``c_out`` is split evenly among the interior vertices feeding it (the first ``c_out % fan_in`` of
    them get one more); a vertex that does not feed the output gets the largest channels of its successors, so a
    vertex never has fewer channels than one it feeds (truncation only ever drops channels).
    """
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    share, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            ch[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            ch[v] = max([ch[d] for d in range(v + 1, n - 1) if matrix[v][d]] + [0])
    if any(c <= 0 for c in ch[1:-1]):
        raise ValueError(f"{c_out} output channels cannot be split among {fan_in} vertices of cell {matrix!r}")
    return ch


_TORCH_CLASSES = ("ConvBnRelu", "NB101Cell", "NB101Network")


@functools.lru_cache(maxsize=1)
def _torch_classes() -> dict:
    """Define the torch modules (once, on first use); they are registered under this module's name so they
    pickle like ordinary classes."""
    import torch
    from torch import nn

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

    classes = {"ConvBnRelu": ConvBnRelu, "NB101Cell": NB101Cell, "NB101Network": NB101Network}
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def __getattr__(name: str):
    if name in _TORCH_CLASSES:
        return _torch_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_network(genome: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                  stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3, bn_momentum: float = 0.1):
    """The ``NB101Network`` of a genome (its canonical pruned cell); ``input_shape`` is ``(C, H, W)``."""
    matrix, labels = canonical(*cell_or_raise(genome))
    return _torch_classes()["NB101Network"](matrix, labels, num_classes=num_classes, in_channels=input_shape[0],
                                            stem_channels=stem_channels, num_stacks=num_stacks,
                                            cells_per_stack=cells_per_stack, bn_momentum=bn_momentum)


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

    with torch.device("meta"):
        if kind == "cbr":  # (c_in, c_out, kernel)
            block = _torch_classes()["ConvBnRelu"](*args)
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
