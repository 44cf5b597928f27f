"""A run directory and the files in it.

::

    runs/demo/
      config.yaml       the resolved configuration (what ``--resume`` re-reads)
      .config.json      the same, as the run started (a resume refuses a config.yaml edited since)
      checkpoint.pkl    search state after the last checkpointed generation (atomic); one a resume cannot read is
                        moved to checkpoint.damaged.pkl and the run rebuilt from the journals
      evaluations.jsonl every evaluation up to that checkpoint, in order (append-only; the checkpoint says how many)
      pending.jsonl     every evaluation since, written the moment its result arrives: a resume answers the re-run
                        generations from it, so a crash loses at most the evaluations in flight
      generations.jsonl per-generation statistics (the logbook), append-only
      .lock             held (an operating-system lock) by the one process writing the run
      archive.h5        every evaluation, in order, in HDF5 (atomic; written every ~30 s and at the end)
      summary.json      method, space, dataset, seed, budget, evaluations, best {arch, fitness, test}, status
      convergence.png   best fitness so far vs evaluations, with the incumbent's test accuracy
      log.txt           the run's log
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import pickle
import shutil
import signal
import time
from pathlib import Path

import yaml

from ..errors import RunDirError
from .atomic import atomic_write_bytes, atomic_write_text
from .journal import Journal

CHECKPOINT_VERSION = 2
LOCK_FILE = ".lock"
#: Test hook: SIGKILL the process once this many evaluations are recorded (committed + pending), mid-generation.
KILL_AFTER_ENV = "GPTNAS_FAULT_KILL_AFTER_EVALS"
#: Test hook: stop (sleep for good) once this many are recorded, so that a test's kill -9 lands on a live run.
HOLD_AFTER_ENV = "GPTNAS_FAULT_HOLD_AFTER_EVALS"

try:
    import fcntl
except ImportError:  # not POSIX: no lock (a warning says so when a run starts)
    fcntl = None


class DamagedCheckpoint(RunDirError):
    """``checkpoint.pkl`` cannot be read; a resume rebuilds the run from its journals instead."""


def refuse_file(p: Path) -> None:
    """A run directory is a folder: a file of that name is never replaced or written into."""
    if p.exists() and not p.is_dir():
        raise RunDirError(f"--out {p} is a file, not a run directory: choose another --out (the file is left as it is)")


class RunDir:
    """Paths and atomic I/O for one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.started = self.path / ".config.json"
        self.checkpoint = self.path / "checkpoint.pkl"
        self.archive = self.path / "archive.h5"
        self.summary = self.path / "summary.json"
        self.convergence = self.path / "convergence.png"
        self.log = self.path / "log.txt"
        self.evaluations = Journal(self.path / "evaluations.jsonl")
        self.pending = Journal(self.path / "pending.jsonl")
        self.generations = Journal(self.path / "generations.jsonl")
        self._lock_fd: int | None = None
        kill = os.environ.get(KILL_AFTER_ENV)
        self._kill_after = int(kill) if kill else None
        hold = os.environ.get(HOLD_AFTER_ENV)
        self._hold_after = int(hold) if hold else None
        self.recorded = 0  #: evaluations recorded so far (committed + pending), for the kill hook

    # One writer ------------------------------------------------------------------------------------------------
    def lock(self, wait: float = 0.0) -> "RunDir":
        """Take the run's operating-system lock for the life of this process (released by the OS if it dies, so
        ``kill -9`` leaves no stale lock), waiting up to ``wait`` seconds for another process to release it (the
        ask/tell command line, several at once). Raises :class:`RunDirError` naming the process that holds it."""
        if fcntl is None:
            logging.getLogger(__name__).warning("no file locking on this platform: do not start two processes on %s",
                                                self.path)
            return self
        if self._lock_fd is not None:
            return self
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise RunDirError(f"run directory {self.path} is in use by {holder}: wait for it to finish or stop "
                                  "it first (two processes writing one run would damage it)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} (since {_dt.datetime.now().isoformat(timespec='seconds')})".encode())
        self._lock_fd = fd
        return self

    def unlock(self) -> None:
        self.pending.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def record_pending(self, row: dict) -> None:
        """Journal one evaluation the moment its result arrives (see the module docstring)."""
        self.pending.write(row)
        self.recorded += 1
        if self._kill_after is not None and self.recorded >= self._kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        if self._hold_after is not None and self.recorded >= self._hold_after:
            while True:  # until the test kills it
                time.sleep(1)

    # Creation and validation ----------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> "RunDir":
        """A fresh run directory; an existing non-empty one is replaced only with ``overwrite=True``, and only when
        it is a run directory (never a file or a folder of something else)."""
        p = Path(path)
        refuse_file(p)
        if p.exists() and any(p.iterdir()):
            if not overwrite:
                raise RunDirError(f"run directory {p} already exists: continue it with --resume {p}, "
                                  "choose another --out, or pass --overwrite to replace it")
            if not (p / "config.yaml").exists() and p.is_dir():
                # --overwrite replaces runs, never arbitrary folders a typo might point at.
                raise RunDirError(f"{p} exists and is not a gptnas run directory; refusing to overwrite it")
            old = cls(p).lock()  # never delete a run another process is writing
            shutil.rmtree(p)
            old.unlock()
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"cannot create run directory {p}: {e.strerror}: choose another --out") from None
        return cls(p)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory (for ``--resume`` and reports)."""
        rd = cls(path)
        if not rd.path.is_dir():
            raise RunDirError(f"run directory {rd.path} does not exist: give the --out folder of an earlier run")
        if not rd.config.is_file():
            raise RunDirError(f"{rd.path} is not a gptnas run directory (no config.yaml): "
                              "give the --out folder of an earlier run")
        return rd

    # Files ----------------------------------------------------------------------------------------------------
    def write_config(self, cfg: dict) -> None:
        atomic_write_text(self.config, yaml.safe_dump(cfg, sort_keys=False))

    def write_started(self, cfg: dict, space_fingerprint: str | None = None) -> None:
        """Record the config as the run starts (and the space's fingerprint: a resume must be handed that space,
        with or without a checkpoint)."""
        data = {"config": cfg, "space_fingerprint": space_fingerprint}
        atomic_write_text(self.started, json.dumps(data, indent=1, default=str) + "\n")

    def read_started(self) -> dict | None:
        """``{"config": ..., "space_fingerprint": ...}`` as the run started (None for a run directory written
        before it was recorded)."""
        try:
            return json.loads(self.started.read_text())
        except (OSError, ValueError):
            return None

    def read_config(self) -> dict:
        try:
            cfg = yaml.safe_load(self.config.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise RunDirError(f"cannot read {self.config}: {e}") from None
        if not isinstance(cfg, dict):
            raise RunDirError(f"{self.config} is not a gptnas run configuration")
        return cfg

    def write_summary(self, summary: dict, fsync: bool = True) -> None:
        atomic_write_text(self.summary, json.dumps(summary, indent=2, sort_keys=False) + "\n", fsync)

    def read_summary(self) -> dict:
        try:
            return json.loads(self.summary.read_text())
        except (OSError, ValueError) as e:
            raise RunDirError(f"cannot read {self.summary}: {e}") from None

    def set_aside_checkpoint(self) -> Path:
        """Move an unusable checkpoint out of the way (kept, for a person to look at); returns where it went."""
        dest, n = self.checkpoint.with_name("checkpoint.damaged.pkl"), 1
        while dest.exists():  # an earlier one is kept too
            n += 1
            dest = self.checkpoint.with_name(f"checkpoint.damaged-{n}.pkl")
        os.replace(self.checkpoint, dest)
        return dest

    def write_checkpoint(self, state: dict, fsync: bool = True) -> None:
        payload = {"version": CHECKPOINT_VERSION, "state": state}
        atomic_write_bytes(self.checkpoint, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), fsync)

    def read_checkpoint(self) -> dict | None:
        """The last checkpointed state, or None if the run never finished a generation."""
        if not self.checkpoint.exists():
            return None
        try:
            payload = pickle.loads(self.checkpoint.read_bytes())
        except Exception as e:  # any unpickling failure means the file is unusable
            raise DamagedCheckpoint(f"checkpoint {self.checkpoint} is unreadable ({type(e).__name__})") from None
        if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
            raise DamagedCheckpoint(f"checkpoint {self.checkpoint} has an unknown format")
        return payload["state"]

    def attach_log(self) -> logging.Handler:
        """Send the ``gptnas`` loggers to ``log.txt`` (appending, so a resumed run keeps its history)."""
        h = logging.FileHandler(self.log, mode="a", encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("gptnas").addHandler(h)
        return h
