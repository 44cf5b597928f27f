"""How fast batches of decoded ImageNet-sized images reach the training loop, in memory vs. streamed from disk.

    python experiments/bench_streaming.py [--images 4096] [--side 224] [--batch 128] [--workers 0,2]

Writes a synthetic uint8 ``(N, 3, S, S)`` ``.npy`` (what :mod:`gptnas.datasets.imagefolder` caches) to a temporary
folder and times, in a shuffled order, the batches the training evaluator would draw (images/s, no model):

* ``in memory``: ``index_select`` on a uint8 tensor (the resident path; on a GPU this runs on the device);
* ``mapped, warm``: :class:`~gptnas.datasets.mapped.MappedImages` reads, file already in the page cache;
* ``mapped, cold``: the same after ``posix_fadvise(DONTNEED)`` dropped the file's pages (reads hit the disk);
* ``DataLoader, K workers``: the evaluator's streamed path (``_Gather`` over the mapped rows), cold cache.

Prints a markdown table. The figure that matters is images/s against what a GPU trains per second at that side.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gptnas.datasets.mapped import MappedImages  # noqa: E402
from gptnas.evaluators.training import Gather as _Gather  # noqa: E402


def drop_cache(path: Path) -> None:
    """Evict the file's pages from the page cache (clean pages; no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def rate(batches, n_images: int) -> float:
    t0 = time.perf_counter()
    seen = 0
    for xb in batches:
        seen += len(xb)
    assert seen == n_images
    return n_images / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", default="0,2", help="comma-separated DataLoader worker counts")
    ap.add_argument("--dir", help="folder for the temporary file (default: the system's temp folder)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n, s = args.images, args.side
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    chunks = list(order.split(args.batch))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "images.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, 3, s, s))
        rng = np.random.default_rng(0)
        for i in range(0, n, 256):
            out[i:i + 256] = rng.integers(0, 256, out[i:i + 256].shape, dtype=np.uint8)
        out.flush()
        del out
        gb = n * 3 * s * s / 1e9
        rows = []
        x = torch.from_numpy(np.load(path))
        rows.append(("in memory (index_select)", rate((x.index_select(0, c) for c in chunks), n)))
        del x
        m = MappedImages.open(path)
        m[torch.arange(n)]  # warm the page cache
        rows.append(("mapped, warm page cache", rate((m[c] for c in chunks), n)))
        drop_cache(path)
        rows.append(("mapped, cold (disk)", rate((m[c] for c in chunks), n)))
        for k in (int(v) for v in args.workers.split(",")):
            drop_cache(path)
            loader = torch.utils.data.DataLoader(_Gather(m, torch.zeros(n, dtype=torch.int64)), batch_size=None,
                                                 sampler=chunks, num_workers=k)
            rows.append((f"DataLoader, {k} workers, cold", rate((xb for xb, _ in loader), n)))
    print(f"{n} images of 3x{s}x{s} uint8 ({gb:.2f} GB), batches of {args.batch} in a shuffled order; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}\n")
    print("| path | images/s | MB/s |\n|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r:,.0f} | {r * 3 * s * s / 1e6:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
