"""The house drawn from its imports: every module imports only from its own layer or the ones below
(docs/architecture.md), and no module reaches into another package's private names."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PKG = REPO / "gptnas"
#: Layer of each top-level part of the package, bottom (0) to top. docs/architecture.md draws the same.
LAYERS = {
    "errors": 0, "core": 0,
    "encodings": 1, "spaces": 1, "storage": 1, "bench": 1, "datasets": 1, "reports": 1,
    "evaluators": 2, "lm": 2, "operators": 2,
    "methods": 3,
    "config": 4,
    "search": 5,
    "run": 6, "final": 6, "report": 6, "principles": 6, "rank": 6, "bench.__main__": 6, "gpt": 6,
}


def _part(module: str) -> str:
    parts = module.split(".")[1:]  # drop "gptnas"
    if parts[:2] == ["bench", "__main__"]:
        return "bench.__main__"
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


MODEL_CODE = {"blocks.py", "network.py", "block_classifier.py", "layer_proposer.py", "finetune_corpus.py"}


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
