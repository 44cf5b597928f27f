"""Names → method classes: the one place that lists the methods. A new method is a folder under ``methods/`` and
one line here; the engine, config, driver, front door and CLI read what they need from the classes.

Entries are ``module:Class`` (the form a user names their own objects with), imported on first use.
"""
from __future__ import annotations

from ..core.objects import import_object
from ..errors import ConfigError

#: ``--method NAME`` → its class.
METHODS: dict[str, str] = {
    "random": "gptnas.methods.random_search:RandomSearch",
    "rea": "gptnas.methods.rea:REA",
    "ga": "gptnas.methods.ga:GA",
    "gptnas": "gptnas.methods.gptnas.method:GPTNAS",
    "lapt": "gptnas.methods.lapt.method:LAPT",
    "lmsearcher": "gptnas.methods.lmsearcher.method:LMSearcher",
    "local_search": "gptnas.methods.local_search.method:LocalSearch",
    "bananas": "gptnas.methods.bananas.method:BANANAS",
}
#: Wrappers a config section (or a flag) puts around the run's method, innermost first.
WRAPPERS: dict[str, str] = {
    "prescreened": "gptnas.methods.lmsearcher.prescreen:Prescreened",
    "principled": "gptnas.methods.lapt.wrapper:Principled",
}
DEFAULT_METHOD = "gptnas"  #: the method of a run that names none
_LOADED: dict[str, type] = {}


def _load(table: dict, name: str, what: str) -> type:
    if name not in _LOADED:
        if name not in table:
            raise ConfigError(f"unknown {what} {name!r}: choose one of {', '.join(sorted(table))}")
        _LOADED[name] = import_object(table[name], what)
    return _LOADED[name]


def get_method(name: str) -> type:
    """The method class registered under ``name``."""
    return _load(METHODS, name, "method")


def get_wrapper(name: str) -> type:
    return _load(WRAPPERS, name, "wrapper")


def section_class(name: str):
    """The method or wrapper class whose config section is ``name``, or None."""
    if name in METHODS:
        return get_method(name)
    if name in WRAPPERS:
        return get_wrapper(name)
    return None


def all_classes() -> list[type]:
    """Every registered method, then every wrapper (imported: light modules, no torch)."""
    return [get_method(n) for n in METHODS] + [get_wrapper(n) for n in WRAPPERS]
