"""Explicit, seedable, checkpointable random generators.

gptnas operators draw from ``Rngs.py`` (a private ``random.Random``) and ``Rngs.np``. DEAP's own operators
(``tools.selTournament``, ``tools.cxTwoPoint``) draw from the global ``random`` module, and torch code may use the
global torch generator, so those are seeded too and their states go into every checkpoint as well.
"""
from __future__ import annotations

import contextlib
import threading
import hashlib
import random
import sys
from typing import Iterator

import numpy as np


class Rngs:
    """All random state of a search, seeded from one integer."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.py = random.Random(self.seed)
        self.np = np.random.default_rng(self.seed)
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        # torch is seeded only when something already loaded it: importing it costs seconds, and gptnas's own
        # torch sampling uses explicit generators drawn from ``py``.
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(self.seed)

    def derive(self, *tag: object) -> int:
        """A 63-bit seed for the part of the run named by ``tag`` (e.g. ``derive("train", key)``): a hash of the
        run seed and the tag, so it does not advance any generator and is the same in every process and order."""
        return derive_seed(self.seed, *tag)

    def state(self) -> dict:
        """Every generator's state as plain picklable data."""
        st = {"py": self.py.getstate(), "np": self.np.bit_generator.state,
              "global_py": random.getstate(), "global_np": np.random.get_state()}
        if "torch" in sys.modules:
            st["torch"] = sys.modules["torch"].get_rng_state()
        return st

    def global_state(self, with_torch: bool = True) -> tuple:
        """States of the global generators only (Python, numpy, torch if loaded and ``with_torch``)."""
        torch = sys.modules.get("torch") if with_torch else None
        return random.getstate(), np.random.get_state(), torch.get_rng_state() if torch else None

    def set_global_state(self, st: tuple) -> None:
        random.setstate(st[0])
        np.random.set_state(st[1])
        if st[2] is not None:
            sys.modules["torch"].set_rng_state(st[2])

    def set_state(self, st: dict) -> None:
        """Restore what :meth:`state` returned; objects bound into a toolbox keep working (in-place)."""
        self.py.setstate(st["py"])
        self.np.bit_generator.state = st["np"]
        random.setstate(st["global_py"])
        np.random.set_state(st["global_np"])
        if "torch" in st:
            import torch
            torch.set_rng_state(st["torch"])


def derive_seed(seed: int, *tag: object) -> int:
    """A 63-bit seed from ``seed`` and ``tag`` (sha256, stable across processes, unlike ``hash()``)."""
    text = "|".join([str(int(seed))] + [str(t) for t in tag])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


#: Held while a block runs on torch's seeded global generators: torch has one per process, so two trainings at once
#: (a GPT fine-tune in a thread beside the search, one left over from an interrupted search) would draw from each
#: other's stream; one at a time, each is deterministic.
_SEEDED = threading.RLock()


@contextlib.contextmanager
def seeded(seed: int, cuda: bool = False) -> Iterator[None]:
    """Run a block with torch's global generators seeded to ``seed``, restoring the caller's states afterwards (one
    such block at a time in a process).

    The CPU generator always; the CUDA generators too when CUDA is already initialised or ``cuda`` asks for it
    (then CUDA is initialised here). ``torch.manual_seed`` inside ``fork_rng(devices=[])`` would reseed CUDA without
    restoring it, and a lazily queued CUDA seed would apply at some later initialisation: both are avoided.
    """
    import torch

    devices = []
    if torch.cuda.is_available() and (cuda or torch.cuda.is_initialized()):
        torch.cuda.init()
        devices = list(range(torch.cuda.device_count()))
    with _SEEDED, torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(int(seed))
        for d in devices:
            torch.cuda.default_generators[d].manual_seed(int(seed))
        yield
