"""Explicit, seedable, checkpointable random generators.

gptnas operators draw from ``Rngs.py`` (a private ``random.Random``) and ``Rngs.np``. DEAP's own operators
(``tools.selTournament``, ``tools.cxTwoPoint``) draw from the global ``random`` module, and torch code may use the
global torch generator, so those are seeded too and their states go into every checkpoint as well.
"""
from __future__ import annotations

import random
import sys

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
        """A 63-bit seed drawn from the private generator (advances it), e.g. for a torch generator."""
        return self.py.getrandbits(63)

    def state(self) -> dict:
        """Every generator's state as plain picklable data."""
        st = {"py": self.py.getstate(), "np": self.np.bit_generator.state,
              "global_py": random.getstate(), "global_np": np.random.get_state()}
        if "torch" in sys.modules:
            st["torch"] = sys.modules["torch"].get_rng_state()
        return st

    def global_state(self) -> tuple:
        """States of the global generators only (Python, numpy, torch if loaded)."""
        torch = sys.modules.get("torch")
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
