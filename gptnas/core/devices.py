"""How evaluation processes are spread over GPUs, and what a device name means inside a pinned process.

A process pool pins each worker to one GPU by setting ``CUDA_VISIBLE_DEVICES`` before CUDA starts; inside, that GPU
is ``cuda:0``. So the ``--device`` the user gave (``cuda:1``, as the parent process numbers its GPUs) must be read
as the worker's one visible device: :func:`local_device` does that, and the training evaluator calls it.
"""
from __future__ import annotations

import os
import re
from typing import Optional

#: Ways to spread evaluations over processes (``--parallel``), implemented by :mod:`gptnas.search.parallel`.
BACKENDS = ("serial", "process", "ray", "simulated")
#: Set in a pinned worker: the device index, as the parent process numbered it, that this worker sees as cuda:0.
PINNED_ENV = "GPTNAS_PINNED_GPU"
#: Set in each pool worker: how many evaluation processes share its device (or its host, on the CPU).
SHARERS_ENV = "GPTNAS_DEVICE_SHARERS"


def worker_gpus(device: str, visible: list[int], workers: int) -> list[Optional[int]]:
    """The GPU (an entry of ``visible``, the parent's ``CUDA_VISIBLE_DEVICES`` numbering) each of ``workers``
    processes is pinned to; None = not pinned.

    - ``cuda:K``: every worker on ``visible[K]`` (the user chose one device);
    - ``auto`` / ``cuda`` with several GPUs visible: round-robin, one GPU per worker in turn;
    - otherwise (``cpu``, or at most one GPU): no pinning.
    """
    text = str(device).strip().lower()
    m = re.fullmatch(r"cuda:(\d+)", text)
    if m and visible:
        k = int(m.group(1))
        if k >= len(visible):
            return [None] * workers  # resolve_device reports the missing device in the worker
        return [visible[k]] * workers
    if text in ("auto", "cuda") and len(visible) > 1:
        return [visible[i % len(visible)] for i in range(workers)]
    return [None] * workers


def local_device(text: str) -> str:
    """``text`` as this process must read it: in a pinned worker any ``cuda[:K]`` is its one GPU, ``cuda:0``."""
    t = str(text).strip().lower()
    if os.environ.get(PINNED_ENV) is not None and re.fullmatch(r"cuda(:\d+)?", t):
        return "cuda:0"
    return t
