"""Train / validation / test splits held as tensors, their normalisation, and batched augmentation.

Images are kept as ``uint8 (N, C, H, W)`` (pixel values 0..255) until a batch is drawn: four times smaller than
float32, so a whole split fits on a GPU and batches are normalised there. Labels are ``int64 (N,)``. Images that come
memory-mapped from a ``.npy`` file (decoded ImageNet) stay there as :class:`~.mapped.MappedImages`: a split is then
a selection of rows, read a batch at a time, and no split is ever copied whole into memory.

The validation split is a seeded hold-out of the *training* set; the test split is the dataset's own and is only
reported, never used for fitness.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from .mapped import MappedImages

log = logging.getLogger(__name__)

Pair = tuple[torch.Tensor, torch.Tensor]
Size = Union[int, Sequence[int], None]


@dataclass(eq=False)
class Splits:
    """A dataset ready for training.

    Attributes:
        name: dataset name, e.g. ``"cifar10"``.
        train, val, test: ``(x, y)`` with x ``uint8 (N, C, H, W)`` (or float in [0, 1]; or :class:`MappedImages`,
            the rows of a memory-mapped file) and y ``int64 (N,)``.
        num_classes: labels lie in ``0..num_classes-1``.
        mean, std: per-channel statistics of the training split in [0, 1] pixel units (length C).
        augment: whether training batches get random crop (padding 4) and horizontal flip (CIFAR).
    """

    name: str
    train: Pair
    val: Pair
    test: Pair
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(int(v) for v in self.train[0].shape[1:])

    def normalizer(self, device: Union[str, torch.device] = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``(scale, shift)``, float32 ``(1, C, 1, 1)`` on ``device``: ``x_norm = x * scale + shift``."""
        pixel = 255.0 if self.train[0].dtype == torch.uint8 else 1.0
        mean = torch.tensor(self.mean, dtype=torch.float64).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float64).view(1, -1, 1, 1)
        return ((1.0 / (pixel * std)).float().to(device), (-mean / std).float().to(device))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """x: uint8 (or float) ``(B, C, H, W)`` → float32 ``(B, C, H, W)``, zero mean and unit std per channel."""
        scale, shift = self.normalizer(x.device)
        return x.to(torch.float32).mul_(scale).add_(shift)

    @property
    def mapped(self) -> bool:
        """Whether the images stay in a memory-mapped file (read per batch) rather than in memory."""
        return any(isinstance(p[0], MappedImages) for p in (self.train, self.val, self.test))

    def nbytes(self) -> int:
        """Bytes of all three splits' images once in memory (labels not counted)."""
        return sum(p[0].nbytes if isinstance(p[0], MappedImages) else p[0].numel() * p[0].element_size()
                   for p in (self.train, self.val, self.test))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[1]), "val": len(self.val[1]), "test": len(self.test[1])}

    def __repr__(self) -> str:
        s = self.sizes()
        return (f"Splits({self.name!r}, train={s['train']}, val={s['val']}, test={s['test']}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes}, augment={self.augment})")


# Building ----------------------------------------------------------------------------------------------------
def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train_idx, val_idx)`` partition of ``range(n)``; ``round(n * val_fraction)`` go to validation.

    Both are in shuffled order, so the first k training indices are a random subset (what ``max_train`` takes).
    """
    if not 0.0 < float(val_fraction) < 1.0:
        raise ConfigError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}")
    n_val = int(round(n * float(val_fraction)))
    if n_val < 1 or n_val >= n:
        raise ConfigError(f"val_fraction={val_fraction} leaves an empty split of {n} training images: "
                          f"use a fraction between {1 / n:.4f} and {1 - 1 / n:.4f}")
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_val:], perm[:n_val]


def resize_images(x: torch.Tensor, size: Size, chunk: int = 4096) -> torch.Tensor:
    """x: uint8 ``(N, C, H, W)`` → uint8 ``(N, C, h, w)``, bilinear (antialiased when shrinking); size int or (h, w)."""
    h, w = (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ConfigError(f"resize must be a positive side or (height, width), got {size!r}")
    n, c, H, W = x.shape
    if (h, w) == (H, W):
        return x
    if x.dtype == torch.uint8:
        # torch's uint8 path (antialias=True) is ~3x faster than going through float and rounds the same to ±1;
        # for upscaling, antialiasing changes nothing.
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    out = torch.empty((n, c, h, w), dtype=x.dtype)
    for i in range(0, n, chunk):  # chunked: bounds the temporary memory of large float inputs
        out[i:i + chunk] = F.interpolate(x[i:i + chunk], size=(h, w), mode="bilinear", align_corners=False,
                                         antialias=h < H or w < W)
    return out


def repeat_channels(x: torch.Tensor, channels: Optional[int]) -> torch.Tensor:
    """x ``(N, c, H, W)`` → ``(N, channels, H, W)``: 1 → 3 repeats grey (an expanded view, no copy)."""
    if channels is None or int(channels) == x.shape[1]:
        return x
    if x.shape[1] != 1:
        raise ConfigError(f"channels={channels} cannot be made from {x.shape[1]}-channel images: "
                          f"only 1-channel images can be repeated")
    return x.expand(-1, int(channels), -1, -1)


#: Images a :class:`MappedImages` split's channel statistics are taken from (a seeded sample: reading all of
#: ImageNet for two numbers per channel would take longer than an epoch; 10,000 images pin them to ~1e-3).
STATS_SAMPLE = 10_000


def channel_stats(x: torch.Tensor, chunk: int = 2048) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` of x ``(N, C, H, W)`` in [0, 1] units (uint8 is divided by 255).

    Exact for tensors; for :class:`MappedImages`, over a seeded sample of :data:`STATS_SAMPLE` images.
    """
    if isinstance(x, MappedImages):
        return channel_stats(x.sample(STATS_SAMPLE, seed=0), chunk)
    if x.shape[1] > 1 and x.stride(1) == 0:  # repeated grey: one channel's statistics, repeated
        m, s = channel_stats(x[:, :1], chunk)
        return m * x.shape[1], s * x.shape[1]
    c = x.shape[1]
    if x.dtype == torch.uint8:  # exact, and ~20x faster than float64 sums: a 256-bin histogram per channel
        levels = torch.arange(256, dtype=torch.float64)
        hist = torch.stack([torch.bincount(x[:, i].reshape(-1), minlength=256) for i in range(c)]).double()
        count = hist.sum(1)
        s, s2 = hist @ levels, hist @ levels.square()
    else:
        s, s2 = torch.zeros(c, dtype=torch.float64), torch.zeros(c, dtype=torch.float64)
        for i in range(0, x.shape[0], chunk):
            b = x[i:i + chunk].to(torch.float64)
            s += b.sum(dim=(0, 2, 3))
            s2 += b.square().sum(dim=(0, 2, 3))
        count = torch.full((c,), float(x.shape[0] * x.shape[2] * x.shape[3]), dtype=torch.float64)
    mean = s / count
    std = (s2 / count - mean.square()).clamp_min(0).sqrt()
    pixel = 255.0 if x.dtype == torch.uint8 else 1.0
    std = torch.where(std > 0, std, torch.full_like(std, pixel))  # a constant channel: leave its scale alone
    return tuple((mean / pixel).tolist()), tuple((std / pixel).tolist())


def make_splits(name: str, x_train, y_train, x_test, y_test, num_classes: int, val_fraction: float = 0.1,
                seed: int = 0, resize: Size = None, channels: Optional[int] = None,
                augment: bool = False) -> Splits:
    """Build :class:`Splits` from a dataset's own train and test arrays.

    Args:
        x_train, x_test: uint8 ``(N, C, H, W)`` arrays or tensors; y_train, y_test: integer ``(N,)``. A whole-file
            ``np.memmap`` of a ``.npy`` (``np.load(..., mmap_mode=...)``) is kept on disk as :class:`MappedImages`
            unless ``resize`` or ``channels`` asks for new pixels.
        val_fraction: share of the training images held out for validation (seeded by ``seed``).
        resize: optional side or (h, w) every image is resized to (e.g. 32 for NB201 on Fashion-MNIST).
        channels: optional channel count; 1-channel images are repeated (e.g. 3 for RGB networks).
    """
    xs, ys = [], []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        keep_pixels = resize is None and (channels is None or tuple(np.shape(x)[1:2]) == (int(channels),))
        mapped = MappedImages.of(x) if keep_pixels else None
        x, y = (mapped if mapped is not None else torch.as_tensor(x)), torch.as_tensor(y).to(torch.int64).reshape(-1)
        if x.ndim != 4 or x.shape[0] != y.shape[0]:
            raise DataError(f"{name}: images must be (N, C, H, W) with one label each, "
                            f"got {tuple(x.shape)} and {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise DataError(f"{name}: labels must lie in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}")
        xs.append(resize_images(x, resize) if resize is not None else x)
        ys.append(y)
    tr, va = (torch.from_numpy(i) for i in split_indices(len(ys[0]), val_fraction, seed))
    pick = (lambda x, i: x.take(i)) if isinstance(xs[0], MappedImages) else (lambda x, i: x[i])  # mapped: no read
    # Repeat channels last: indexing an expanded view would copy it, the view itself costs nothing.
    train = (repeat_channels(pick(xs[0], tr), channels), ys[0][tr])
    val = (repeat_channels(pick(xs[0], va), channels), ys[0][va])
    test = (repeat_channels(xs[1], channels), ys[1])
    mean, std = channel_stats(train[0])
    splits = Splits(name, train, val, test, int(num_classes), mean, std, bool(augment))
    log.info("%r", splits)
    return splits


# Augmentation --------------------------------------------------------------------------------------------------
def random_crop_flip(x: torch.Tensor, pad: int = 4, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random crop with zero padding ``pad`` and random horizontal flip, per image, as two batched gathers.

    x: ``(B, C, H, W)`` of any dtype (pad with 0 = black, as torchvision's ``RandomCrop(H, padding=pad)`` on raw
    pixels) on any device; ``generator`` must live on ``x.device``. Returns a new ``(B, C, H, W)`` tensor.
    """
    b, c, h, w = x.shape
    dev = x.device
    xp = F.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=dev)
    flip = torch.randint(0, 2, (b, 1), generator=generator, device=dev).bool()
    rows = torch.arange(h, device=dev)[None, :] + dy[:, None]                          # (B, H)
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = torch.where(flip, (w - 1) - cols, cols) + dx[:, None]  # (B, W): the flip is folded into the gather
    # Rows then columns: two gathers are ~2x faster than one 4-index advanced-indexing gather.
    xr = xp.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * pad))
    return xr.gather(3, cols[:, None, None, :].expand(b, c, h, w))
