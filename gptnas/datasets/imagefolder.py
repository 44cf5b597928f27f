"""ImageNet (or any image-classification set) in the "ImageFolder" layout, decoded once into cached uint8 arrays.

Layout read (``root`` is the folder holding ``train/`` and ``val/``)::

    root/train/<class>/*.JPEG      the training images (.JPEG, .jpg, .jpeg or .png, any case; subfolders too)
    root/val/<class>/*.JPEG        the official validation set, sorted into class folders (``valprep.sh``)

The classes are the sorted subfolder names of ``train/`` (index = position); ``val/`` uses the same mapping and must
not name a class that ``train/`` lacks. The official validation set serves as the *test* split; the search's
validation split is held out of the training images by :func:`~gptnas.datasets.splits.make_splits`, as for the
other datasets.

Every image is converted to RGB, its shorter side resized to ``S`` (bilinear, antialiased) and the centre ``S×S``
cropped. ``fraction < 1`` keeps a seeded, class-stratified share of the training images (the GPT-NAS search uses
10 % of ImageNet). Decoding ImageNet takes long, so the decoded ``uint8 (N, 3, S, S)`` arrays are cached as
``.npy`` files (one per split; decoded straight into a memory-mapped temporary file, then renamed into place, so
the memory used stays small and a crash leaves no half file). The cache key is a hash of the split folder's
absolute path, ``S`` and the chosen files with their sizes and modification times, so it also covers ``fraction``,
``seed`` and ``max_per_class``; an edited file or tree is decoded again. Concurrent processes asking for the same
split wait for the first one's decode (a lock file) instead of decoding it in parallel.

Sizes: ImageNet's 1.28 M training images take 3·S² bytes each: 15.7 GB at S = 64, 193 GB at S = 224 (19 GB for the
10 % search subset); the 50 k validation images 7.5 GB at 224. Pass ``mmap_mode="r"`` (or ``"c"``) to map the
cached arrays instead of reading them into memory; ``load_dataset("imagenet", ...)`` does, and its splits stay rows
of the mapped file (:class:`~.mapped.MappedImages`), read a batch at a time.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: File endings read as images (compared lower-case).
EXTENSIONS = (".jpeg", ".jpg", ".png")
#: Where the decoded arrays are cached when no ``cache_dir`` is given.
DEFAULT_CACHE = Path("~/.cache/gptnas/imagefolder")
#: Bump when the decoding changes, so old caches are not reused.
CACHE_VERSION = 1
#: Fewer images than this are decoded in the calling thread.
PARALLEL_MIN = 256

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def layout_hint(root: Path) -> str:
    return (f"expected ImageNet in the ImageFolder layout: {root}/train/<class>/*.JPEG and {root}/val/<class>/*.JPEG "
            f"(val sorted into the same class folders)")


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def find_classes(split_dir: Union[str, os.PathLike]) -> list[str]:
    """Sorted names of the class subfolders of ``split_dir`` (hidden ones skipped); ``[]`` when there are none."""
    with os.scandir(split_dir) as it:
        return sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())


def list_images(class_dir: Path) -> list[Path]:
    """The image files under ``class_dir`` (recursively, links followed), sorted by relative path."""
    out = []
    for d, dirs, files in os.walk(class_dir, followlinks=True):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        out += [Path(d) / f for f in files if f.lower().endswith(EXTENSIONS) and not f.startswith(".")]
    return sorted(out)


def scan_split(root: Path, split: str, classes: Optional[list[str]] = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """``(files, labels int64, classes)`` of ``root/split``; ``classes`` given: the mapping to use (for val).

    Raises :class:`DataError` for a missing folder, no class folders, an empty class folder or a class not in train.
    """
    split_dir = root / split
    if not split_dir.is_dir():
        raise DataError(f"no {split}/ folder in {root}: {layout_hint(root)}")
    names = find_classes(split_dir)
    if not names:
        raise DataError(f"no class folders in {split_dir}: {layout_hint(root)}")
    if classes is None:
        classes = names
    else:
        unknown = sorted(set(names) - set(classes))
        if unknown:
            more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
            raise DataError(f"{split_dir} has class folders that train/ lacks: {', '.join(unknown[:3])}{more}; "
                            f"val/ must use the class folder names of train/")
    index = {c: i for i, c in enumerate(classes)}
    files, labels = [], []
    for name in names:
        found = list_images(split_dir / name)
        if not found:
            raise DataError(f"empty class folder {split_dir / name}: expected images "
                            f"(*.JPEG, *.jpg, *.jpeg, *.png) in every class folder; {layout_hint(root)}")
        files += found
        labels += [index[name]] * len(found)
    return files, np.asarray(labels, dtype=np.int64), classes


def stratified_subset(labels: np.ndarray, fraction: float = 1.0, seed: int = 0,
                      max_per_class: Optional[int] = None) -> np.ndarray:
    """Sorted indices keeping ``max(1, round(n_c · fraction))`` images of each class (capped at ``max_per_class``).

    Each class's choice is seeded by ``(seed, class)`` alone, so it does not depend on the other classes.
    """
    if not 0.0 < float(fraction) <= 1.0:
        raise ConfigError(f"fraction must lie in (0, 1], got {fraction!r}")
    if max_per_class is not None and int(max_per_class) < 1:
        raise ConfigError(f"max_per_class must be >= 1, got {max_per_class!r}")
    if float(fraction) == 1.0 and max_per_class is None:
        return np.arange(len(labels))
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = len(idx) if float(fraction) == 1.0 else max(1, int(round(len(idx) * float(fraction))))
        if max_per_class is not None:
            k = min(k, int(max_per_class))
        if k < len(idx):
            idx = np.random.default_rng([int(seed), int(c)]).choice(idx, size=k, replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep))


def decode_image(path: Path, size: int) -> np.ndarray:
    """One image → uint8 ``(3, size, size)``: RGB, shorter side resized to ``size``, centre crop.

    Raises :class:`DataError` naming the file when it cannot be read.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale still >= size (much faster)
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, int(round(w * scale))), max(size, int(round(h * scale)))
            if (nw, nh) != (w, h):
                im = im.resize((nw, nh), Image.BILINEAR)
            left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
            im = im.crop((left, top, left + size, top + size))
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"unreadable image {path} ({_one_line(e)}): replace or delete it") from None
    return arr.transpose(2, 0, 1)


def decode_into(out: np.ndarray, files: list[Path], size: int, workers: Optional[int] = None,
                progress: Optional[bool] = None, desc: str = "decoding") -> None:
    """Decode ``files[i]`` into ``out[i]`` (``(N, 3, size, size)`` uint8), with a tqdm bar, in threads when many.

    Pillow releases the GIL while decoding and resizing, so threads decode in parallel without copying results.
    """
    from tqdm.auto import tqdm

    n = len(files)
    workers = int(workers) if workers is not None else min(16, os.cpu_count() or 1)
    with tqdm(total=n, desc=desc, unit="img", disable=None if progress is None else not progress,
              leave=False) as bar:
        def work(lo: int, hi: int) -> int:
            for i in range(lo, hi):
                out[i] = decode_image(files[i], size)
            return hi - lo

        if workers <= 1 or n < PARALLEL_MIN:
            for lo in range(0, n, 64):
                bar.update(work(lo, min(n, lo + 64)))
            return
        pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imagefolder")
        try:
            futures = [pool.submit(work, lo, min(n, lo + 64)) for lo in range(0, n, 64)]
            for f in cf.as_completed(futures):
                bar.update(f.result())
        finally:  # on an error: drop the queued chunks instead of decoding them all first
            pool.shutdown(wait=True, cancel_futures=True)


def cache_key(split_dir: Path, files: list[Path], size: int) -> str:
    """Hash of the split folder, the side and the chosen files (relative path, size, mtime)."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, str(split_dir.resolve()), int(size)]).encode())
    for f in files:
        st = f.stat()
        h.update(f"\0{f.relative_to(split_dir).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: Path):
    """Exclusive advisory lock on ``path`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _valid(path: Path, n: int, size: int) -> bool:
    try:
        x = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return x.dtype == np.uint8 and x.shape == (n, 3, size, size)


def load_split_images(split_dir: Path, files: list[Path], size: int, cache_dir: Union[str, os.PathLike, None, bool],
                      mmap_mode: Optional[str] = None, workers: Optional[int] = None,
                      progress: Optional[bool] = None) -> np.ndarray:
    """uint8 ``(N, 3, size, size)`` of ``files``, from the cache when there, else decoded (and cached).

    ``cache_dir=False`` decodes into memory and writes nothing.
    """
    n = len(files)
    desc = f"decoding {split_dir.name}"
    if cache_dir is False:
        out = np.empty((n, 3, size, size), dtype=np.uint8)
        decode_into(out, files, size, workers, progress, desc)
        return out
    folder = Path(cache_dir if cache_dir is not None else DEFAULT_CACHE).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the decoded-image cache {folder} ({_one_line(e)}): pass cache_dir=DIR "
                        f"(a writable folder) or cache_dir=False") from None
    stem = f"{split_dir.parent.name or 'root'}-{split_dir.name}-{size}px-n{n}-{cache_key(split_dir, files, size)[:20]}"
    path = folder / f"{stem}.npy"
    with _locked(folder / f".{stem}.lock"):
        if _valid(path, n, size):
            log.info("%s: %d decoded images from the cache %s", split_dir, n, path)
        else:
            tmp = folder / f".{stem}.{os.getpid()}.tmp.npy"
            try:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
                decode_into(out, files, size, workers, progress, desc)
                out.flush()
                del out
                os.replace(tmp, path)
            except OSError as e:
                raise DataError(f"cannot write the decoded-image cache {path} ({_one_line(e)}): free space, or pass "
                                f"cache_dir=DIR elsewhere or cache_dir=False") from None
            finally:
                tmp.unlink(missing_ok=True)
            log.info("%s: decoded %d images into %s", split_dir, n, path)
    return np.load(path, mmap_mode=mmap_mode)


def load_imagefolder(root: Union[str, os.PathLike], resize: int = 224, fraction: float = 1.0, seed: int = 0,
                     max_per_class: Optional[int] = None, cache_dir: Union[str, os.PathLike, None, bool] = None,
                     mmap_mode: Optional[str] = None, workers: Optional[int] = None,
                     progress: Optional[bool] = None) -> Arrays:
    """An ImageFolder tree as ``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 3, S, S)``, int64 ``(N,)``.

    Args:
        root: folder holding ``train/<class>/`` and ``val/<class>/`` (``val`` becomes the test split).
        resize: the side ``S`` (shorter side resized to it, then the centre ``S×S`` cropped).
        fraction: share of each class's training images kept, chosen by ``seed`` (at least one per class).
        max_per_class: optional cap on the images per class (train and val), for quick runs.
        cache_dir: folder for the decoded ``.npy`` arrays (default ``~/.cache/gptnas/imagefolder``);
            ``False``: no cache.
        mmap_mode: ``np.load`` mode for the cached arrays (``"r"``, ``"c"``: memory-mapped; None: read in).
        workers: decoding threads (default: CPU count, at most 16); progress: tqdm bar (None: on a terminal).

    Raises :class:`DataError` naming the path for a missing ``train/`` or ``val/``, an empty class folder, a val class
    that train lacks or an unreadable image; :class:`ConfigError` for a bad setting.
    """
    if root is None:
        raise ConfigError("the ImageFolder dataset needs its folder: pass --dataset-dir DIR (root=DIR) holding "
                          "train/<class>/*.JPEG and val/<class>/*.JPEG")
    if isinstance(resize, bool) or not isinstance(resize, (int, np.integer)) or int(resize) < 1:
        raise ConfigError(f"resize must be a positive side (square images), got {resize!r}")
    size = int(resize)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder {root} not found: {layout_hint(root)}")
    tr_files, y_tr, classes = scan_split(root, "train")
    te_files, y_te, _ = scan_split(root, "val", classes)
    keep = stratified_subset(y_tr, fraction, seed, max_per_class)
    tr_files, y_tr = [tr_files[i] for i in keep], y_tr[keep]
    if max_per_class is not None:
        keep = stratified_subset(y_te, 1.0, seed, max_per_class)
        te_files, y_te = [te_files[i] for i in keep], y_te[keep]
    x_tr = load_split_images(root / "train", tr_files, size, cache_dir, mmap_mode, workers, progress)
    x_te = load_split_images(root / "val", te_files, size, cache_dir, mmap_mode, workers, progress)
    log.info("ImageFolder %s: %d classes, %d train (fraction %g), %d val images at %dx%d", root, len(classes),
             len(y_tr), fraction, len(y_te), size, size)
    return x_tr, y_tr, x_te, y_te
