"""GPT-NAS's block classifier: (preceding layers + the layer the GPT predicts) → one of the 15 block types.

A small fully-connected network (the paper gives no sizes; ours: one hidden layer of 128). Its input is the
one-hot of each of the ``window`` preceding layer tokens (left-padded) and of the predicted layer, concatenated.
It is trained on chains sampled from the space itself: for every block, the layers before it and its first
layer are the input, its type is the label — so it learns which block a layer begins, in context.
"""
from __future__ import annotations

import random
from typing import Sequence

import torch
from torch import nn

from ...core.rng import seeded


class BlockClassifier(nn.Module):
    """Args: vocab_size (layer tokens incl. specials), window (preceding layers seen), n_blocks (classes)."""

    def __init__(self, vocab_size: int, window: int, n_blocks: int, hidden: int = 128):
        super().__init__()
        self.vocab_size, self.window = vocab_size, window
        self.net = nn.Sequential(nn.Linear((window + 1) * vocab_size, hidden), nn.ReLU(), nn.Linear(hidden, n_blocks))

    def features(self, context: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """context: LongTensor (B, window) of token ids (pad id where shorter); predicted: LongTensor (B,).
        Returns FloatTensor (B, (window + 1) * vocab_size)."""
        ids = torch.cat([context, predicted[:, None]], 1)
        return nn.functional.one_hot(ids, self.vocab_size).flatten(1).float()

    def forward(self, context: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_blocks)."""
        return self.net(self.features(context, predicted))


def fit_classifier(clf: BlockClassifier, context: torch.Tensor, predicted: torch.Tensor, labels: torch.Tensor,
                   epochs: int = 30, lr: float = 3e-3, batch_size: int = 256, seed: int = 0) -> list[float]:
    """Adam on cross-entropy; returns the mean loss per epoch. Shapes as in :meth:`BlockClassifier.features`,
    labels LongTensor (B,)."""
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    n, losses = len(labels), []
    clf.train()
    with seeded(seed):
        for _ in range(epochs):
            perm, tot = torch.randperm(n), 0.0
            for s in range(0, n, batch_size):
                i = perm[s:s + batch_size]
                loss = nn.functional.cross_entropy(clf(context[i], predicted[i]), labels[i])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += loss.item() * len(i)
            losses.append(tot / n)
    clf.eval()
    return losses


def left_pad(rows: Sequence[Sequence[int]], width: int, pad: int) -> torch.Tensor:
    """The last ``width`` ids of each row, left-padded with ``pad``: LongTensor (len(rows), width)."""
    out = torch.full((len(rows), width), pad, dtype=torch.long)
    for r, row in enumerate(rows):
        tail = list(row)[-width:]
        if tail:
            out[r, width - len(tail):] = torch.tensor(tail, dtype=torch.long)
    return out


def sample_index(probs: Sequence[float], rng: random.Random) -> int:
    """Inverse-CDF draw from ``probs`` (need not be normalised) with the caller's ``rng`` (reproducible)."""
    total = float(sum(probs))
    u, acc = rng.random() * total, 0.0
    for i, p in enumerate(probs):
        acc += float(p)
        if u < acc:
            return i
    return max(range(len(probs)), key=lambda i: probs[i])
