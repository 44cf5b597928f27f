"""Token vocabulary of the GPT: the space's own tokens plus three special tokens.

Ids ``0, 1, 2`` are ``<pad>``, ``<bos>`` and ``<end>`` (``<end>`` is :data:`gptnas.spaces.END`, the token the
grammar offers where an architecture may stop); the space's :attr:`~gptnas.spaces.SearchSpace.vocabulary` follows
in its own order, so a vocabulary is fully determined by the space.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..spaces.base import END, SearchSpace

PAD = "<pad>"
BOS = "<bos>"
SPECIALS = (PAD, BOS, END)


class Vocab:
    """Maps tokens ↔ ids.

    Args:
        tokens: the space's tokens (no specials); they get ids ``3..``.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = [str(t) for t in tokens]
        clash = sorted(set(tokens) & set(SPECIALS))
        if clash:
            raise ValueError(f"space tokens collide with special tokens: {clash}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("space vocabulary has duplicate tokens")
        self.tokens: list[str] = list(SPECIALS) + tokens
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.end_id = (self.index[t] for t in SPECIALS)

    @classmethod
    def for_space(cls, space: SearchSpace) -> "Vocab":
        return cls(space.vocabulary)

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token list → id list (no specials added)."""
        try:
            return [self.index[t] for t in tokens]
        except KeyError as e:
            raise ValueError(f"token {e.args[0]!r} is not in the vocabulary") from None

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Architecture tokens → ids of ``<bos> t1 .. tn <end>``."""
        return [self.bos_id] + self.ids(tokens) + [self.end_id]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Ids → architecture tokens: drops ``<bos>``/``<pad>`` and stops at the first ``<end>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i])
        return out

    def batch(self, sequences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and right-pad many architectures.

        Returns:
            ids: LongTensor (batch, seq) holding ``<bos> t1 .. tn <end> <pad>..``, seq = longest n + 2;
            mask: LongTensor (batch, seq), 1 on real tokens, 0 on padding.
        """
        rows = [self.encode(s) for s in sequences]
        width = max(len(r) for r in rows)
        pad = self.pad_id
        # One tensor from padded Python lists: a tensor per row costs more than the model on short sequences.
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
        return ids, mask
