"""gptnas: evolutionary neural architecture search with generative pre-trained models.

The front door (pymoo-style, objects in, a result out)::

    import gptnas
    space = gptnas.spaces.CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")
    result = gptnas.search(space, evaluate, method="gptnas", budget=50, seed=0, out="runs/mine")
    gptnas.resume("runs/mine", space=space, evaluate=evaluate)

    study = gptnas.open_search(space, method="rea", budget=100, seed=0, out="runs/x")   # your own scheduler
    trial = study.ask(); study.tell(trial, evaluate(trial.arch)); study.result()

``gptnas.spaces`` and ``gptnas.methods`` hold the search spaces and methods; the rest is imported on first use.
"""

__version__ = "0.1.0"


from . import compat as _compat
from .core.objects import lazy_exports

_compat.install()  # old module paths (gptnas.gpt, gptnas.operators.gpt_*, ...) answer as the modules they are now

# spaces, methods, search and every other submodule are imported when named (the one lazy mechanism of the package)
__getattr__, __dir__ = lazy_exports(__name__, {"resume": "search.api", "SearchResult": "search.api",
                                               "Best": "search.api", "open_search": "search.study",
                                               "Trial": "search.study", "NoTrial": "search.study",
                                               "export": "final"}, globals())


__all__ = ["__version__", "export", "methods", "open_search", "resume", "search", "spaces"]
