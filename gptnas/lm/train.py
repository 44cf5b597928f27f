"""Training loops: next-token cross-entropy with AdamW, deterministic for a seed on CPU.

:func:`pretrain` teaches the grammar from a sampled corpus; :func:`finetune` shifts the model towards known-good
architectures (few epochs, lower learning rate). Both run inside :func:`gptnas.core.rng.seeded`, which
seeds torch's global generators (dropout, shuffling) in a forked state, so training never disturbs the caller's
random state.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch
from tqdm.auto import tqdm
from transformers import GPT2LMHeadModel

from ..core.rng import seeded
from .vocab import Vocab

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings.

    Attributes:
        epochs: passes over the data.
        lr: AdamW learning rate (constant after a short linear warm-up).
        batch_size: sequences per step.
        seed: seeds initialisation-independent randomness (shuffling, dropout).
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps.
        grad_clip: max global gradient norm (0 = off).
    """

    epochs: int = 3
    lr: float = 2e-3
    batch_size: int = 256
    seed: int = 0
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSettings":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


#: Fine-tuning defaults: a few epochs on a small set of good architectures at a lower rate.
FINETUNE = TrainSettings(epochs=5, lr=5e-4, batch_size=32, warmup_steps=0)


def train_lm(model: GPT2LMHeadModel, vocab: Vocab, sequences: Sequence[Sequence[str]], settings: TrainSettings,
             progress: bool = True, desc: str = "train") -> dict:
    """Train ``model`` in place on architecture token lists (no specials) with next-token cross-entropy.

    The loss averages over every predicted token (``t1 .. tn <end>``), padding excluded.

    Returns:
        ``{"losses": [mean loss per epoch], "seconds": wall time, "steps": optimiser steps}``.
    """
    if not sequences:
        raise ValueError("cannot train on an empty set of architectures")
    ids, mask = vocab.batch(sequences)  # (N, seq)
    return train_ids(model, ids, mask, settings, progress, desc)


def train_ids(model: GPT2LMHeadModel, ids: torch.Tensor, mask: torch.Tensor, settings: TrainSettings,
              progress: bool = True, desc: str = "train") -> dict:
    """:func:`train_lm` on ready id rows: ``ids`` and ``mask`` LongTensors (N, seq), right-padded, mask 1 on real
    tokens; every real token after the first of a row is a target. Same return value."""
    n = ids.shape[0]
    steps_per_epoch = math.ceil(n / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    warm = max(1, settings.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    try:
        with seeded(settings.seed), tqdm(total=total, desc=desc, disable=not progress, leave=False) as bar:
            shuffle = torch.Generator().manual_seed(settings.seed)
            for epoch in range(settings.epochs):
                perm = torch.randperm(n, generator=shuffle)
                tot, count = 0.0, 0
                for s in range(steps_per_epoch):
                    idx = perm[s * settings.batch_size:(s + 1) * settings.batch_size]
                    x, m = ids[idx].to(device), mask[idx].to(device)
                    x, m = _trim(x, m)
                    logits = model(input_ids=x, attention_mask=m).logits[:, :-1]  # (b, seq-1, vocab)
                    target = x[:, 1:].masked_fill(m[:, 1:] == 0, -100)  # padding is not a target
                    loss = torch.nn.functional.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if settings.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                    opt.step()
                    sched.step()
                    k = int(m[:, 1:].sum())
                    tot += loss.item() * k
                    count += k
                    bar.update(1)
                losses.append(tot / count)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
                log.debug("%s epoch %d: loss %.4f", desc, epoch + 1, losses[-1])
    finally:
        model.eval()
    seconds = time.perf_counter() - t0
    log.info("%s: %d rows, %d epochs, final loss %.4f, %.1f s", desc, n, settings.epochs, losses[-1], seconds)
    return {"losses": losses, "seconds": seconds, "steps": total}


def _trim(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop padding columns no row of this batch uses (variable-length spaces)."""
    width = int(mask.sum(dim=1).max())
    return ids[:, :width], mask[:, :width]


def pretrain(model: GPT2LMHeadModel, vocab: Vocab, sequences: Sequence[Sequence[str]],
             settings: TrainSettings = TrainSettings(), progress: bool = True) -> dict:
    """Pre-train on the grammar corpus (see :func:`train_lm`)."""
    return train_lm(model, vocab, sequences, settings, progress=progress, desc="gpt pretrain")


def finetune(model: GPT2LMHeadModel, vocab: Vocab, sequences: Sequence[Sequence[str]],
             settings: TrainSettings = FINETUNE, progress: bool = True, **overrides) -> dict:
    """Fine-tune on known-good architectures; ``overrides`` replace fields of ``settings`` (e.g. ``epochs=3``)."""
    settings = replace(settings, **overrides) if overrides else settings
    return train_lm(model, vocab, sequences, settings, progress=progress, desc="gpt finetune")
