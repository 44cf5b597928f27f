"""Search methods, each whole in a room of its own, on one engine:

- :mod:`.base`: what a method is (options with validated defaults, the generation hooks, learners);
- the loops: :mod:`.random_search` (:class:`RandomSearch`), :mod:`.rea` (:class:`REA`), :mod:`.ga` (:class:`GA`);
- :mod:`.gptnas`: GPT-NAS (:class:`GPTNAS`), the GPT proposal operator inside an evolutionary loop;
- :mod:`.lapt`: LAPT (:class:`LAPT`), design principles from a source task refining the new task's space;
- :mod:`.lmsearcher`: LM-Searcher (:class:`LMSearcher`), NAS as ranking a pool of candidates given the history;
- :mod:`.sources`: source tasks for transfer, shared by the methods that transfer.

``METHODS`` maps ``--method`` names to classes; ``"module:Class"`` entries are imported on first use (GPT-NAS pulls
in torch and transformers).
"""
from __future__ import annotations

import importlib

from ..core.objects import lazy_exports
from ..errors import ConfigError
from .base import Learner, Method, SearchContext
from .ga import GA, GeneticAlgorithm
from .random_search import RandomSearch
from .rea import REA, RegularizedEvolution

METHODS: dict[str, type[Method] | str] = {
    "random": RandomSearch, "rea": REA, "ga": GA,
    "gptnas": "gptnas.methods.gptnas.method:GPTNAS",
    "lapt": "gptnas.methods.lapt.method:LAPT",
    "lmsearcher": "gptnas.methods.lmsearcher.method:LMSearcher",
}


def get_method(name: str) -> type[Method]:
    """The method class registered under ``name``."""
    try:
        m = METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(sorted(METHODS))}") from None
    if isinstance(m, str):
        module, cls = m.split(":")
        m = METHODS[name] = getattr(importlib.import_module(module), cls)
    return m


def make_method(method, **options) -> Method:
    """A method object from a name (with ``options``) or an object (returned as it is)."""
    if isinstance(method, Method):
        if options:
            raise ConfigError("options go into the method object itself, e.g. gptnas.methods.REA(population=20)")
        return method
    return get_method(method)(**options)


def all_option_names() -> set[str]:
    """Every option any registered method reads from the config's ``search`` section."""
    return {o for name in METHODS for o in get_method(name).option_names()}


def loaded_option_names() -> set[str]:
    """The options of the methods imported so far (a subset of :func:`all_option_names`, without importing)."""
    return {o for m in METHODS.values() if not isinstance(m, str) for o in m.option_names()}


# The three papers' methods, imported on first use (GPT-NAS pulls in torch and transformers).
_EXPORTS = {"GPTNAS": "gptnas", "GPTSettings": "gptnas", "LAPT": "lapt", "PrinciplesSettings": "lapt",
            "Principles": "lapt", "LMSearcher": "lmsearcher", "RankSettings": "lmsearcher"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = ["GA", "GPTNAS", "GPTSettings", "LAPT", "LMSearcher", "RankSettings", "Principles", "PrinciplesSettings",
           "GeneticAlgorithm", "Learner", "METHODS", "Method", "REA", "RandomSearch", "RegularizedEvolution",
           "SearchContext", "all_option_names", "get_method", "loaded_option_names", "make_method"]
