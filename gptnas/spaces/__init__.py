"""Search spaces: what an architecture is. ``get_space(name)`` returns a registered space by name."""
from __future__ import annotations

from ..errors import ConfigError
from .base import END, SearchSpace
from .nb201 import NB201Space
from .sequence import CategoricalSequenceSpace

SPACES = {"nb201": NB201Space}


def get_space(name: str) -> SearchSpace:
    """Instantiate the space registered under ``name``."""
    try:
        return SPACES[name]()
    except KeyError:
        raise ConfigError(f"unknown search space {name!r}: choose one of {', '.join(sorted(SPACES))}") from None


__all__ = ["END", "SearchSpace", "CategoricalSequenceSpace", "NB201Space", "SPACES", "get_space"]
