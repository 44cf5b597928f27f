"""The search engine: the ask/tell loop (:mod:`.engine`), its state and checkpoints (:mod:`.state`), parallel
evaluation (:mod:`.parallel`), run directories and resume (:mod:`.driver`), the front door (:mod:`.api`) and the
loop driven from outside (:mod:`.study`: ``gptnas.open_search``).

This package is also callable: ``gptnas.search(space, evaluate, method=..., budget=..., out=...)`` is
:func:`gptnas.search.api.search` (the package keeps its submodules, e.g. ``gptnas.search.driver``).
"""
import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .api import search
        return search(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
