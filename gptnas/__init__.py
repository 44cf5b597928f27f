"""gptnas: evolutionary neural architecture search with generative pre-trained models.

The front door (pymoo-style, objects in, a result out)::

    import gptnas
    space = gptnas.spaces.CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")
    result = gptnas.search(space, evaluate, method="gptnas", budget=50, seed=0, out="runs/mine")
    gptnas.resume("runs/mine", space=space, evaluate=evaluate)

``gptnas.spaces`` and ``gptnas.methods`` hold the search spaces and methods; the rest is imported on first use.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    import importlib
    if name in ("spaces", "methods", "search"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "resume":
        from .search.api import resume
        return resume
    if name in ("SearchResult", "Best"):
        from .search import api
        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "methods", "resume", "search", "spaces"]
