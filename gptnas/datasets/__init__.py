"""Image-classification datasets as seeded train / validation / test splits of tensors.

>>> s = load_dataset("fashion-mnist", resize=32, channels=3)   # Splits: uint8 (N, 3, 32, 32) + int64 labels
>>> s.train[0].shape, s.val[0].shape, s.input_shape, s.num_classes

Names: ``cifar10``, ``cifar100`` (python-pickle release, optional checked download), ``fashion-mnist``, ``mnist``
(IDX files), ``digits`` (scikit-learn, no files). Validation is held out of the training set; the test split is the
dataset's own and only ever reported.
"""
from __future__ import annotations

import os
from typing import Optional, Union

from ..errors import ConfigError
from .splits import Size, Splits, make_splits, random_crop_flip

#: Canonical names → (loader kind, classes, CIFAR-style augmentation).
DATASETS = {"cifar10": ("cifar", 10, True), "cifar100": ("cifar", 100, True),
            "fashion-mnist": ("idx", 10, False), "mnist": ("idx", 10, False), "digits": ("digits", 10, False)}
ALIASES = {"cifar-10": "cifar10", "cifar-100": "cifar100", "fashion_mnist": "fashion-mnist",
           "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}


def canonical_name(name: str) -> str:
    """``"CIFAR-10"`` → ``"cifar10"``; :class:`ConfigError` listing the names for an unknown one."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return key


def load_raw(name: str, root: Union[str, os.PathLike, None] = None, download: bool = False, **kw):
    """The dataset's own ``(x_train, y_train, x_test, y_test)`` arrays: uint8 ``(N, C, H, W)``, int64 ``(N,)``.

    ``kw`` goes to the CIFAR loader (``url``, ``md5``, ``timeout_s``).
    """
    key = canonical_name(name)
    kind, classes, _ = DATASETS[key]
    if kind == "cifar":
        from .cifar import load_cifar
        return load_cifar(classes, root, download=download, **kw)
    if kw or download:
        raise ConfigError(f"dataset {key!r} cannot be downloaded: download, url, md5 are for CIFAR only")
    if kind == "idx":
        from .idx import load_idx_dataset
        return load_idx_dataset(key, root)
    from .digits import load_digits_arrays
    return load_digits_arrays()


def load_dataset(name: str, root: Union[str, os.PathLike, None] = None, val_fraction: float = 0.1, seed: int = 0,
                 download: bool = False, resize: Size = None, channels: Optional[int] = None,
                 **kw) -> Splits:
    """Load ``name`` and split it: see :class:`Splits`.

    Args:
        root: the dataset's folder (default: ``~/.cache/gptnas/datasets`` for CIFAR,
            ``/usr/share/datasets/fashion-mnist`` and ``/usr/share/datasets/mnist``; unused for digits).
        val_fraction: share of the training set held out for validation, chosen by ``seed``.
        download: CIFAR only: fetch and verify the official archive when missing.
        resize: optional side or (h, w) to resize every image to (bilinear).
        channels: optional channel count (1-channel images are repeated, e.g. 3 for RGB networks).
        kw: CIFAR download overrides ``url``, ``md5``, ``timeout_s``.

    Raises :class:`~gptnas.errors.DataError` when files are missing or corrupt (naming folder and files),
    :class:`~gptnas.errors.ConfigError` for a bad name or setting.
    """
    key = canonical_name(name)
    _, classes, augment = DATASETS[key]
    x_tr, y_tr, x_te, y_te = load_raw(key, root, download=download, **kw)
    return make_splits(key, x_tr, y_tr, x_te, y_te, classes, val_fraction=val_fraction, seed=seed, resize=resize,
                       channels=channels, augment=augment)


__all__ = ["ALIASES", "DATASETS", "Splits", "canonical_name", "load_dataset", "load_raw", "make_splits",
           "random_crop_flip"]
