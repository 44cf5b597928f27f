"""Image-classification datasets as seeded train / validation / test splits of tensors.

>>> s = load_dataset("fashion-mnist", resize=32, channels=3)   # Splits: uint8 (N, 3, 32, 32) + int64 labels
>>> s.train[0].shape, s.val[0].shape, s.input_shape, s.num_classes

Names: ``cifar10``, ``cifar100`` (python-pickle release, optional checked download), ``fashion-mnist``, ``mnist``
(IDX files), ``digits`` (scikit-learn, no files), ``imagenet`` (any ImageFolder tree ``DIR/train/<class>/*.JPEG``,
``DIR/val/<class>/*.JPEG``; decoded once at :data:`IMAGENET_SIZE` and cached, see :mod:`.imagefolder`). Validation is
held out of the training set; the test split is the dataset's own (ImageNet's official validation set) and only ever
reported.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional, Union

from ..core.objects import lazy_exports
from ..errors import ConfigError

class DatasetInfo(NamedTuple):
    """The facts of one dataset: how it is loaded, its classes, whether training augments it (CIFAR's crop and
    flip), and the ``(C, H, W)`` shape the networks see. The one registry of these facts."""

    kind: str
    classes: int
    augment: bool
    shape: tuple[int, int, int]


#: Canonical names → facts. ImageNet's 1000 classes are nominal: ``load_dataset`` takes its class count from the
#: class folders of ``train/`` (1000 for ImageNet, fewer for a subset or a test tree).
DATASETS = {"cifar10": DatasetInfo("cifar", 10, True, (3, 32, 32)),
            "cifar100": DatasetInfo("cifar", 100, True, (3, 32, 32)),
            "fashion-mnist": DatasetInfo("idx", 10, False, (1, 28, 28)),
            "mnist": DatasetInfo("idx", 10, False, (1, 28, 28)),
            "digits": DatasetInfo("digits", 10, False, (1, 8, 8)),
            "imagenet": DatasetInfo("imagefolder", 1000, True, (3, 224, 224))}
ALIASES = {"cifar-10": "cifar10", "cifar-100": "cifar100", "fashion_mnist": "fashion-mnist",
           "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist", "imagenet-1k": "imagenet",
           "imagenet1k": "imagenet"}
#: Side ImageNet images are decoded at (shorter side resized, centre crop) unless ``resize`` says otherwise.
IMAGENET_SIZE = 224


def canonical_name(name: str) -> str:
    """``"CIFAR-10"`` → ``"cifar10"``; :class:`ConfigError` listing the names for an unknown one."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return key


def load_raw(name: str, root: Union[str, os.PathLike, None] = None, download: bool = False, **kw):
    """The dataset's own ``(x_train, y_train, x_test, y_test)`` arrays: uint8 ``(N, C, H, W)``, int64 ``(N,)``.

    ``kw`` goes to the CIFAR loader (``url``, ``md5``, ``timeout_s``) or the ImageFolder loader (``resize``, default
    :data:`IMAGENET_SIZE`, ``fraction``, ``seed``, ``max_per_class``, ``cache_dir``, ``mmap_mode``, ``workers``,
    ``progress``: see :func:`.imagefolder.load_imagefolder`).
    """
    key = canonical_name(name)
    kind, classes = DATASETS[key].kind, DATASETS[key].classes
    if kind == "cifar":
        from .cifar import load_cifar
        return load_cifar(classes, root, download=download, **kw)
    if kind == "imagefolder":
        if root is None:
            raise ConfigError(f"dataset {key!r} has no default folder: pass --dataset-dir DIR (root=DIR) holding "
                              f"DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG")
        if download:
            raise ConfigError(f"dataset {key!r} cannot be downloaded: pass --dataset-dir DIR where it is")
        from .imagefolder import load_imagefolder
        kw.setdefault("resize", IMAGENET_SIZE)
        return load_imagefolder(root, **kw)
    if kw or download:
        raise ConfigError(f"dataset {key!r} cannot be downloaded: download, url, md5 are for CIFAR only")
    if kind == "idx":
        from .idx import load_idx_dataset
        return load_idx_dataset(key, root)
    from .digits import load_digits_arrays
    return load_digits_arrays()


def load_dataset(name: str, root: Union[str, os.PathLike, None] = None, val_fraction: float = 0.1, seed: int = 0,
                 download: bool = False, resize=None, channels: Optional[int] = None,
                 **kw) -> "Splits":
    """Load ``name`` and split it: see :class:`Splits`.

    Args:
        root: the dataset's folder (default: ``~/.cache/gptnas/datasets`` for CIFAR,
            ``/usr/share/datasets/fashion-mnist`` and ``/usr/share/datasets/mnist``; unused for digits).
        val_fraction: share of the training set held out for validation, chosen by ``seed``.
        download: CIFAR only: fetch and verify the official archive when missing.
        resize: optional side or (h, w) to resize every image to (bilinear). ImageNet: the square side the images
            are decoded at (default :data:`IMAGENET_SIZE`).
        channels: optional channel count (1-channel images are repeated, e.g. 3 for RGB networks).
        kw: CIFAR download overrides ``url``, ``md5``, ``timeout_s``. ImageNet: ``fraction`` (share of each class's
            training images kept, e.g. 0.1 for the search; any dataset accepts 1.0), ``subset_seed`` (chooses that
            share, default 0: a fixed subset whose decoded cache all run seeds share), ``max_per_class``,
            ``cache_dir``, ``mmap_mode`` (default ``"c"``: the cached arrays are mapped, not read twice),
            ``workers``, ``progress``. Its ``num_classes`` is the number of class folders in ``train/``.

    Raises :class:`~gptnas.errors.DataError` when files are missing or corrupt (naming folder and files),
    :class:`~gptnas.errors.ConfigError` for a bad name or setting.
    """
    from .splits import make_splits

    key = canonical_name(name)
    kind, classes, augment = DATASETS[key][:3]
    fraction = kw.pop("fraction", 1.0)
    if kind == "imagefolder":
        side = resize if resize is not None else IMAGENET_SIZE
        if isinstance(side, (tuple, list)):
            if len(side) != 2 or side[0] != side[1]:
                raise ConfigError(f"{key} images are square: resize must be one side, got {resize!r}")
            side = side[0]
        kw.setdefault("mmap_mode", "c")
        x_tr, y_tr, x_te, y_te = load_raw(key, root, download=download, resize=side, fraction=fraction,
                                          seed=kw.pop("subset_seed", 0), **kw)
        from .imagefolder import find_classes
        classes = len(find_classes(os.path.join(os.path.expanduser(root), "train")))  # 1000 for ImageNet itself
        return make_splits(key, x_tr, y_tr, x_te, y_te, classes, val_fraction=val_fraction, seed=seed,
                           channels=channels, augment=augment)
    if fraction != 1:
        raise ConfigError(f"fraction={fraction!r} is for imagenet only: {key} always uses all its training images "
                          f"(max_train limits them for quick runs)")
    x_tr, y_tr, x_te, y_te = load_raw(key, root, download=download, **kw)
    return make_splits(key, x_tr, y_tr, x_te, y_te, classes, val_fraction=val_fraction, seed=seed, resize=resize,
                       channels=channels, augment=augment)


_SPLITS_NAMES = ("Size", "Splits", "make_splits", "random_crop_flip")


# torch is imported only when splits are needed: the registry above is read by config validation
__getattr__, __dir__ = lazy_exports(__name__, {n: "splits" for n in _SPLITS_NAMES}, globals())


def input_shape(name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of a dataset's images as the networks see them."""
    return DATASETS[canonical_name(name)].shape


def num_classes(name: str) -> int:
    return DATASETS[canonical_name(name)].classes


__all__ = ["input_shape", "num_classes", "ALIASES", "DATASETS", "DatasetInfo", "IMAGENET_SIZE", "Splits", "canonical_name", "load_dataset", "load_raw",
           "make_splits", "random_crop_flip"]
