"""Start, resume, or run in memory: everything between a config and a finished search state."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from deap import base

from .. import __version__
from ..config import RunConfig, from_dict, validate
from ..evaluators.base import Evaluator
from ..evaluators.factory import build_evaluator
from ..reports.convergence import plot_convergence
from ..reports.summary import make_summary
from ..spaces import get_space
from ..storage.rundir import RunDir
from .engine import Search
from .methods import get_method
from .rng import Rngs
from .state import SearchState

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A search ready to run: the objects that a user could also assemble by hand."""

    cfg: RunConfig
    space: object
    evaluator: Evaluator
    rngs: Rngs
    toolbox: base.Toolbox
    method: object


def prepare(cfg: RunConfig, evaluator: Evaluator | None = None) -> Prepared:
    """Validate ``cfg`` and build space, evaluator, generators, method and toolbox."""
    validate(cfg)
    space = get_space(cfg.space)
    evaluator = evaluator or build_evaluator(cfg, space)
    rngs = Rngs(cfg.seed)
    method = get_method(cfg.search.method)(cfg.search, space, rngs)
    toolbox = base.Toolbox()
    toolbox.register("evaluate", evaluator)
    toolbox.register("map", map)
    method.register(toolbox)
    return Prepared(cfg, space, evaluator, rngs, toolbox, method)


def make_search(p: Prepared, on_checkpoint=None, progress: bool = True) -> Search:
    s = p.cfg.search
    return Search(p.space, p.toolbox, p.method, s.budget, p.rngs, on_checkpoint=on_checkpoint,
                  max_generations=s.generations, stall_limit=s.stall_limit, progress=progress)


def run_in_memory(cfg: RunConfig, evaluator: Evaluator | None = None, progress: bool = False) -> SearchState:
    """Run a search without a run directory (experiments sweeping many seeds)."""
    p = prepare(cfg, evaluator)
    return make_search(p, progress=progress).run()


def _checkpointer(rd: RunDir, p: Prepared):
    def on_checkpoint(state: SearchState) -> None:
        # Archive and summary first, checkpoint last: a checkpoint never points past what is on disk.
        state.archive.write(rd.archive)
        rd.write_summary(make_summary(p.cfg, state))
        rd.write_checkpoint({"search": state.to_dict(), "rngs": p.rngs.state()})
    return on_checkpoint


def start(cfg: RunConfig, overwrite: bool = False, progress: bool = True) -> tuple[RunDir, SearchState]:
    """Start a new run in ``cfg.out``; returns the run directory and the final state."""
    p = prepare(cfg)
    rd = RunDir.create(cfg.out, overwrite=overwrite)
    rd.write_config(cfg.to_dict())
    handler = rd.attach_log()
    try:
        log.info("gptnas %s: %s on %s/%s, budget %d, seed %d -> %s", __version__, cfg.search.method, cfg.space,
                 cfg.dataset, cfg.search.budget, cfg.seed, rd.path)
        state = SearchState()
        state.archive.attrs = {"method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset,
                               "fitness": cfg.fitness, "seed": cfg.seed, "gptnas_version": __version__}
        return rd, _run(p, rd, state, progress)
    finally:
        logging.getLogger("gptnas").removeHandler(handler)
        handler.close()


def resume(path: str | Path, progress: bool = True) -> tuple[RunDir, SearchState]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none)."""
    rd = RunDir.open(path)
    cfg = validate(from_dict(rd.read_config()))
    ck = rd.read_checkpoint()
    p = prepare(cfg)
    state = SearchState()
    if ck is not None:
        state = SearchState.from_dict(ck["search"])
        p.rngs.set_state(ck["rngs"])
    handler = rd.attach_log()
    try:
        log.info("resuming %s at generation %d, %d/%d evaluations", rd.path, state.generation,
                 state.evaluations, cfg.search.budget)
        return rd, _run(p, rd, state, progress)
    finally:
        logging.getLogger("gptnas").removeHandler(handler)
        handler.close()


def _run(p: Prepared, rd: RunDir, state: SearchState, progress: bool) -> SearchState:
    if state.status == "running":
        state = make_search(p, on_checkpoint=_checkpointer(rd, p), progress=progress).run(state)
    state.archive.write(rd.archive)
    rd.write_summary(make_summary(p.cfg, state))
    plot_convergence(state.archive.rows, rd.convergence,
                     title=f"{p.cfg.search.method} on {p.cfg.space}/{p.cfg.dataset}, seed {p.cfg.seed}")
    return state
