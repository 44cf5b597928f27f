"""Search spaces: what an architecture is. ``get_space(name)`` returns a registered space by name."""
from __future__ import annotations

from ..errors import ConfigError
from .base import END, SearchSpace
from .macro import MacroSpace
from .nb101 import NB101Space
from .nb201 import NB201Space
from .sequence import CategoricalSequenceSpace

SPACES = {"nb201": NB201Space, "macro": MacroSpace, "nb101": NB101Space}


def get_space(name: str, options: dict | None = None) -> SearchSpace:
    """Instantiate the space registered under ``name`` with keyword ``options`` (config ``space_options``)."""
    try:
        cls = SPACES[name]
    except KeyError:
        raise ConfigError(f"unknown search space {name!r}: choose one of {', '.join(sorted(SPACES))}") from None
    try:
        return cls(**(options or {}))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad space_options for {name}: {e}") from None


__all__ = ["END", "SearchSpace", "CategoricalSequenceSpace", "NB201Space", "MacroSpace", "NB101Space", "SPACES",
           "get_space"]
