"""Append-only JSON-lines journals: the evaluations and generation records of a run, written as they happen.

Appending costs O(new rows), so a checkpoint after every generation stays cheap however long the run. A torn last
line (the process killed mid-write) is ignored on reading, and a checkpoint records how many lines it covers, so a
resume takes exactly those.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .atomic import atomic_write_text


class Journal:
    """One JSON object per line. :meth:`append` opens, writes and closes; :meth:`write` keeps the file open between
    calls (for a record per evaluation) until :meth:`close`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fh = None

    def append(self, records: list[dict], fsync: bool = False) -> None:
        if not records:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
            f.flush()
            if fsync:
                os.fsync(f.fileno())

    def write(self, record: dict) -> None:
        """Append one record through a handle kept open; flushed to the OS at once (a killed process loses nothing)."""
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._fh.flush()

    def sync(self) -> None:
        if self._fh is not None:
            os.fsync(self._fh.fileno())

    def clear(self) -> None:
        """Empty the journal (its records are safe elsewhere now)."""
        if self._fh is not None:
            self._fh.truncate(0)
        elif self.path.exists():
            os.truncate(self.path, 0)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def read(self, limit: int | None = None) -> list[dict]:
        """The first ``limit`` complete records (all when None); stops at a torn or unreadable line."""
        out: list[dict] = []
        if not self.path.exists():
            return out
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if limit is not None and len(out) >= limit:
                    break
                if not line.endswith("\n"):
                    break
                try:
                    out.append(json.loads(line))
                except ValueError:
                    break
        return out

    def rewrite(self, records: list[dict]) -> None:
        """Replace the journal by ``records`` atomically (used to drop lines past the last checkpoint). A handle
        :meth:`write` kept open is closed first: it would write on into the replaced file."""
        self.close()
        atomic_write_text(self.path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
