"""GPT-NAS's block-chain space ("macro"): a chain of 10 to 20 blocks, each one of 15 hand-designed block types.

The genome is the list of block-type ids (indices into :data:`~gptnas.spaces.macro.block_types.BLOCK_TYPES`); its tokens are
the block names, so block-level proposers work on it as on any space. The layer-level view GPT-NAS itself uses
(:meth:`MacroSpace.block_layers`) comes from tracing the built network.

Where the paper is silent (docs/gptnas_paper.md lists every choice):
- widths and resolution are fixed by position, not searched: the chain is cut into three stages of (nearly) equal
  length at widths ``width × (1, 2, 4)``; the first block of stages 2 and 3 halves the resolution while it is at
  least 4 pixels; so every chain is valid for 224×224, 32×32 and 8×8 inputs alike;
- no NCode: a chain has no fixed-length decision form (10 to 20 positions, 15 block types each), so methods that
  need one (LM-Searcher's ranker, design principles per position) see the chain's block types instead;
- a fixed stem before the chain (3×3 Conv-BN-ReLU to ``width``; inputs of 128 pixels or more get ImageNet's 7×7/2
  conv and 3×3/2 max-pool instead) and a fixed head after it (global average pool, linear classifier).
"""
from __future__ import annotations

import functools
import random
from typing import Sequence

from ...errors import InvalidArchitecture, SpaceError
from .block_types import BLOCK_TYPES
from ..base import END, GrammarSpace


#: What each block type computes, in words (gptnas.spaces.macro.blocks builds them).
BLOCK_WORDS = {
    "ConvNormActivation": "3x3 convolution, BatchNorm, SiLU (EfficientNet)",
    "SqueezeExcitation": "channel attention: global pool, 1x1 reduce, SiLU, 1x1 expand, sigmoid, scale (EfficientNet)",
    "Inception": "four branches concatenated: 1x1 | 1x1 then 3x3 | 1x1 then 3x3 | 3x3 max-pool then 1x1 (GoogLeNet)",
    "AvgPool": "3x3 average pooling",
    "ResBottleneckBlock": "residual: 1x1, grouped 3x3 (group width 8), squeeze-excitation, 1x1 (RegNet)",
    "Stem": "3x3 convolution, BatchNorm, ReLU (RegNet's stem)",
    "Bottleneck": "residual: 1x1 reduce to a quarter, 3x3, 1x1 expand (ResNet)",
    "BasicBlock": "residual: two 3x3 convolutions with BatchNorm (ResNet)",
    "ResNeXtBottleneck": "residual bottleneck with a 32-group 3x3 convolution at half width (ResNeXt)",
    "InvertedResidual": "split the channels, transform one half (1x1, depthwise 3x3, 1x1), concatenate, shuffle "
                        "(ShuffleNetV2)",
    "WideBottleneck": "residual bottleneck at half width, twice ResNet's (Wide-ResNet)",
    "MaxPool": "3x3 max pooling",
    "BatchNorm": "BatchNorm alone",
    "ReLU": "ReLU alone",
    "Conv": "a plain 3x3 convolution, no normalisation or activation",
}


class MacroSpace(GrammarSpace):
    """Variable-length chains of block types.

    Args:
        min_blocks, max_blocks: chain length range (the paper: 10 to 20).
        width: channels of the first stage; stages 2 and 3 have 2× and 4×. Must be even.
    """

    name = "macro"

    def __init__(self, min_blocks: int = 10, max_blocks: int = 20, width: int = 32):
        if not 1 <= min_blocks <= max_blocks:
            raise SpaceError(f"need 1 <= min_blocks <= max_blocks, got {min_blocks}, {max_blocks}")
        if width < 2 or width % 2:
            raise SpaceError(f"width must be even and >= 2, got {width}")
        self.min_blocks, self.max_blocks, self.width = min_blocks, max_blocks, width
        self._index = {n: i for i, n in enumerate(BLOCK_TYPES)}

    @property
    def max_length(self) -> int:
        return self.max_blocks

    # SearchSpace -----------------------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> list[int]:
        n = rng.randint(self.min_blocks, self.max_blocks)
        return [rng.randrange(len(BLOCK_TYPES)) for _ in range(n)]

    def is_valid(self, arch: Sequence[int]) -> bool:
        return (self.min_blocks <= len(arch) <= self.max_blocks
                and all(isinstance(b, int) and 0 <= b < len(BLOCK_TYPES) for b in arch))

    def to_tokens(self, arch: Sequence[int]) -> list[str]:
        return [BLOCK_TYPES[b] for b in arch]

    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        try:
            arch = [self._index[t] for t in tokens]
        except KeyError as e:
            raise InvalidArchitecture(f"unknown block {e.args[0]!r}: expected one of {', '.join(BLOCK_TYPES)}") from None
        if not self.is_valid(arch):
            raise InvalidArchitecture(f"a chain has {self.min_blocks} to {self.max_blocks} blocks, got {len(arch)}")
        return arch

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        out = list(BLOCK_TYPES) if len(prefix) < self.max_blocks else []
        return out + ([END] if len(prefix) >= self.min_blocks else [])

    @property
    def vocabulary(self) -> list[str]:
        return list(BLOCK_TYPES)

    def prompt_description(self) -> str:
        """The chain as an LLM reads it (LAPT's prompt): stages, stem and head, what each block type computes."""
        blocks = "\n".join(f"  {n}: {BLOCK_WORDS[n]}" for n in BLOCK_TYPES)
        return (f"The architecture is a chain of {self.min_blocks} to {self.max_blocks} blocks, each one of "
                f"{len(BLOCK_TYPES)} block types. A fixed stem (3x3 convolution, BatchNorm, ReLU to {self.width} "
                "channels) comes before the chain, a fixed head (global average pooling, a linear classifier) "
                "after it. The chain is cut into three stages of nearly equal length at "
                f"{self.width}, {2 * self.width} and {4 * self.width} channels; the first block of stages 2 and 3 "
                "halves the resolution. A block whose input has another width is preceded by a 1x1 "
                "convolution with BatchNorm. The block types:\n" + blocks +
                "\nAn architecture is listed as the block types' indices in chain order; the one decision to "
                "answer (layer0) is which block types the chains may use.")

    @property
    def grammar_exact(self) -> bool:  # lengths and block types are the grammar; a subclass may add rules
        return type(self).is_valid in _EXACT

    def describe(self) -> dict:
        return {**super().describe(), "min_blocks": self.min_blocks, "max_blocks": self.max_blocks,
                "width": self.width}

    # Classic operators for variable-length chains ----------------------------------------------------------------
    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """Change one block's type, or insert or delete a block (where the length allows); in a subclass with a
        rule of its own in ``is_valid``, redrawn until the child is a member (100 draws, then the parent unchanged:
        a repeat, which costs no evaluation)."""
        child = self._move(arch, rng)
        if self.grammar_exact:
            return child
        for _ in range(99):
            if self.is_valid(child):
                return child
            child = self._move(arch, rng)
        return child if self.is_valid(child) else list(arch)

    def _move(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        child = list(arch)
        moves = ["change"] + (["insert"] if len(child) < self.max_blocks else []) + \
                (["delete"] if len(child) > self.min_blocks else [])
        move = rng.choice(moves)
        i = rng.randrange(len(child))
        if move == "change":
            child[i] = rng.choice([b for b in range(len(BLOCK_TYPES)) if b != child[i]])
        elif move == "insert":
            child.insert(rng.randrange(len(child) + 1), rng.randrange(len(BLOCK_TYPES)))
        else:
            del child[i]
        return child

    def crossover(self, a: Sequence[int], b: Sequence[int], rng: random.Random) -> tuple[list[int], list[int]]:
        """One-point crossover with a cut in each parent, so lengths mix; cuts that break the length range are
        redrawn (parents returned after 20 failed draws)."""
        for _ in range(20):
            i, j = rng.randrange(1, len(a)), rng.randrange(1, len(b))
            c1, c2 = list(a[:i]) + list(b[j:]), list(b[:j]) + list(a[i:])
            if self.is_valid(c1) and self.is_valid(c2):
                return c1, c2
        return list(a), list(b)

    # Networks -----------------------------------------------------------------------------------------------------
    def plan(self, n_blocks: int, input_hw: int) -> list[tuple[int, int, int, int]]:
        """Per block ``(c_in, c_out, stride, h_in)``: channels, stride and input resolution (square inputs)."""
        h = stem_resolution(input_hw)
        out, c = [], self.width
        for i in range(n_blocks):
            stage = min(2, i * 3 // n_blocks)
            c_out = self.width * 2 ** stage
            first = i > 0 and stage != min(2, (i - 1) * 3 // n_blocks)
            stride = 2 if first and h >= 4 else 1
            out.append((c, c_out, stride, h))
            c, h = c_out, -(-h // stride)
        return out

    def to_module(self, arch: Sequence[int], input_shape: tuple[int, int, int], num_classes: int):
        """The chain as a network for ``(N, *input_shape)`` images (``input_shape = (C, H, W)``)."""
        from .network import ChainNet
        if not self.is_valid(arch):
            raise InvalidArchitecture(f"not a chain of {self.min_blocks}-{self.max_blocks} block ids: {list(arch)}")
        return ChainNet(list(arch), self.plan(len(arch), input_shape[1]), input_shape, num_classes, self.width)

    def inheritable_blocks(self, parent: Sequence[int], child: Sequence[int],
                           input_shape: tuple[int, int, int]) -> list[int]:
        """Indices of ``child``'s blocks that can take the weights of ``parent``'s block at the same index: same
        type, same channels and stride (weight inheritance, :mod:`gptnas.evaluators.inherit`)."""
        pp, cp = self.plan(len(parent), input_shape[1]), self.plan(len(child), input_shape[1])
        return [i for i in range(min(len(parent), len(child)))
                if parent[i] == child[i] and pp[i][:3] == cp[i][:3]]

    def block_layers(self, arch: Sequence[int], input_shape: tuple[int, int, int] = (3, 32, 32)) -> list[list[str]]:
        """Layer tokens (:meth:`~gptnas.encodings.layers.Layer.token`) of the network, grouped:
        ``[stem, block 0, ..., block n-1]`` (the head is left out: it is the same for every chain)."""
        plan = self.plan(len(arch), input_shape[1])
        parts = [_stem_tokens(input_shape, self.width)]
        parts += [list(_block_tokens(b, *p)) for b, p in zip(arch, plan)]
        return parts


def stem_resolution(hw: int) -> int:
    """Resolution after the fixed stem: ImageNet-sized inputs (≥ 128 px) are reduced 4×."""
    return -(-hw // 4) if hw >= 128 else hw


@functools.lru_cache(maxsize=None)
def _stem_tokens(input_shape: tuple[int, int, int], width: int) -> list[str]:
    from ...encodings.layers import trace_layers
    from .network import build_stem
    import torch
    with torch.device("meta"):
        stem = build_stem(input_shape[0], width, input_shape[1])
    return [layer.token() for layer in trace_layers(stem, tuple(input_shape))]


@functools.lru_cache(maxsize=None)
def _block_tokens(kind: int, c_in: int, c_out: int, stride: int, h: int) -> tuple[str, ...]:
    from ...encodings.layers import trace_layers
    from .blocks import build_block
    import torch
    with torch.device("meta"):
        block = build_block(kind, c_in, c_out, stride)
    return tuple(layer.token() for layer in trace_layers(block, (c_in, h, h)))


class MacroSubspace(MacroSpace):
    """Block chains whose blocks are all of the ``allowed`` types (design principles over the block-chain space).

    Same lengths, widths, networks, keys and description as ``parent`` (so a pre-trained layer GPT of the parent is
    reused); ``allowed_types`` (indices into :data:`BLOCK_TYPES`) can be widened or narrowed during a search, and
    ``grammar_version`` counts the changes, so a proposer's masks follow them.
    """

    def __init__(self, parent: MacroSpace, allowed: Sequence[int]):
        if isinstance(parent, MacroSubspace):
            parent = parent.parent
        super().__init__(parent.min_blocks, parent.max_blocks, parent.width)
        self.parent = parent
        self.grammar_version = 0
        self.allowed_types: list[int] = []
        self.set_allowed(allowed, _initial=True)

    def set_allowed(self, allowed: Sequence[int], _initial: bool = False) -> None:
        new = sorted({int(b) for b in allowed})
        if not new or any(not 0 <= b < len(BLOCK_TYPES) for b in new):
            raise SpaceError(f"a block-chain sub-space needs at least one of the {len(BLOCK_TYPES)} block types, "
                             f"got {list(allowed)}")
        if new != self.allowed_types:
            self.allowed_types = new
            if not _initial:
                self.grammar_version += 1

    def contains(self, arch: Sequence[int]) -> bool:
        return all(b in self.allowed_types for b in arch)

    def sample(self, rng: random.Random) -> list[int]:
        n = rng.randint(self.min_blocks, self.max_blocks)
        return [self.allowed_types[rng.randrange(len(self.allowed_types))] for _ in range(n)]

    def is_valid(self, arch: Sequence[int]) -> bool:
        return super().is_valid(arch) and self.contains(arch)

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """The parent's moves (change, insert, delete) with allowed types only."""
        child = list(arch)
        moves = (["change"] if len(self.allowed_types) > 1 else []) + \
            (["insert"] if len(child) < self.max_blocks else []) + (["delete"] if len(child) > self.min_blocks else [])
        if not moves:
            return child
        move = rng.choice(moves)
        i = rng.randrange(len(child))
        if move == "change":
            child[i] = rng.choice([b for b in self.allowed_types if b != child[i]] or self.allowed_types)
        elif move == "insert":
            child.insert(rng.randrange(len(child) + 1), rng.choice(self.allowed_types))
        else:
            del child[i]
        return child

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        ok = {BLOCK_TYPES[b] for b in self.allowed_types}
        return [t for t in super().next_tokens(prefix) if t == END or t in ok]

    def describe(self) -> dict:
        return self.parent.describe()

    def __repr__(self) -> str:
        return f"MacroSubspace({[BLOCK_TYPES[b] for b in self.allowed_types]})"


_EXACT = (MacroSpace.is_valid, MacroSubspace.is_valid)  # rules the grammar enforces itself
