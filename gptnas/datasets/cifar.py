"""CIFAR-10 and CIFAR-100 from the official python-pickle releases, with an optional checked download.

Layout read (``root`` is the folder holding the release folder, or the release folder itself)::

    cifar-10-batches-py/data_batch_1 .. data_batch_5, test_batch      (dicts: b"data" uint8 (N, 3072), b"labels")
    cifar-100-python/train, test                                        (b"data", b"fine_labels")

Each row of ``b"data"`` is 1024 red, then 1024 green, then 1024 blue pixels of a 32x32 image, row-major, so a reshape
to ``(N, 3, 32, 32)`` gives NCHW directly. The batches are unpickled with an allow-list (plain containers and numpy
arrays only), so a tampered file cannot run code.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import DataError

log = logging.getLogger(__name__)

#: Where CIFAR is looked for (and downloaded to) when no ``root`` is given.
DEFAULT_ROOT = Path("~/.cache/gptnas/datasets")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CifarRelease:
    """One official release: its folder, files, label key and archive."""

    name: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    num_classes: int
    url: str
    md5: str

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def expected(self) -> str:
        """Human-readable list of the files that must be there."""
        return f"{self.folder}/{{{', '.join(self.train_files + self.test_files)}}}"


RELEASES = {
    10: CifarRelease("CIFAR-10", "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)),
                     ("test_batch",), b"labels", 10,
                     "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    100: CifarRelease("CIFAR-100", "cifar-100-python", ("train",), ("test",), b"fine_labels", 100,
                      "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
}


# Reading -------------------------------------------------------------------------------------------------------
class _BatchUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, bytes and numpy arrays; any other global is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "dict"), ("builtins", "list"),
               ("_codecs", "encode")}  # protocol-2 pickles written by Python 3 store bytes via _codecs.encode

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch → ``(x uint8 (N, 3, 32, 32), y int64 (N,))``; :class:`DataError` if unreadable."""
    try:
        with open(path, "rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
        data, labels = d[b"data"], d[label_key]
        x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (OSError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as e:
        raise DataError(f"corrupt CIFAR batch {path} ({type(e).__name__}: {e}): delete its folder and download "
                        f"again (download=True)") from None
    if len(x) != len(y):
        raise DataError(f"corrupt CIFAR batch {path}: {len(x)} images but {len(y)} labels")
    return x, y


def release_dir(root: Path, rel: CifarRelease) -> Path:
    """The folder holding the batch files: ``root/<folder>`` or ``root`` itself."""
    return root if root.name == rel.folder or (root / rel.train_files[0]).is_file() else root / rel.folder


def _present(folder: Path, rel: CifarRelease) -> bool:
    return all((folder / f).is_file() for f in rel.train_files + rel.test_files)


def load_cifar(num_classes: int = 10, root: Union[str, os.PathLike, None] = None, download: bool = False,
               url: Optional[str] = None, md5: Optional[str] = None, timeout_s: float = 60.0) -> Arrays:
    """CIFAR-10 or CIFAR-100 as ``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 3, 32, 32)``, int64 ``(N,)``.

    Args:
        num_classes: 10 or 100.
        root: folder holding ``cifar-10-batches-py/`` (or that folder itself); default ``~/.cache/gptnas/datasets``.
        download: fetch, verify and extract the official archive into ``root`` when the files are missing.
        url, md5: override the archive address and its checksum (mirrors, tests).

    Raises :class:`DataError` naming the folder and files when they are missing (and not downloaded) or corrupt.
    """
    if num_classes not in RELEASES:
        raise DataError(f"CIFAR has 10 or 100 classes, not {num_classes}")
    rel = RELEASES[num_classes]
    root = Path(root if root is not None else DEFAULT_ROOT).expanduser()
    folder = release_dir(root, rel)
    if not _present(folder, rel):
        if not download:
            raise DataError(f"{rel.name} not found in {folder}: expected {rel.expected()} (the python version); "
                            f"pass download=True to fetch {url or rel.url}, or root=DIR where it is")
        target = folder.parent
        archive = download_archive(url or rel.url, md5 or rel.md5, target, timeout_s=timeout_s)
        extract_archive(archive, target, rel.folder)
        folder = target / rel.folder
        if not _present(folder, rel):
            raise DataError(f"{archive} did not contain {rel.expected()}: check url/md5 or extract it by hand")
    parts = [[read_batch(folder / f, rel.label_key) for f in files] for files in (rel.train_files, rel.test_files)]
    (x_tr, y_tr), (x_te, y_te) = ((np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
                                  for ps in parts)
    for y, where in ((y_tr, "train"), (y_te, "test")):
        if y.size and (y.min() < 0 or y.max() >= rel.num_classes):
            raise DataError(f"corrupt {rel.name} {where} labels in {folder}: found {y.min()}..{y.max()}")
    log.info("%s from %s: %d train, %d test images", rel.name, folder, len(y_tr), len(y_te))
    return x_tr, y_tr, x_te, y_te


# Download and extraction ---------------------------------------------------------------------------------------
def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_archive(url: str, md5: str, dest_dir: Path, timeout_s: float = 60.0) -> Path:
    """Download ``url`` into ``dest_dir`` (kept if already there with the right checksum) and verify its md5.

    Raises :class:`DataError` on a network failure or a checksum mismatch (the bad file is deleted).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / url.rsplit("/", 1)[-1]
    if path.is_file() and file_md5(path) == md5.lower():
        return path
    part = path.with_name(path.name + ".part")
    log.info("downloading %s to %s", url, path)
    h = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r, open(part, "wb") as f:
            for block in iter(lambda: r.read(1 << 20), b""):
                h.update(block)
                f.write(block)
    except (urllib.error.URLError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        raise DataError(f"could not download {url} ({getattr(e, 'reason', e)}): download it by hand into "
                        f"{dest_dir} and extract it there") from None
    if h.hexdigest() != md5.lower():
        part.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: md5 {h.hexdigest()}, expected {md5}; the download is "
                        f"corrupt or not the official archive: retry, or pass the right url/md5")
    os.replace(part, path)
    return path


def _check_member(member: tarfile.TarInfo, dest: Path, archive: Path) -> None:
    target = (dest / member.name).resolve()
    inside = target == dest or dest in target.parents
    if not inside or member.name.startswith(("/", "\\")) or not (member.isfile() or member.isdir()):
        raise DataError(f"unsafe entry {member.name!r} in {archive} (outside the folder, a link or a device): "
                        f"refusing to extract; check the url/md5")


def extract_archive(archive: Path, dest_dir: Path, folder: str) -> None:
    """Extract ``folder/`` of a .tar.gz into ``dest_dir`` safely: regular files and folders inside only.

    Extracts into a temporary folder first and moves ``folder`` into place, so a failure leaves no half folder.
    """
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()
            base = tmp.resolve()
            for m in members:
                _check_member(m, base, archive)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12: the library's own safety net too
                tf.extractall(tmp, members=members, filter="data")
            else:
                tf.extractall(tmp, members=members)  # noqa: S202 - every member was checked above
        if not (tmp / folder).is_dir():
            raise DataError(f"{archive} holds no {folder}/ folder: check the url/md5")
        shutil.rmtree(dest_dir / folder, ignore_errors=True)
        os.replace(tmp / folder, dest_dir / folder)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"corrupt archive {archive} ({e}): delete it and download again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
