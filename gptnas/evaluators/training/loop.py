"""The training loop of the training evaluator: SGD with a linear warm-up (and, for final training, step decay),
batches gathered on the device or streamed by DataLoader workers, bf16 autocast and channels-last on CUDA, and
accuracy on a held-out split. :class:`TrainingLoop` holds no data of its own: the evaluator's settings drive it."""
from __future__ import annotations

import math
import time
from typing import Iterator, Optional

import torch
import torch.nn.functional as F

from ...datasets import random_crop_flip
from .placement import DeviceData, Gather, Pair

#: Steps between two checks of the running loss for NaN/inf (each check waits for the GPU, so not every step).
CHECK_EVERY = 16


class CandidateFailed(Exception):
    """Raised inside training for a candidate's own fault (NaN loss, time limit); becomes a failed result."""


class TrainingLoop:
    """Mixin of :class:`~gptnas.evaluators.training.TrainingEvaluator`: needs its attributes ``epochs``,
    ``batch_size``, ``lr``, ``warmup_epochs``, ``momentum``, ``weight_decay``, ``lr_step``, ``lr_gamma``, ``amp``,
    ``channels_last``, ``time_limit_s``, ``max_train``, ``num_workers``, ``progress``."""

    def _memory_format(self, device: torch.device) -> torch.memory_format:
        return torch.channels_last if self.channels_last and device.type == "cuda" else torch.contiguous_format

    def _autocast(self, device: torch.device):
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.amp and device.type == "cuda")

    def _over_time(self, t0: float) -> bool:
        return self.time_limit_s is not None and time.perf_counter() - t0 > self.time_limit_s

    def _inputs(self, xb: torch.Tensor, data: DeviceData, augment: bool,
                gen: Optional[torch.Generator]) -> torch.Tensor:
        """uint8 batch on the device → augmented, normalised float32 in the device's memory format."""
        if augment:
            xb = random_crop_flip(xb, 4, gen)
        xb = xb.contiguous(memory_format=self._memory_format(data.device))  # cheaper on uint8 than on float
        return xb.to(torch.float32).mul_(data.scale).add_(data.shift)

    def _batches(self, pair: Pair, data: DeviceData, order: Optional[torch.Tensor], batch: int) -> Iterator[Pair]:
        """``(x, y)`` batches on the device, in ``order`` (CPU int64 indices) or in sequence when None."""
        x, y = pair
        n = len(y) if order is None else len(order)
        if data.resident:
            if order is None:
                for i in range(0, n, batch):
                    yield x[i:i + batch], y[i:i + batch]
            else:
                order = order.to(data.device, non_blocking=True)
                for i in range(0, n, batch):
                    idx = order[i:i + batch]
                    yield x.index_select(0, idx), y.index_select(0, idx)
            return
        chunks = list((order if order is not None else torch.arange(n)).split(batch))
        loader = torch.utils.data.DataLoader(Gather(x, y), batch_size=None, sampler=chunks,
                                             num_workers=self.num_workers, pin_memory=data.device.type == "cuda")
        for xb, yb in loader:
            yield xb.to(data.device, non_blocking=True), yb.to(data.device, non_blocking=True)

    def train_model(self, model: torch.nn.Module, data: DeviceData, seed: int, t0: Optional[float] = None,
                    info: Optional[dict] = None) -> float:
        """Train ``model`` (already on ``data.device``) in place; returns the last epoch's mean loss.

        Raises :class:`CandidateFailed` for a NaN/inf loss or when over ``time_limit_s`` (counted from ``t0``).
        """
        t0 = time.perf_counter() if t0 is None else t0
        device = data.device
        pool = len(data.train[1]) if self.max_train is None else min(self.max_train, len(data.train[1]))
        n = pool - 1 if pool % self.batch_size == 1 else pool  # a last batch of one image would break batch norm
        gen_order = torch.Generator().manual_seed(seed)  # batch order is drawn on the CPU: device-independent
        gen_aug = gen_order if device.type == "cpu" else torch.Generator(device=device).manual_seed(seed)
        steps_per_epoch = math.ceil(n / self.batch_size)
        warmup_steps = self.warmup_epochs * steps_per_epoch
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                              lr=self.lr if warmup_steps == 0 else self.lr / warmup_steps,
                              momentum=self.momentum, weight_decay=self.weight_decay)
        augment = data.splits.augment
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every network reuses the same few conv shapes
        model.train()
        loss_sum = torch.zeros((), device=device)
        epochs = range(self.epochs)
        if self.progress:
            from tqdm.auto import tqdm
            epochs = tqdm(epochs, desc="train", unit="epoch", leave=False)
        step = 0
        for epoch in epochs:
            loss_sum.zero_()
            base_lr = self.lr * self.lr_gamma ** (epoch // self.lr_step) if self.lr_step else self.lr
            if self.lr_step and step >= warmup_steps:  # step decay (final training), after the warm-up
                for g in opt.param_groups:
                    g["lr"] = base_lr
            order = torch.randperm(pool, generator=gen_order)[:n]  # the split is shuffled: first `pool` = random
            for i, (xb, yb) in enumerate(self._batches(data.train, data, order, self.batch_size)):
                if self._over_time(t0):
                    raise CandidateFailed(f"time limit {self.time_limit_s:g} s exceeded in epoch {epoch + 1} "
                                          f"of {self.epochs}")
                if step < warmup_steps:  # linear warm-up, per step
                    for g in opt.param_groups:
                        g["lr"] = base_lr * min(1.0, (step + 1) / warmup_steps)
                inputs = self._inputs(xb, data, augment, gen_aug)
                with self._autocast(device):
                    loss = F.cross_entropy(model(inputs), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.detach() * len(yb)
                step += 1
                if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
                    raise CandidateFailed(f"non-finite training loss in epoch {epoch + 1}, step {i + 1}")
            mean_loss = float(loss_sum) / n  # waits for the device: the epoch is really done here
            if not math.isfinite(mean_loss):
                raise CandidateFailed(f"non-finite training loss in epoch {epoch + 1}")
            if info is not None:
                info["epochs"] = epoch + 1
        return mean_loss

    @torch.inference_mode()
    def accuracy(self, model: torch.nn.Module, data: DeviceData, pair: Pair, t0: Optional[float] = None) -> float:
        """Top-1 accuracy in % of ``model`` (eval mode, no gradients, batched) on ``pair``."""
        model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=data.device)
        finite = torch.ones((), dtype=torch.bool, device=data.device)
        for xb, yb in self._batches(pair, data, None, 2 * self.batch_size):
            if t0 is not None and self._over_time(t0):
                raise CandidateFailed(f"time limit {self.time_limit_s:g} s exceeded while evaluating")
            with self._autocast(data.device):
                out = model(self._inputs(xb, data, False, None))
            correct += (out.argmax(1) == yb).sum()
            finite &= torch.isfinite(out).all()
        if not bool(finite):
            raise CandidateFailed("non-finite network outputs on evaluation")
        return 100.0 * int(correct) / max(1, len(pair[1]))
