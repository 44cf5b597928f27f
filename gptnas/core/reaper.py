"""Processes that must not outlive the search: a watcher that kills them, with their descendants, once the search
process is gone — even by kill -9, which runs no clean-up of the search's own (Linux: it reads ``/proc``).

The search starts it for a local Ray cluster it started itself (``ray.init`` without an address): Ray's head
processes (GCS, raylet, dashboard and runtime-env agents, idle workers) are the search's children, and would
otherwise keep running, holding memory and GPUs, after the search died.

    python -m gptnas.core.reaper PARENT_PID PID [PID ...]
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Iterable, Optional


def _stat(pid: int) -> Optional[tuple[int, int]]:
    """``(parent pid, start time in clock ticks)`` of ``pid`` from ``/proc``, or None when it is gone (a zombie,
    dead and waiting to be reaped, is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ..., starttime (22nd field)
    return None if fields[0] in ("Z", "X") else (int(fields[1]), int(fields[19]))


def descendants(roots: Iterable[int]) -> list[int]:
    """``roots`` still running and every process below them."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [r for r in roots if _stat(r) is not None]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _same(known: dict[int, int]) -> list[int]:
    """Those of ``known`` (pid -> start time) still running as the same processes (pids are reused)."""
    return [p for p, t in known.items() if (st := _stat(p)) is not None and st[1] == t]


def watch(parent: int, pids: list[int], every: float = 0.5) -> None:
    """Wait until ``parent`` is gone, then SIGKILL those of ``pids`` that are the same processes as when the watch
    began (a start time checked: pids are reused), and their descendants."""
    known = {p: st[1] for p in pids if (st := _stat(p)) is not None}
    first, polls = _stat(parent), 0
    while first is not None and (st := _stat(parent)) is not None and st[1] == first[1]:
        if polls % 4 == 0:  # what they started since (Ray's agents): a process may die and leave its children
            for p in descendants(_same(known)):
                if p not in known and (st := _stat(p)) is not None:
                    known[p] = st[1]
        polls += 1
        time.sleep(every)
    for pid in descendants(_same(known)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def children_named(word: str) -> list[int]:
    """This process's children whose command line contains ``word``."""
    out = []
    for pid in descendants([os.getpid()]):
        st = _stat(pid)
        if pid == os.getpid() or st is None or st[0] != os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if word.encode() in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def reap_with_parent(pids: list[int]) -> Optional[subprocess.Popen]:
    """Start a watcher that kills ``pids`` (and what they started) once this process is gone; None where there is
    no ``/proc`` to watch (macOS, Windows: there the processes are left as before)."""
    if not pids or not os.path.isdir("/proc/self"):
        return None
    return subprocess.Popen([sys.executable, "-m", "gptnas.core.reaper", str(os.getpid()), *map(str, pids)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)  # its own session: Ctrl-C does not reach it


if __name__ == "__main__":
    watch(int(sys.argv[1]), [int(a) for a in sys.argv[2:]])
