"""The front door: ``gptnas.search(space, evaluate, method=...)`` and ``gptnas.resume(path, ...)``.

>>> import gptnas
>>> space = gptnas.spaces.CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")
>>> result = gptnas.search(space, evaluate, method="rea", budget=50, seed=0, out="runs/mine")
>>> result.best.arch, result.best.fitness, result.history
>>> gptnas.resume("runs/mine", space=space, evaluate=evaluate)

``space``: a search-space object, or the name of one (``"nb201"``, ``"mypkg.spaces:make_space"``). ``evaluate``:
any callable ``arch -> float | (float,) | EvalResult``, or the name of a built-in fitness (``"benchmark"``,
``"train"``, ``"proxy:synflow"``, ``"mypkg.fitness:evaluate"``). ``method``: a name or a method object with its
own options (``gptnas.methods.REA(population=10, sample=5)``), possibly wrapped (``Prescreened(REA(), prescreen=4)``).
Everything else the config tree holds goes in as keywords: ``dataset="cifar10", data="../shared/data/nb201",
workers=2, train={"epochs": 1}``, and a method's section by its name (``gptnas={"loop": "rea"}``; the older
``gpt={...}``, ``principles={...}``, ``rank={...}`` still work).

With ``out`` the run has a run directory (config, journals, checkpoints, archive, summary, plot), one writer at
a time, resumable after a crash or kill -9; without it, it runs in memory.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..config import RunConfig, from_dict, is_section
from ..core.history import History
from ..errors import ConfigError, ConfigTypeError
from ..methods.base import Method
from ..methods.registry import DEFAULT_METHOD
from .state import SearchState


@dataclass(frozen=True)
class Best:
    """The best architecture a search found (by fitness; test accuracy only reported)."""

    arch: list            #: its genome
    key: str              #: its canonical key (as in the archive and summary.json)
    fitness: float
    test: Optional[float]
    evaluation: int       #: its row in the archive (0-based)
    generation: int


@dataclass
class SearchResult:
    """What a search returns: the best architecture, the :class:`~gptnas.core.history.History` (what methods saw),
    the archive rows (every evaluation, with test accuracy where the evaluator reports it), the status and the run
    directory (None for an in-memory run)."""

    best: Optional[Best]
    history: History
    archive: list[dict]
    status: str
    evaluations: int
    run_dir: Optional[Path]
    state: SearchState
    config: RunConfig


def _result(state: SearchState, space, cfg: RunConfig, run_dir) -> SearchResult:
    row = state.best_row()
    best = None
    if row is not None:
        test = None if math.isnan(row["test"]) else row["test"]
        best = Best(space.parse(row["arch"]), row["arch"], row["fitness"], test, state.best_index, row["generation"])
    return SearchResult(best, state.history, state.archive.rows, state.status, state.evaluations,
                        None if run_dir is None else Path(run_dir), state, cfg)


def _config(space, evaluate, method, budget, seed, out, config: dict) -> tuple[RunConfig, Any, Any, Any]:
    """The run config and the objects (space, evaluator, method) that stand beside it."""
    d: dict = {}
    space_obj = eval_obj = method_obj = None
    if isinstance(space, str):
        d["space"] = space
    elif not (hasattr(space, "sample") and hasattr(space, "is_valid")):
        raise ConfigTypeError(f"space must be a search space (an object with sample and is_valid, e.g. "
                              f"gptnas.spaces.CategoricalSequenceSpace) or a space's name, got "
                              f"{type(space).__name__} {space!r:.60}")
    else:
        space_obj = space
    if isinstance(evaluate, str):
        d["fitness"] = evaluate
    elif not callable(evaluate):
        raise ConfigTypeError(f"evaluate must be a function arch -> fitness, or a built-in fitness's name "
                              f"('benchmark', 'train', 'proxy:synflow'), got {type(evaluate).__name__} {evaluate!r:.60}")
    else:
        eval_obj = evaluate
    if not (isinstance(method, (str, Method))):
        raise ConfigTypeError(f"method must be a method's name ('rea', 'random', ...) or a method object "
                              f"(gptnas.methods.REA(...)), got {type(method).__name__} {method!r:.60}")
    if isinstance(method, Method):
        method_obj = method
    search = {"method": method.base_name if method_obj is not None else method, "budget": budget}
    extra = config.pop("search", None)
    if extra is not None and not isinstance(extra, dict):
        raise ConfigTypeError(f"config section search must be a mapping of its keys, got {type(extra).__name__} "
                              f"{extra!r:.60}")
    search.update(extra or {})
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {"sections", "search", "space", "fitness"}
    for k, v in config.items():
        if k in ("space", "fitness"):
            raise ConfigTypeError(f"search() got an unexpected keyword {k!r}: the space and the fitness are its "
                                  "first two arguments")
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            v = dataclasses.asdict(v)  # a settings object: as the mapping the config tree holds
        if k not in fields and not isinstance(v, dict):
            if is_section(k):
                raise ConfigTypeError(f"config section {k} must be a mapping of its keys, got {type(v).__name__} "
                                      f"{v!r:.60}")
            raise ConfigTypeError(f"search() got an unexpected keyword {k!r}: config keys are "
                                  f"{', '.join(sorted(fields))}, or a method's section by its name (rea={{...}})")
        d[k] = v  # a section (a method's, or one of its older names: translated by from_dict)
    d.update(search=search, seed=seed, out=None if out is None else str(out))
    return from_dict(d), space_obj, eval_obj, method_obj


def search(space, evaluate, method=DEFAULT_METHOD, budget: Optional[int] = None, seed: int = 0, out=None, *,
           overwrite: bool = False, progress: bool = True, **config) -> SearchResult:
    """Search ``space`` for the architecture ``evaluate`` scores highest, with ``method``, for ``budget`` unique
    evaluations (see the module docstring for what each argument takes). Returns a :class:`SearchResult`.

    Raises :class:`~gptnas.errors.GptnasError` subclasses for bad input (one line naming the problem), and
    :class:`~gptnas.search.engine.SearchFailed` when more than ``search.max_failed_share`` of the evaluations fail.
    """
    from . import driver
    from .parallel import SPAWN_HINT, spawn_bootstrapping
    if spawn_bootstrapping():  # a worker importing the user's script, which starts the search again
        raise ConfigError(f"a search was started while a worker process imported the script: {SPAWN_HINT}")
    cfg, space_obj, eval_obj, method_obj = _config(space, evaluate, method, budget, seed, out, dict(config))
    if out is None:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="gptnas-weights-") as weights:  # train.inherit: parents' weights
            p = driver.prepare(cfg, eval_obj, weights_dir=weights, space=space_obj, method=method_obj,
                               progress=progress)
            try:
                state = driver.make_search(p).run()
            finally:
                driver.close_map(p)
        return _result(state, p.space, p.cfg, None)
    rd, state = driver.start(cfg, overwrite=overwrite, progress=progress, space=space_obj, evaluator=eval_obj,
                             method=method_obj)
    return _result(state, space_obj if space_obj is not None else _space_of(cfg), cfg, rd.path)


def resume(path, space=None, evaluate=None, method: Optional[Method] = None, progress: bool = True, *,
           budget: Optional[int] = None, workers: Optional[int] = None, budget_time=None) -> SearchResult:
    """Continue the run in ``path`` (after a crash, Ctrl-C or kill -9) to exactly the result an uninterrupted run
    gives. Objects the run was given from Python (``space``, ``evaluate``, a ``method`` object) must be given
    again; names recorded in its ``config.yaml`` (``module:callable``) are imported again.

    ``budget``: a larger budget (at least the evaluations made) continues the run, a finished one too; ``workers``:
    evaluate in this many processes from now on; ``budget_time``: a new time budget (seconds or ``"8h"``; a run its
    time budget stopped goes on while the run's time is below it). Nothing else of a run changes when it resumes."""
    from . import driver
    overrides = {k: v for k, v in (("search.budget", budget), ("workers", workers),
                                   ("search.budget_time", budget_time)) if v is not None}
    rd, state = driver.resume(path, progress=progress, space=space, evaluator=evaluate, method=method,
                              overrides=overrides)
    cfg = driver.from_recorded(rd.read_config())
    return _result(state, space if space is not None else _space_of(cfg), cfg, rd.path)


def _space_of(cfg: RunConfig):
    from ..spaces import get_space
    return get_space(cfg.space, cfg.space_options, cfg.python_path)
