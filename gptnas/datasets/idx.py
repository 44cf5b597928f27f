"""MNIST and Fashion-MNIST from the standard IDX files (gzipped or not).

Files read from ``root``: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz``. IDX: two zero bytes, a type code (0x08 = uint8), the
number of dimensions, each dimension as a big-endian int32, then the values row-major.
"""
from __future__ import annotations

import gzip
import logging
import os
import struct
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import DataError

log = logging.getLogger(__name__)

#: Default folders; ``apt-get install dataset-fashion-mnist`` fills the first.
DEFAULT_ROOTS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
                 "mnist": Path("/usr/share/datasets/mnist")}
HINTS = {"fashion-mnist": "apt-get install dataset-fashion-mnist, or pass root=DIR",
         "mnist": "put the MNIST IDX files there, or pass root=DIR"}
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

#: IDX type code → big-endian numpy dtype.
DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_idx(path: Union[str, os.PathLike]) -> np.ndarray:
    """An IDX file (gzip detected from its first bytes) → numpy array of its shape, native byte order.

    Raises :class:`DataError` naming the file if it is not IDX or is truncated.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read IDX file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic {raw[:4].hex()}): replace it with the original")
    dtype, ndim = DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"truncated IDX file {path}: replace it with the original")
    shape = struct.unpack(f">{ndim}i", raw[4:header])
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(f"truncated or padded IDX file {path}: shape {shape} needs {count * dtype.itemsize} bytes "
                        f"of data, found {len(raw) - header}; replace it with the original")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: Union[str, os.PathLike], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``); inverse of :func:`read_idx`."""
    array = np.asarray(array)
    code = {v.newbyteorder("="): k for k, v in DTYPES.items()}.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    data = struct.pack(f">BBBB{array.ndim}i", 0, 0, code, array.ndim, *array.shape)
    data += array.astype(DTYPES[code]).tobytes()
    with (gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb")) as f:
        f.write(data)


def find_file(root: Path, stem: str) -> Path | None:
    """``root/stem`` or ``root/stem.gz``, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def load_idx_dataset(name: str = "fashion-mnist", root: Union[str, os.PathLike, None] = None) -> Arrays:
    """MNIST-format dataset as ``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 1, 28, 28)``, int64 ``(N,)``.

    Args:
        name: ``"fashion-mnist"`` or ``"mnist"`` (only picks the default folder and the hint).
        root: folder holding the four IDX files; default :data:`DEFAULT_ROOTS` ``[name]``.
    """
    root = Path(root if root is not None else DEFAULT_ROOTS[name]).expanduser()
    stems = FILES["train"] + FILES["test"]
    paths = [find_file(root, s) for s in stems]
    if any(p is None for p in paths):
        missing = [s for s, p in zip(stems, paths) if p is None]
        raise DataError(f"{name} not found in {root}: missing {', '.join(missing)} (.gz or not); {HINTS[name]}")
    out = []
    for img_path, lab_path in (paths[:2], paths[2:]):
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{img_path} and {lab_path} are not an image/label pair: shapes {x.shape} {x.dtype} "
                            f"and {y.shape}; replace them with the originals")
        out += [x[:, None], y.astype(np.int64)]
    log.info("%s from %s: %d train, %d test images", name, root, len(out[1]), len(out[3]))
    return tuple(out)
