"""What principles are about, per kind of space: positions, their options, and how an architecture uses them.

- A fixed-length decision space (:class:`~gptnas.spaces.CategoricalSequenceSpace`: NB201, TransNAS-Bench-101, a
  user's own): one position per decision, its options; an architecture uses one option per position.
- GPT-NAS's block-chain space (:class:`~gptnas.spaces.MacroSpace`, chains of 10–20 blocks): one position,
  ``blocks``, whose options are the 15 block types — principles say which block types are allowed **anywhere in
  the chain** (globally, not per stage: a chain's stages move with its length, so a per-stage rule could not be
  enforced while a generative model writes the chain block by block). An architecture uses each of its blocks'
  types, as often as it has them.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError


def is_chain(space) -> bool:
    from ...spaces.macro import MacroSpace
    return isinstance(space, MacroSpace)


def positions_of(space) -> tuple[list[str], list[list[str]]]:
    """(position names, options per position) of ``space``."""
    if is_chain(space):
        from ...spaces.macro import BLOCK_TYPES
        return ["blocks"], [list(BLOCK_TYPES)]
    if all(hasattr(space, a) for a in ("names", "options", "subspace")):
        return list(space.names), [list(o) for o in space.options]
    raise ConfigError(f"design principles need a space of fixed-length decisions (a CategoricalSequenceSpace: "
                      f"NB201, TransNAS-Bench-101, your own) or GPT-NAS's block chains, and {space.name} is neither")


def option_index(space, position: int, option) -> int:
    names, options = positions_of(space)
    if isinstance(option, str) and option in options[position]:
        return options[position].index(option)
    if str(option).isdigit() and int(option) < len(options[position]):
        return int(option)
    raise ConfigError(f"{option!r} is not an option of {names[position]} in {space.name} (its options: "
                      f"{', '.join(options[position])})")


def counts(space, genomes) -> np.ndarray:
    """(N, positions, max options) how often each architecture uses each option at each position."""
    names, options = positions_of(space)
    k = max(len(o) for o in options)
    out = np.zeros((len(genomes), len(names), k))
    if is_chain(space):
        for n, g in enumerate(genomes):
            out[n, 0] = np.bincount(np.asarray(g, dtype=np.int64), minlength=k)[:k]
        return out
    g = np.asarray(genomes, dtype=np.int64)
    for i in range(len(names)):
        out[np.arange(len(g)), i, g[:, i]] = 1.0
    return out


def refine(space, allowed: list[list[int]]):
    """``space`` restricted to ``allowed`` option indices per position."""
    if is_chain(space):
        from ...spaces.macro import MacroSubspace
        return MacroSubspace(space, allowed[0])
    return space.subspace(allowed)


def set_allowed(refined, allowed: list[list[int]]) -> None:
    refined.set_allowed(allowed[0] if is_chain(refined) else allowed)
