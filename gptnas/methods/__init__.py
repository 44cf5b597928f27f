"""Search methods, each whole in a room of its own, on one engine:

- :mod:`.base`: what a method is (options with validated defaults, ask/tell hooks, learners) and a
  :class:`Wrapper` (a method modifying another one);
- :mod:`.registry`: names → classes, the one list of methods;
- the classic loops, which other methods build on: :mod:`.random_search` (:class:`RandomSearch`), :mod:`.rea`
  (:class:`REA`), :mod:`.ga` (:class:`GA`);
- :mod:`.gptnas`: GPT-NAS (:class:`GPTNAS`), the GPT proposal operator inside an evolutionary loop;
- :mod:`.lapt`: LAPT (:class:`LAPT`), design principles from a source task refining the new task's space, and
  :class:`Principled` (any method in the space the principles refine);
- :mod:`.lmsearcher`: LM-Searcher (:class:`LMSearcher`), NAS as ranking, and :class:`Prescreened` (any method's
  children pre-screened by the ranker);
- :mod:`.sources`: source tasks for transfer, shared by the methods that transfer.
"""
from __future__ import annotations

from ..core.objects import lazy_exports
from ..errors import ConfigError
from .base import Flag, Learner, Method, SearchContext, Wrapper
from .registry import DEFAULT_METHOD, METHODS, WRAPPERS, get_method, get_wrapper


def make_method(method, **options) -> Method:
    """A method object from a name (with ``options``) or an object (returned as it is)."""
    if isinstance(method, Method):
        if options:
            raise ConfigError("options go into the method object itself, e.g. gptnas.methods.REA(population=20)")
        return method
    return get_method(method)(**options)


# Every class is imported on first use (GPT-NAS's models pull in torch and transformers); each registered method and
# wrapper is exported under its class name, so a new one needs its registry line only.
_EXPORTS = {target.split(":")[1]: target.split(":")[0][len(__name__) + 1:]
            for target in (*METHODS.values(), *WRAPPERS.values())}
_EXPORTS.update({"RegularizedEvolution": "rea", "GeneticAlgorithm": "ga", "GPTSettings": "gptnas",
                 "PrinciplesSettings": "lapt", "Principles": "lapt", "RankSettings": "lmsearcher"})
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted({"DEFAULT_METHOD", "Flag", "Learner", "METHODS", "Method", "SearchContext", "WRAPPERS", "Wrapper",
                  "get_method", "get_wrapper", "make_method", *_EXPORTS})
