"""The house drawn from its imports: every module imports only from its own layer or the ones below
(docs/architecture.md), and no module reaches into another package's private names."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PKG = REPO / "gptnas"
#: Layer of each top-level part of the package, bottom (0) to top. docs/architecture.md draws the same.
LAYERS = {
    "errors": 0, "core": 0, "compat": 0,  # compat imports nothing of gptnas until an old path is imported
    "encodings": 1, "spaces": 1, "storage": 1, "bench": 1, "datasets": 1, "reports": 1,
    "evaluators": 2, "lm": 2, "operators": 2,
    "methods": 3,
    "config": 4,
    "search": 5,
    "run": 6, "final": 6, "report": 6, "ask": 6, "tell": 6, "principles": 6, "rank": 6, "bench.__main__": 6, "gpt": 6, "cli": 6,
    "__main__": 6,
}
#: The one module that keeps old names working (issue 35): the only exemption.
ALIASES = {"gptnas.compat"}


def _part(module: str) -> str:
    parts = module.split(".")[1:]  # drop "gptnas"
    if parts[:2] == ["bench", "__main__"]:
        return "bench.__main__"
    if len(parts) == 3 and parts[0] == "methods" and parts[2] == "cli":
        return "cli"  # a method's own command line (python -m gptnas.principles): the top layer, in its folder
    return parts[0] if parts else ""


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path


def _imports(name: str, path: Path):
    """(imported module, imported names) of every import in the file, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod, [a.name for a in node.names]


def test_imports_run_downwards_only():
    bad = []
    for name, path in _modules():
        part = _part(name)
        if name in ALIASES:
            continue
        if part not in LAYERS:
            if name != "gptnas":
                bad.append(f"{name}: not in a layer of docs/architecture.md")
            continue
        for mod, _ in _imports(name, path):
            if not mod.startswith("gptnas.") or mod == "gptnas":
                continue
            target = _part(mod)
            if target in LAYERS and LAYERS[target] > LAYERS[part]:
                bad.append(f"{name} (layer {LAYERS[part]}) imports {mod} (layer {LAYERS[target]})")
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_packages_private_names():
    bad = []
    for name, path in _modules():
        for mod, names in _imports(name, path):
            if not mod.startswith("gptnas"):
                continue
            same = _part(mod) == _part(name) and mod.rsplit(".", 1)[0] == name.rsplit(".", 1)[0]
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and not same:
                bad.append(f"{name} imports {', '.join(private)} from {mod}")
    assert not bad, "\n".join(bad)


MODEL_CODE = {"blocks.py", "network.py", "modules.py", "block_classifier.py", "layer_proposer.py", "finetune_corpus.py", "ranker.py"}


def test_operators_spaces_and_methods_import_no_torch_at_module_level():
    """So that a config is checked, a space built and a method chosen in a fraction of a second."""
    for sub in ("operators", "spaces", "methods", "config.py", "core"):
        for path in ([PKG / sub] if sub.endswith(".py") else sorted((PKG / sub).rglob("*.py"))):
            if path.name in MODEL_CODE:
                continue  # the networks and GPT-NAS's own models themselves
            tree = ast.parse(path.read_text())
            top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            names = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names} | \
                    {(n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and not n.level}
            assert not names & {"torch", "transformers"}, path


def test_dataset_facts_and_the_cache_folder_are_defined_once():
    text = {p: p.read_text() for p in PKG.rglob("*.py")}
    assert [p.name for p, t in text.items() if "def default_cache_dir" in t] == ["paths.py"]
    assert [p.name for p, t in text.items() if "(3, 224, 224)" in t] == ["__init__.py"]  # datasets registry


CLASSIC = {"gptnas.methods.random_search", "gptnas.methods.rea", "gptnas.methods.ga"}  # the classic loops' rooms


def _method_folders() -> set[str]:
    return {p.parent.name for p in (PKG / "methods").glob("*/__init__.py")}


def _registered() -> set[str]:
    from gptnas.methods.registry import METHODS, WRAPPERS
    return set(METHODS) | set(WRAPPERS)


def _folder_of(module: str):
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "methods" and parts[2] in _method_folders() else None


def _strings(tree):
    """String constants that are not docstrings, with the call they are an argument of (if any)."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    calls = {id(a): n for n in ast.walk(tree) if isinstance(n, ast.Call) for a in n.args}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            yield n.value, calls.get(id(n))


def test_no_module_outside_a_methods_folder_names_a_method():
    """The engine, config, driver, front door and CLI loop over registered methods: none names one (in code — a
    docstring may), reaches into a method's folder, or imports its private names. Only the registry lists them."""
    names = _registered() - {"random"}  # "random" is also what a random architecture's origin says
    bad = []
    for name, path in _modules():
        if _folder_of(name) or name in ALIASES or name in CLASSIC or name in ("gptnas.methods.registry",
                                                                                "gptnas.methods"):
            continue
        tree = ast.parse(path.read_text())
        for value, call in _strings(tree):
            # "gptnas." starts a module path (the package's name), not the method's key
            hit = value in names or any(value.startswith(f"{m}.") for m in names - {"gptnas"})
            logger = call is not None and getattr(call.func, "attr", getattr(call.func, "id", "")) == "getLogger"
            if hit and not logger and not (value == "gptnas" and name.startswith("gptnas.core.paths")):
                bad.append(f"{name} names method {value!r}")
        for mod, _ in _imports(name, path):
            command_line = LAYERS.get(_part(name)) == 6 and mod.endswith(".cli")  # python -m gptnas.rank: its cli
            if _folder_of(mod) and _part(name) != "cli" and not command_line:
                bad.append(f"{name} imports {mod} (a method's folder)")
    assert not bad, "\n".join(bad)


def test_no_method_imports_another_methods_folder():
    """Shared code lives below the methods (lm/, operators/, methods/base.py, the classic loops), never in one."""
    bad = []
    for name, path in _modules():
        mine = _folder_of(name)
        if not mine:
            continue
        for mod, _ in _imports(name, path):
            theirs = _folder_of(mod)
            if theirs and theirs != mine:
                bad.append(f"{name} imports {mod}")
    assert not bad, "\n".join(bad)


def test_every_registered_method_is_a_folder_or_a_classic_loop_and_declares_what_the_framework_reads():
    from gptnas.methods.registry import METHODS, WRAPPERS, all_classes
    classic = {"random", "rea", "ga"}  # the loops other methods build on: methods/<name>.py
    for name, target in {**METHODS, **WRAPPERS}.items():
        module = target.split(":")[0]
        assert _folder_of(module) or name in classic, f"{name}: {module} is not in a folder of its own"
    for cls in all_classes():
        assert all(o in cls.option_names() for o in cls.paths), cls
        assert all(f.option in cls.option_names() for f in cls.flags), cls


def test_old_module_paths_are_the_modules_they_are_now_and_say_where_they_went():
    """Scripts written against a module path that moved keep working (gptnas/compat.py, the one place)."""
    import importlib
    import subprocess
    import sys

    from gptnas.compat import MODULES
    for old, (new, version) in MODULES.items():
        assert not (PKG.parent / (old.replace(".", "/") + ".py")).exists(), f"{old}: a file again, beside compat"
    code = ("import warnings, importlib, gptnas\nwarnings.simplefilter('error')\n"
            "try:\n    importlib.import_module('gptnas.operators.gpt_init')\nexcept DeprecationWarning as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "gptnas.operators.gpt_init is gptnas.methods.gptnas.operators.init since gptnas 0.1.0" in out
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for old, (new, _) in MODULES.items():
            assert importlib.import_module(old) is importlib.import_module(new), old
        from gptnas.gpt.layer_proposer import LayerGPTSettings  # the names scripts imported from the old paths
        from gptnas.operators.rank import sel_ranked
    from gptnas.methods.gptnas.options import LayerGPTSettings as settings_now
    from gptnas.methods.lmsearcher.prescreen import sel_ranked as ranked_now
    assert (LayerGPTSettings, sel_ranked) == (settings_now, ranked_now)


def test_no_two_modules_import_each_other():
    """A circle (lmsearcher/method.py ↔ prescreen.py, before issue 35) means neither can be read on its own."""
    graph = {}
    for name, path in _modules():
        graph[name] = {mod for mod, _ in _imports(name, path) if mod.startswith("gptnas.")}
    packages = {n for n, p in _modules() if p.name == "__init__.py"}
    circles = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                      if b != a and a in graph.get(b, ()) and a not in packages and b not in packages})
    assert not circles, circles


OLD_SECTION_KEY = re.compile(r"(?<![\w.])(gpt|rank|principles)\.([a-z_]+|\*)")


def _old_section_options() -> dict:
    """Old section name -> the options of the sections it was renamed to (``gpt.loop`` is ``gptnas.loop``)."""
    from gptnas.methods.registry import get_method, get_wrapper
    return {"gpt": set(get_method("gptnas").option_names()),
            "rank": set(get_method("lmsearcher").option_names()) | set(get_wrapper("prescreened").option_names()),
            "principles": set(get_method("lapt").option_names()) | set(get_wrapper("principled").option_names())}


def _texts(tree):
    """Every string constant of a module, f-strings' literal parts included, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_old_section_names_live_only_in_compat():
    """Config keys under the sections' old names (``gpt.loop``, ``rank.pool``, ``principles.source``) appear
    nowhere but gptnas/compat.py: messages and code name today's keys (``gptnas.loop``), so a user is never sent to
    a name that only an alias still answers to."""
    options, bad = _old_section_options(), []
    for name, path in _modules():
        if name in ALIASES:
            continue
        for line, text in _texts(ast.parse(path.read_text())):
            for m in OLD_SECTION_KEY.finditer(text):  # (``principles.adaptations``, an attribute, is no key)
                if m.group(2) == "*" or m.group(2) in options[m.group(1)]:
                    bad.append(f"{name}:{line} {m.group(0)!r}")
    assert not bad, "\n".join(bad)


def test_no_module_imports_the_methods_package_itself():
    """Inside gptnas, a method or the framework imports the module that defines a name (methods/rea.py,
    methods/registry.py), not the package ``gptnas.methods``, whose exports are for users: importing it from inside
    runs every lazy export's import path in the wrong direction."""
    bad = [f"{name} imports {mod}: {', '.join(names)}" for name, path in _modules()
           if name not in ("gptnas.methods", "gptnas") and not name.startswith("gptnas.methods.__")
           for mod, names in _imports(name, path) if mod == "gptnas.methods" and names]
    assert not bad, "\n".join(bad)


def test_one_lazy_import_mechanism():
    """Packages import their heavy parts on first use through core.objects.lazy_exports only: no module defines a
    module-level ``__getattr__`` of its own (nb101/network.py did, before issue 35)."""
    bad = [name for name, path in _modules() if name != "gptnas.core.objects"
           and any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in ast.parse(path.read_text()).body)]
    assert not bad, bad
