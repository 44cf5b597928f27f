"""A run directory and the files in it.

::

    runs/demo/
      config.yaml       the resolved configuration (what ``--resume`` re-reads)
      checkpoint.pkl    search state after the last finished generation (atomic, every generation)
      evaluations.jsonl every evaluation as it happens (append-only journal; the checkpoint says how many count)
      generations.jsonl per-generation statistics (the logbook), append-only
      archive.h5        every evaluation, in order, in HDF5 (atomic; written every ~30 s and at the end)
      summary.json      method, space, dataset, seed, budget, evaluations, best {arch, fitness, test}, status
      convergence.png   best fitness so far vs evaluations, with the incumbent's test accuracy
      log.txt           the run's log
"""
from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import yaml

from ..errors import RunDirError
from .atomic import atomic_write_bytes, atomic_write_text
from .journal import Journal

CHECKPOINT_VERSION = 2


class RunDir:
    """Paths and atomic I/O for one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.checkpoint = self.path / "checkpoint.pkl"
        self.archive = self.path / "archive.h5"
        self.summary = self.path / "summary.json"
        self.convergence = self.path / "convergence.png"
        self.log = self.path / "log.txt"
        self.evaluations = Journal(self.path / "evaluations.jsonl")
        self.generations = Journal(self.path / "generations.jsonl")

    # Creation and validation ----------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> "RunDir":
        """A fresh run directory; an existing non-empty one is replaced only with ``overwrite=True``."""
        p = Path(path)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            if not overwrite:
                raise RunDirError(f"run directory {p} already exists: continue it with --resume {p}, "
                                  "choose another --out, or pass --overwrite to replace it")
            if not (p / "config.yaml").exists() and p.is_dir():
                # --overwrite replaces runs, never arbitrary folders a typo might point at.
                raise RunDirError(f"{p} exists and is not a gptnas run directory; refusing to overwrite it")
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        p.mkdir(parents=True, exist_ok=True)
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
            raise RunDirError(f"checkpoint {self.checkpoint} is unreadable ({type(e).__name__}); "
                              "start the run again with --overwrite") from None
        if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
            raise RunDirError(f"checkpoint {self.checkpoint} has an unknown format; "
                              "start the run again with --overwrite")
        return payload["state"]

    def attach_log(self) -> logging.Handler:
        """Send the ``gptnas`` loggers to ``log.txt`` (appending, so a resumed run keeps its history)."""
        h = logging.FileHandler(self.log, mode="a", encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("gptnas").addHandler(h)
        return h
