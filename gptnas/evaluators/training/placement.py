"""Where a training evaluator's data lives: on the device (resident), or in host memory / a memory-mapped file from
which batches are gathered (streamed).

Moving images to a GPU goes through one fixed pinned buffer a chunk at a time (:func:`to_device`), so the host
never holds a second full copy of the split (memory-mapped ImageNet is read chunk by chunk straight from its
file). Whether memory-mapped images fit is judged against this process's share of the device's free memory
(:func:`fits`): the processes that share a device or host each count only their part.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch

from ...core.devices import SHARERS_ENV
from ...datasets import Splits
from ...datasets.mapped import MappedImages

Pair = tuple[torch.Tensor, torch.Tensor]
#: Bytes of the pinned staging buffer of :func:`to_device` (one per process, reused for every copy).
STAGING_BYTES = 64 * 2**20
_staging: Optional[torch.Tensor] = None


def _staging_buffer(nbytes: int) -> torch.Tensor:
    global _staging
    if _staging is None or _staging.numel() < nbytes:
        _staging = torch.empty(max(nbytes, STAGING_BYTES), dtype=torch.uint8, pin_memory=True)
    return _staging


def to_device(x, device: torch.device, chunk_bytes: int = STAGING_BYTES) -> torch.Tensor:
    """``x`` (a tensor or :class:`MappedImages`) on ``device``.

    On the CPU a memory-mapped selection is read into memory; a tensor already there is returned as it is. On CUDA
    rows are copied a chunk at a time through one pinned staging buffer of ``chunk_bytes``: the host holds at most
    that much beyond the source. A repeated-channel view (1-channel images expanded to 3) stays a view.
    """
    if device.type != "cuda":
        return x.read() if isinstance(x, MappedImages) else (x if x.device == device else x.to(device))
    repeated = isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[1] > 1 and x.stride(1) == 0
    src = x[:, :1] if repeated else x
    out = torch.empty(tuple(src.shape), dtype=src.dtype, device=device)
    if out.numel():
        row_bytes = out[0].numel() * out.element_size()
        rows = max(1, chunk_bytes // row_bytes)
        copy_in_chunks(src, out, _staging_buffer(rows * row_bytes), rows,
                       sync=torch.cuda.current_stream(device).synchronize)
    return out.expand(-1, x.shape[1], -1, -1) if repeated else out


def copy_in_chunks(src, out: torch.Tensor, staging: torch.Tensor, rows: int, sync=lambda: None) -> None:
    """Copy ``src`` (a tensor or :class:`MappedImages`, N rows) into ``out`` ``rows`` rows at a time through the
    flat uint8 ``staging`` buffer; ``sync`` waits for each copy before the buffer is reused."""
    shape = tuple(out.shape)
    row_bytes = out[0].numel() * out.element_size()
    for i in range(0, shape[0], rows):
        part = src[slice(i, i + rows)] if isinstance(src, MappedImages) else src[i:i + rows]
        n = part.shape[0]
        stage = staging[:n * row_bytes].view(out.dtype).view((n,) + shape[1:])
        stage.copy_(part)
        out[i:i + n].copy_(stage, non_blocking=True)
        sync()


def sharers() -> int:
    """How many evaluation processes share this process's device (1 unless a process pool said otherwise)."""
    try:
        return max(1, int(os.environ.get(SHARERS_ENV, "1")))
    except ValueError:
        return 1


def fits(nbytes: int, device: torch.device) -> bool:
    """Whether ``nbytes`` take at most half of this process's share of the free memory of ``device`` (host memory
    for the CPU)."""
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = host_available()
        if free is None:  # unknown (not Linux): assume it fits, as for in-memory data
            return True
    return nbytes <= free // 2 // sharers()


def host_available() -> Optional[int]:
    """Bytes of host memory available to new allocations (MemAvailable: page cache counts as available)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(eq=False)
class DeviceData:
    """A :class:`Splits` placed for training: on the device (``resident``) or in host memory (workers gather).

    ``test`` is None when test accuracy is not reported (it is then never moved). ``scale``, ``shift``: float32
    ``(1, C, 1, 1)`` on the device; ``x_norm = x * scale + shift``.
    """

    splits: Splits
    device: torch.device
    train: Pair
    val: Pair
    test: Optional[Pair]
    scale: torch.Tensor
    shift: torch.Tensor
    resident: bool

    @classmethod
    def place(cls, splits: Splits, device: torch.device, resident: bool = True, test: bool = True) -> "DeviceData":
        move = (lambda p: (to_device(p[0], device), to_device(p[1], device))) if resident else (lambda p: p)
        scale, shift = splits.normalizer(device)
        return cls(splits, device, move(splits.train), move(splits.val), move(splits.test) if test else None,
                   scale, shift, resident)


class Gather(torch.utils.data.Dataset):
    """Dataset whose items are whole batches: ``ds[idx_tensor] -> (x[idx], y[idx])`` (for DataLoader workers)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx: torch.Tensor) -> Pair:
        return self.x[idx], self.y[idx]
