"""Objects named as ``module:attribute`` on the command line or in a run's ``config.yaml``.

``--space mypkg.spaces:make_space`` and ``--fitness mypkg.fitness:evaluate`` name a user's own objects; a run
records the names (and the folders they were imported from), so ``--resume`` finds them again from any working
directory.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from ..errors import ConfigError

PREFIX = "python:"  #: marks a config value that stood for a Python object passed directly (not re-importable)
RESERVED = ("proxy",)  #: ``proxy:NAME`` is a built-in fitness, not a module


def is_import_name(text) -> bool:
    """Whether ``text`` looks like ``module:attribute`` (and not a Windows path or a URL)."""
    if not isinstance(text, str) or text.startswith(PREFIX) or text.count(":") != 1:
        return False
    mod, attr = text.split(":")
    if mod in RESERVED:
        return False
    return bool(mod) and bool(attr) and all(p.isidentifier() for p in mod.split(".")) and \
        all(p.isidentifier() for p in attr.split("."))


def import_object(name: str, what: str, search_path: Sequence[str] = ()):
    """The object ``module:attribute`` names; ``search_path`` folders are tried for the module too.

    Raises :class:`ConfigError` with one line naming the module or attribute that was not found.
    """
    if not is_import_name(name):
        raise ConfigError(f"{what} {name!r} is not of the form module:attribute (e.g. mypkg.spaces:make_space)")
    mod_name, attr = name.split(":")
    extra = [p for p in search_path if p and p not in sys.path]
    sys.path[:0] = extra
    try:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as e:
            raise ConfigError(f"{what} {name!r}: cannot import module {mod_name!r} ({e}); run from the folder that "
                              "holds it or add that folder to PYTHONPATH") from None
    finally:
        for p in extra:
            if p in sys.path:
                sys.path.remove(p)
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{what} {name!r}: module {mod_name!r} has no attribute {attr!r}") from None
    return obj


def module_folder(name: str) -> str | None:
    """The absolute folder from which ``module:attribute``'s top-level package was imported (for ``--resume``
    from another working directory), or None for installed packages."""
    top = sys.modules.get(name.split(":")[0].split(".")[0])
    f = getattr(top, "__file__", None)
    if not f:
        return None
    folder = os.path.dirname(os.path.abspath(f))
    if os.path.basename(f) == "__init__.py":
        folder = os.path.dirname(folder)
    if "site-packages" in folder or "dist-packages" in folder:
        return None
    return folder


def lazy_exports(package: str, exports: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for a module (PEP 562): each name in ``exports`` (name -> submodule of ``package``)
    is imported from its submodule on first use and kept in ``namespace`` (the package's ``globals()``); any other
    submodule is imported when named, as after an eager import. A package uses it so that importing one light
    submodule, or reading a config, does not pull in torch (seconds on 2 cores)."""
    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        else:
            try:
                value = importlib.import_module(f".{name}", package)
            except ModuleNotFoundError as e:
                if e.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))
    return __getattr__, __dir__
