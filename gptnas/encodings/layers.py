"""Layer-level text encoding of a network, after ArcText (Sun et al.), as GPT-NAS uses it.

A network is written as the sequence of its layers in execution order. Each layer is one of four kinds with the
ArcText properties:

- ``Conv``: input and output size (H-W-C), kernel, stride, padding, dilation, groups, bias;
- ``Pool``: input and output size, kernel, stride, padding, type ``MAX`` / ``AVG``;
- ``FC``: input and output features, bias;
- ``Other``: a name (``BatchNorm``, ``ReLU``, ``SiLU``, ``Dropout`` ...) and a value (features, probability, or ``-``).

Two written forms:

- :meth:`Layer.text` — every property, e.g. ``Conv:32x32x3>32x32x16,k3x3,s1x1,p1x1,d1x1,g1,b0``. It is lossless:
  :func:`parse_layer` inverts it exactly, so a stored corpus can be decoded and checked.
- :meth:`Layer.token` — what the GPT sees, one distinct string per distinct layer *design*: kind, kernel, stride,
  dilation, grouping (``g1`` / ``dw`` / ``gN``), and the channel ratio out/in as a power of two; absolute sizes
  are left out. Deviation from the paper, on purpose: with absolute H-W-C in the token the vocabulary depends on
  the input resolution (NAS-Bench-101 at 32×32 and torchvision's networks at 224×224 would share almost no token)
  and runs into the thousands, where the paper reports 168 distinct layers; the coarse token keeps the vocabulary
  in that range and makes what is learned on one resolution usable on another.

Only modules are layers: element-wise additions and concatenations inside blocks are not written (ArcText writes
layers too); the block classifier recovers the block structure from the layer pattern.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

KINDS = ("Conv", "Pool", "FC", "Other")
Size = tuple[int, int, int]  # (H, W, C)


@dataclass(frozen=True)
class Layer:
    """One layer of a network, with the ArcText properties of its kind (unused ones stay ``None``).

    Sizes are ``(H, W, C)`` of one image (no batch); kernel, stride, padding and dilation are ``(h, w)`` pairs.
    """

    kind: str
    in_size: Optional[Size] = None
    out_size: Optional[Size] = None
    kernel: Optional[tuple[int, int]] = None
    stride: Optional[tuple[int, int]] = None
    padding: Optional[tuple[int, int]] = None
    dilation: Optional[tuple[int, int]] = None
    groups: Optional[int] = None
    bias: Optional[bool] = None
    pool: Optional[str] = None  # MAX / AVG
    in_features: Optional[int] = None
    out_features: Optional[int] = None
    name: Optional[str] = None  # Other
    value: Optional[str] = None  # Other

    def text(self) -> str:
        """Lossless one-word form (no spaces); :func:`parse_layer` is its inverse."""
        if self.kind == "Conv":
            return (f"Conv:{_size(self.in_size)}>{_size(self.out_size)},k{_pair(self.kernel)},s{_pair(self.stride)},"
                    f"p{_pair(self.padding)},d{_pair(self.dilation)},g{self.groups},b{int(bool(self.bias))}")
        if self.kind == "Pool":
            return (f"Pool:{self.pool},{_size(self.in_size)}>{_size(self.out_size)},k{_pair(self.kernel)},"
                    f"s{_pair(self.stride)},p{_pair(self.padding)}")
        if self.kind == "FC":
            return f"FC:{self.in_features}>{self.out_features},b{int(bool(self.bias))}"
        if self.kind == "Other":
            return f"Other:{self.name},{self.value if self.value is not None else '-'}"
        raise ValueError(f"unknown layer kind {self.kind!r}: expected one of {KINDS}")

    def token(self) -> str:
        """The GPT's token: the layer's design without absolute sizes (see the module docstring)."""
        if self.kind == "Conv":
            cin, cout = self.in_size[2], self.out_size[2]
            g = "g1" if self.groups == 1 else ("dw" if self.groups == cin else f"g{_pow2(cin / self.groups)}c")
            dil = "" if self.dilation == (1, 1) else f"_d{_pair(self.dilation)}"
            return f"conv_k{_pair(self.kernel)}_s{_pair(self.stride)}{dil}_{g}_x{_ratio(cout / cin)}"
        if self.kind == "Pool":
            if self.out_size[:2] == (1, 1) and self.in_size[:2] != (1, 1) and self.kernel == self.in_size[:2]:
                return f"pool_{self.pool}_global"
            return f"pool_{self.pool}_k{_pair(self.kernel)}_s{_pair(self.stride)}"
        if self.kind == "FC":
            return "fc"
        if self.kind == "Other":
            return self.name.lower()
        raise ValueError(f"unknown layer kind {self.kind!r}")


def _size(s: Size) -> str:
    return "x".join(str(int(v)) for v in s)


def _pair(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}" if p[0] != p[1] else str(p[0])


def _pow2(x: float) -> int:
    return int(2 ** round(math.log2(max(x, 1e-9))))


def _ratio(r: float) -> str:
    """Channel ratio as a power of two clipped to 1/16..16: ``1``, ``2``, ``1/4`` ..."""
    e = max(-4, min(4, round(math.log2(max(r, 1e-9)))))
    return str(2 ** e) if e >= 0 else f"1/{2 ** -e}".replace("/", "d")


_SIZE = r"(\d+)x(\d+)x(\d+)"
_PAIR = r"(\d+)(?:x(\d+))?"
_CONV = re.compile(rf"Conv:{_SIZE}>{_SIZE},k{_PAIR},s{_PAIR},p{_PAIR},d{_PAIR},g(\d+),b([01])")
_POOL = re.compile(rf"Pool:(MAX|AVG),{_SIZE}>{_SIZE},k{_PAIR},s{_PAIR},p{_PAIR}")
_FC = re.compile(r"FC:(\d+)>(\d+),b([01])")
_OTHER = re.compile(r"Other:([A-Za-z0-9_]+),(\S+)")


def _p(a: str, b: Optional[str]) -> tuple[int, int]:
    return int(a), int(b if b is not None else a)


def parse_layer(text: str) -> Layer:
    """Inverse of :meth:`Layer.text`; raises ``ValueError`` naming the text when it is not a layer."""
    if m := _CONV.fullmatch(text):
        g = m.groups()
        return Layer("Conv", tuple(map(int, g[0:3])), tuple(map(int, g[3:6])), _p(g[6], g[7]), _p(g[8], g[9]),
                     _p(g[10], g[11]), _p(g[12], g[13]), int(g[14]), g[15] == "1")
    if m := _POOL.fullmatch(text):
        g = m.groups()
        return Layer("Pool", tuple(map(int, g[1:4])), tuple(map(int, g[4:7])), _p(g[7], g[8]), _p(g[9], g[10]),
                     _p(g[11], g[12]), pool=g[0])
    if m := _FC.fullmatch(text):
        return Layer("FC", in_features=int(m[1]), out_features=int(m[2]), bias=m[3] == "1")
    if m := _OTHER.fullmatch(text):
        return Layer("Other", name=m[1], value=None if m[2] == "-" else m[2])
    raise ValueError(f"{text!r} is not a layer: expected Conv:/Pool:/FC:/Other: in the form Layer.text() writes")


def encode(layers: Sequence[Layer]) -> str:
    """A network as one line: its layers' :meth:`~Layer.text` separated by spaces."""
    return " ".join(layer.text() for layer in layers)


def decode(line: str) -> list[Layer]:
    """Inverse of :func:`encode`."""
    return [parse_layer(t) for t in line.split()]


# Reading layers off a torch module ----------------------------------------------------------------------------
_OTHER_VALUE = {  # what an Other layer's value is
    "BatchNorm": lambda m: str(m.num_features), "Dropout": lambda m: f"{m.p:g}",
}


def _hw(x) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


def layer_of(module, x_in, x_out) -> Optional[Layer]:
    """The :class:`Layer` of one leaf ``module`` given its input/output tensors (batch first), or ``None`` for
    layers that do nothing to write (``Identity``, ``Flatten``)."""
    import torch.nn as nn

    def size(t):
        return (int(t.shape[2]), int(t.shape[3]), int(t.shape[1])) if t.dim() == 4 else (1, 1, int(t.shape[-1]))

    if isinstance(module, nn.Conv2d):
        pad = module.padding if not isinstance(module.padding, str) else (0, 0)
        return Layer("Conv", size(x_in), size(x_out), _hw(module.kernel_size), _hw(module.stride), _hw(pad),
                     _hw(module.dilation), module.groups, module.bias is not None)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return Layer("Pool", size(x_in), size(x_out), _hw(module.kernel_size), _hw(module.stride or module.kernel_size),
                     _hw(module.padding), pool="MAX" if isinstance(module, nn.MaxPool2d) else "AVG")
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        (hi, wi, _), (ho, wo, _) = size(x_in), size(x_out)
        k = (-(-hi // ho), -(-wi // wo))  # the equivalent kernel (exact for the global pooling networks use)
        return Layer("Pool", size(x_in), size(x_out), k, (hi // ho, wi // wo), (0, 0),
                     pool="MAX" if isinstance(module, nn.AdaptiveMaxPool2d) else "AVG")
    if isinstance(module, nn.Linear):
        return Layer("FC", in_features=module.in_features, out_features=module.out_features,
                     bias=module.bias is not None)
    if isinstance(module, (nn.Identity, nn.Flatten)):
        return None
    name = type(module).__name__
    name = "BatchNorm" if name.startswith("BatchNorm") else name
    value = _OTHER_VALUE.get(name, lambda m: None)(module)
    return Layer("Other", name=name, value=value)


def trace_layers(module, input_shape: tuple[int, int, int]) -> list[Layer]:
    """The layers of ``module`` in execution order, read with forward hooks on one ``(1, *input_shape)`` input.

    Build the module under ``with torch.device("meta"):`` to get the layers without computing anything (shapes
    only; a torchvision EfficientNet-B7 traces in well under a second that way): the input is created on the
    device of the module's first parameter.

    Args:
        module: any ``torch.nn.Module`` taking ``(N, C, H, W)`` images.
        input_shape: ``(C, H, W)``.
    Returns:
        one :class:`Layer` per call of a leaf module (a module called twice appears twice).
    """
    import torch

    layers: list[Layer] = []
    handles = []

    def hook(m, args, out):
        x_in = args[0] if args else None
        if torch.is_tensor(x_in) and torch.is_tensor(out):
            rec = layer_of(m, x_in, out)
            if rec is not None:
                layers.append(rec)

    for m in module.modules():
        if next(m.children(), None) is None:
            handles.append(m.register_forward_hook(hook))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            p = next(module.parameters(), None)
            module(torch.zeros(1, *input_shape, device=p.device if p is not None else "cpu"))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return layers
