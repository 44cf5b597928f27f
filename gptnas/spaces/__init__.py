"""Search spaces: what an architecture is. ``get_space(name)`` returns a registered space by name.

- :mod:`.base`: the interface (:class:`SearchSpace`, and :class:`GrammarSpace` for generative models);
- :mod:`.categorical`: fixed-length decision spaces (:class:`CategoricalSequenceSpace`), with tokens, NCode and
  sub-spaces (:class:`Subspace`) for free;
- one folder per benchmark space with its network: :mod:`.nb201`, :mod:`.nb101`, :mod:`.macro` (GPT-NAS's block
  chains), :mod:`.tnb101` (TransNAS-Bench-101 micro, table only).
"""
from __future__ import annotations

from ..errors import ConfigError
from .base import END, GrammarSpace, SearchSpace, has_grammar, require_grammar
from .categorical import CategoricalSequenceSpace, Subspace
from .macro import MacroSpace
from .nb101 import NB101Space
from .nb201 import NB201Space
from .tnb101 import TNB101Space

SPACES = {"nb201": NB201Space, "macro": MacroSpace, "nb101": NB101Space, "tnb101": TNB101Space}


def get_space(name: str, options: dict | None = None, search_path=()) -> SearchSpace:
    """The space registered under ``name``, or named ``module:callable`` (a space, or a factory called with
    ``options`` as keywords), built with keyword ``options`` (config ``space_options``)."""
    from ..core.objects import import_object, is_import_name

    if is_import_name(name):
        obj = import_object(name, "--space", search_path)
        if isinstance(obj, SearchSpace) or (not callable(obj) and hasattr(obj, "sample")):
            if options:
                raise ConfigError(f"--space {name} is a space object: it takes no space_options")
            return obj
        cls = obj
    else:
        try:
            cls = SPACES[name]
        except KeyError:
            raise ConfigError(f"unknown search space {name!r}: choose one of {', '.join(sorted(SPACES))}, or name "
                              "your own as module:callable") from None
    try:
        space = cls(**(options or {}))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad space_options for {name}: {e}") from None
    if not (hasattr(space, "sample") and hasattr(space, "is_valid")):
        raise ConfigError(f"--space {name} gave {type(space).__name__}, not a search space (needs sample and is_valid)")
    return space


__all__ = ["END", "SearchSpace", "GrammarSpace", "CategoricalSequenceSpace", "Subspace", "NB201Space", "MacroSpace",
           "NB101Space", "TNB101Space", "SPACES", "get_space", "has_grammar", "require_grammar"]
