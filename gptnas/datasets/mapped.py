"""Images that stay on disk: a row selection of a memory-mapped ``.npy`` array, read one batch at a time.

ImageNet decoded at 224 px is 193 GB (:mod:`.imagefolder`), more than a machine's memory or a GPU's. Splitting
such an array the usual way (``x[train_idx]``) would copy it; :class:`MappedImages` keeps the file and the chosen
rows instead, and ``images[idx]`` reads just the rows of one batch (in file order, so the disk reads forward).
It pickles as ``(path, rows)``, so DataLoader or process-pool workers reopen the file rather than copying it.

>>> x = MappedImages.open("train-224px.npy")        # uint8 (N, 3, 224, 224), nothing read yet
>>> tr = x.take(np.arange(1000)); tr[torch.tensor([5, 2])].shape    # torch.Size([2, 3, 224, 224])
"""
from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np
import torch

#: Images read per chunk when a whole selection is read or its statistics are taken.
CHUNK = 1024


class MappedImages:
    """Rows ``rows`` of the ``uint8 (N, C, H, W)`` array in the ``.npy`` file ``path``, read on demand.

    Behaves like the uint8 tensor it stands for where the training code needs it: ``len``, ``shape``, ``ndim``,
    ``dtype``, ``device`` and ``x[idx]`` (``idx`` an int tensor / array / list or a slice) → a uint8 tensor.
    """

    def __init__(self, path: Union[str, os.PathLike], rows: Optional[np.ndarray] = None):
        self.path = os.fspath(path)
        self._array: Optional[np.ndarray] = None
        n = len(self.array)
        self.rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(self.rows) and (self.rows.min() < 0 or self.rows.max() >= n):
            raise IndexError(f"rows outside 0..{n - 1} of {self.path}")

    @classmethod
    def open(cls, path: Union[str, os.PathLike]) -> "MappedImages":
        """All rows of the ``.npy`` file at ``path``."""
        return cls(path)

    @classmethod
    def of(cls, array: np.ndarray) -> Optional["MappedImages"]:
        """A view of ``array`` when it is an unmodified whole-file ``np.memmap`` of a ``.npy`` file, else None."""
        if not isinstance(array, np.memmap) or getattr(array, "filename", None) is None:
            return None
        try:
            whole = np.load(array.filename, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if whole.shape != array.shape or whole.dtype != array.dtype or array.offset != whole.offset:
            return None
        return cls(array.filename)

    @property
    def array(self) -> np.ndarray:
        """The file's whole array, memory-mapped read-only (opened on first use in each process)."""
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getstate__(self) -> dict:
        return {"path": self.path, "rows": self.rows}  # never the mapped array: workers reopen the file

    def __setstate__(self, state: dict) -> None:
        self.path, self.rows, self._array = state["path"], state["rows"], None

    # The tensor-like surface -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows),) + tuple(self.array.shape[1:]))

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> torch.dtype:
        return torch.from_numpy(np.empty(0, dtype=self.array.dtype)).dtype

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def nbytes(self) -> int:
        """Bytes the selection takes once read."""
        return len(self.rows) * int(np.prod(self.array.shape[1:])) * self.array.dtype.itemsize

    def take(self, idx) -> "MappedImages":
        """The sub-selection ``self[idx]`` as another :class:`MappedImages` (nothing read)."""
        return MappedImages(self.path, self.rows[_as_index(idx)])

    def __getitem__(self, idx) -> torch.Tensor:
        """Read rows ``idx`` (positions in this selection) → uint8 tensor ``(len(idx), C, H, W)``, in idx order."""
        wanted = np.atleast_1d(self.rows[_as_index(idx)])
        order = np.argsort(wanted, kind="stable")  # read forward through the file, then put back in order
        out = np.empty((len(wanted),) + self.array.shape[1:], dtype=self.array.dtype)
        out[order] = self.array[wanted[order]]
        return torch.from_numpy(out)

    def read(self) -> torch.Tensor:
        """The whole selection as one in-memory uint8 tensor (for data that fits on the device)."""
        out = torch.empty(tuple(self.shape), dtype=self.dtype)
        for i in range(0, len(self), CHUNK):
            out[i:i + CHUNK] = self[slice(i, i + CHUNK)]
        return out

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """A seeded random ``n`` of the images (all of them when fewer), uint8 ``(n, C, H, W)``."""
        if n >= len(self):
            return self.read()
        pick = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return self[pick]

    def __repr__(self) -> str:
        return f"MappedImages({self.path!r}, {len(self)} of {len(self.array)} rows, shape={tuple(self.shape)})"


def _as_index(idx):
    """A tensor / list index as a numpy one (slices and ints pass through)."""
    if isinstance(idx, torch.Tensor):
        return idx.cpu().numpy()
    if isinstance(idx, (list, tuple)):
        return np.asarray(idx, dtype=np.int64)
    return idx
