"""Old names in one place: module paths, config keys, the built-in methods' renamed options and old section names,
each with where it went and the version that moved it (a user's own method may list its own in
``Method.aliases``, read here too).

``import gptnas.gpt`` (and every other old path below) still works: the finder installed when ``gptnas`` is imported
answers the old name with the module it is now (the same object, so ``isinstance`` and pickles keep working) and
says once, as a ``DeprecationWarning``, where it went. Nothing in the package imports an old path
(``tests/test_house.py``).
"""
from __future__ import annotations

import importlib
import logging
import importlib.abc
import importlib.util
import sys
import warnings

log = logging.getLogger(__name__)

#: old module path -> (the module it is now, the gptnas version that moved it)
MODULES = {
    "gptnas.gpt": ("gptnas.lm", "0.1.0"),
    "gptnas.gpt.layer_proposer": ("gptnas.methods.gptnas.layer_proposer", "0.1.0"),
    "gptnas.lm.ranker": ("gptnas.methods.lmsearcher.ranker", "0.1.0"),
    "gptnas.operators.adaptive": ("gptnas.methods.gptnas.operators.adaptive", "0.1.0"),
    "gptnas.operators.gpt_crossover": ("gptnas.methods.gptnas.operators.crossover", "0.1.0"),
    "gptnas.operators.gpt_init": ("gptnas.methods.gptnas.operators.init", "0.1.0"),
    "gptnas.operators.gpt_local": ("gptnas.methods.gptnas.operators.local", "0.1.0"),
    "gptnas.operators.gpt_toolbox": ("gptnas.methods.gptnas.operators.toolbox", "0.1.0"),
    "gptnas.operators.principled": ("gptnas.methods.lapt.operators", "0.1.0"),
    "gptnas.operators.rank": ("gptnas.methods.lmsearcher.prescreen", "0.1.0"),
    "gptnas.operators.reconstruct": ("gptnas.methods.gptnas.operators.reconstruct", "0.1.0"),
    "gptnas.operators.schedule": ("gptnas.methods.gptnas.operators.schedule", "0.1.0"),
}


class _OldModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module it is now."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MODULES else None

    def create_module(self, spec):
        new, version = MODULES[spec.name]
        warnings.warn(f"{spec.name} is {new} since gptnas {version}: import it from there", DeprecationWarning,
                      stacklevel=4)
        return importlib.import_module(new)  # its own __spec__ and __name__ stay (the import system keeps them)

    def exec_module(self, module) -> None:
        pass  # the module it is now ran when it was imported


def install() -> None:
    """Put the finder of old module paths first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _OldModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _OldModules())


# Config keys -------------------------------------------------------------------------------------------------------
#: Config keys of the framework that moved: old dotted key -> (new key, the version that moved it).
MOVED = {"gpt.cache_dir": ("cache_dir", "0.1.0")}

#: The built-in methods' and wrappers' old config keys, by section name: ``{old key: option}`` (``"gpt.*": "*"``:
#: every key of the old section ``gpt`` is the option of that name) and the version that renamed them. Methods'
#: options also answer as ``search.<option>``, where they sat before methods had sections (0.1.0).
ALIASES = {
    "rea": ({"search.rea_batch": "batch", "rea.rea_batch": "batch"}, "0.1.0"),
    "gptnas": ({"gpt.*": "*"}, "0.1.0"),
    "lapt": ({"principles.*": "*", "gpt.pretrain": "pretrain"}, "0.1.0"),
    "principled": ({"principles.*": "*", "gpt.pretrain": "pretrain"}, "0.1.0"),
    "lmsearcher": ({"rank.*": "*", "gpt.pretrain": "pretrain"}, "0.1.0"),
    "prescreened": ({"rank.*": "*"}, "0.1.0"),
}


class OldSearchOptions:
    """What ``SearchConfig`` keeps of the time before methods had sections (0.1.0): a method's options given to it
    (``SearchConfig(method="rea", population=20)``) or set on it are held in ``options`` and moved to the method's
    section when the config is read (:func:`translate`); ``cfg.search.population`` reads the method's section."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        owner = self.__dict__.get("_owner")
        if owner is not None and name in owner.method_options:  # cfg.search.population, as before sections
            log.info("search.%s is read from the method's own section now: cfg.method_options[%r]", name, name)
            return owner.method_options[name]
        raise AttributeError(f"search has no key {name!r} (a method's options are in its own section: "
                             f"cfg.sections[method])")

    def __setattr__(self, name: str, value) -> None:
        if name in self.ENGINE or name == "options":
            object.__setattr__(self, name, value)
        else:
            self.options[name] = value


def aliases_of(cls) -> dict:
    """``{old key: option}`` a method or wrapper class answers to: a built-in's from :data:`ALIASES`, a user's own
    from its ``aliases``."""
    own = dict(getattr(cls, "aliases", None) or {})
    if cls.__module__.startswith("gptnas.methods.") and cls.name in ALIASES:
        own.update(ALIASES[cls.name][0])
    return own


def _classes():
    from .methods.registry import METHODS, WRAPPERS, get_method, get_wrapper
    return [get_method(n) for n in METHODS], [get_wrapper(n) for n in WRAPPERS]


def translate(d: dict, fields: tuple, engine: tuple) -> dict:
    """A config tree in today's shape from one that may use older keys: a method's options under ``search``
    (``search.population``), sections named before they were the methods' (``gpt``, ``principles``, ``rank``),
    renamed options (``search.rea_batch``). Each old key goes to the first class that answers to it (its
    ``aliases``): the run's method, then the wrappers; a key only another method answers to is left out (an older
    run's config.yaml holds every method's section). An explicit key in the new place wins over its old name. ``fields``: the tree's top-level keys
    that are not sections; ``engine``: the ``search`` section's own keys (:mod:`gptnas.config` passes both)."""
    from .core.objects import PREFIX
    from .errors import ConfigError
    from .methods.registry import DEFAULT_METHOD, METHODS, WRAPPERS, get_method, get_wrapper, section_class
    d = dict(d)
    search = d.get("search")
    method = (search or {}).get("method") if isinstance(search, dict) else None
    method = method if isinstance(method, str) else DEFAULT_METHOD
    wrappers = [get_wrapper(n) for n in WRAPPERS]
    running = [get_method(method)] if method in METHODS else []
    old: list[tuple[str, str, object]] = []
    if isinstance(search, dict):
        search = dict(search)
        for k in [k for k in search if k not in engine]:
            old.append(("search", k, search.pop(k)))
        d["search"] = search
    for sec in [k for k in d if k not in fields and section_class(k) is None and isinstance(d[k], dict)]:
        if method.startswith(PREFIX) and sec == method[len(PREFIX):]:
            continue  # a method object's own section
        old += [(sec, k, v) for k, v in d.pop(sec).items()]
    for sec, key, value in old:
        moved = MOVED.get(f"{sec}.{key}")
        if moved:
            d.setdefault(moved[0], value)
            continue
        owner = next(((c, t) for c in running + wrappers for t in [alias_for(c, sec, key)] if t), None)
        if owner is None:  # another method's key (an older run recorded every section): only then import them all
            methods = _classes()[0]
            owner = next(((c, t) for c in methods for t in [alias_for(c, sec, key)] if t), None)
        if owner is None:
            valid = sorted(set(engine) | {o for c in methods for o in c.option_names()}) \
                if sec == "search" else None
            raise ConfigError(f"unknown config key '{sec}.{key}'" + (f": valid keys are {', '.join(valid)}"
                                                                      if valid else ""))
        cls, target = owner
        if cls in running or cls in wrappers:
            section = d.setdefault(cls.name, {})
            if isinstance(section, dict):
                section.setdefault(target, value)
        else:
            log.debug("%s.%s is an option of %s, which this run does not use: left out", sec, key, cls.name)
    return d


def is_old_section(name: str) -> bool:
    """Whether ``name`` is an older name of a method's or wrapper's section (``gpt``, ``principles``, ``rank``)."""
    methods, wrappers = _classes()
    return any(a.startswith(f"{name}.") for c in methods + wrappers for a in aliases_of(c))


def alias_for(cls, section: str, key: str):
    """The option of ``cls`` that old key ``section.key`` names, or None."""
    names, aliases = cls.option_names(), aliases_of(cls)
    if f"{section}.{key}" in aliases:
        return aliases[f"{section}.{key}"]
    if (section == "search" or f"{section}.*" in aliases) and key in names:
        return key
    return None
