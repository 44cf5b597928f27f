"""Start, resume, or run in memory: everything between a config and a finished search state."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from deap import base

from .. import __version__
from ..config import RunConfig, from_dict, validate
from ..evaluators.base import Evaluator
from ..evaluators.factory import build_evaluator
from ..reports.convergence import fitness_label, plot_convergence
from ..reports.summary import make_summary
from ..spaces import get_space
from ..errors import RunDirError
from ..storage.rundir import RunDir
from .engine import Search
from .methods import get_method
from .parallel import make_map
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


def prepare(cfg: RunConfig, evaluator: Evaluator | None = None, weights_dir: str | Path | None = None) -> Prepared:
    """Validate ``cfg`` and build space, evaluator, generators, method and toolbox. ``weights_dir``: where a
    training evaluator keeps weights for inheritance (``train.inherit``; default: ``<out>/weights``)."""
    validate(cfg)
    if cfg.threads is not None:
        import torch
        torch.set_num_threads(cfg.threads)
    space = get_space(cfg.space, cfg.space_options)
    if weights_dir is None and cfg.out:
        weights_dir = Path(cfg.out) / "weights"
    evaluator = evaluator or build_evaluator(cfg, space, weights_dir)
    if cfg.workers == 1 and hasattr(evaluator, "splits"):
        evaluator.splits()  # missing or corrupt data fails now, before minutes of GPT training (serial runs load it anyway)
    rngs = Rngs(cfg.seed)
    method = get_method(cfg.search.method)(cfg, space, rngs)
    toolbox = base.Toolbox()
    toolbox.register("evaluate", evaluator)
    toolbox.register("map", make_map(cfg.parallel, cfg.workers, cfg.ray_address, cfg.gpus_per_task))
    method.register(toolbox)
    return Prepared(cfg, space, evaluator, rngs, toolbox, method)


def make_search(p: Prepared, on_checkpoint=None, progress: bool = True) -> Search:
    s = p.cfg.search
    return Search(p.space, p.toolbox, p.method, s.budget, p.rngs, on_checkpoint=on_checkpoint,
                  max_generations=s.generations, stall_limit=s.stall_limit, progress=progress)


def run_in_memory(cfg: RunConfig, evaluator: Evaluator | None = None, progress: bool = False) -> SearchState:
    """Run a search without a run directory (experiments sweeping many seeds); inherited weights, if any, live in
    a temporary directory."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="gptnas-weights-") as tmp:
        p = prepare(cfg, evaluator, weights_dir=tmp)
        try:
            return make_search(p, progress=progress).run()
        finally:
            close_map(p)


def close_map(p: Prepared) -> None:
    """Shut down a worker pool the toolbox's ``map`` may hold."""
    fn = getattr(p.toolbox.map, "func", p.toolbox.map)  # toolbox.register wraps in functools.partial
    close = getattr(fn, "close", None)
    if close:
        close()


class Checkpointer:
    """Saves a run directory after every generation that evaluated something new.

    Journals get only the new rows, then the small checkpoint is replaced atomically, so the cost per generation
    does not grow with the run. A generation that evaluated nothing new is not checkpointed: the search is
    deterministic, so a resume replays it from the previous checkpoint to the same state at no evaluation cost.
    Journals and checkpoint are fsynced at most once per ``fsync_interval`` seconds (and at the end): a killed
    process loses nothing either way; a power cut loses at most that much work. Summary, HDF5 archive and plot are
    refreshed every ``snapshot_interval`` seconds for a person watching, and always at the end.
    """

    def __init__(self, rd: RunDir, p: Prepared, state: SearchState, fsync_interval: float = 1.0,
                 snapshot_interval: float = 30.0):
        self.rd, self.p = rd, p
        self.rows_done, self.records_done = len(state.archive), len(state.logbook)
        self.fsync_interval, self.snapshot_interval = fsync_interval, snapshot_interval
        self.last_fsync = self.last_snapshot = time.monotonic()

    def __call__(self, state: SearchState) -> None:
        if len(state.archive) == self.rows_done and state.status == "running":
            return
        now = time.monotonic()
        durable = now - self.last_fsync >= self.fsync_interval or state.status != "running"
        self.rd.evaluations.append(state.archive.rows[self.rows_done:], fsync=durable)
        self.rd.generations.append([dict(r) for r in state.logbook[self.records_done:]], fsync=durable)
        self.rows_done, self.records_done = len(state.archive), len(state.logbook)
        self.rd.write_checkpoint({"search": state.to_dict(), "rngs": self.p.rngs.state()}, fsync=durable)
        if durable:
            self.last_fsync = now
        if now - self.last_snapshot >= self.snapshot_interval:
            write_results(self.p, self.rd, state)
            self.last_snapshot = now


def write_results(p: Prepared, rd: RunDir, state: SearchState) -> None:
    """The files a person reads: HDF5 archive, summary, convergence plot."""
    state.archive.write(rd.archive)
    rd.write_summary(make_summary(p.cfg, state))
    plot_convergence(state.archive.rows, rd.convergence,
                     title=f"{p.cfg.search.method} on {p.cfg.space}/{p.cfg.dataset}, seed {p.cfg.seed}",
                     fitness=fitness_label(p.cfg.fitness))


def new_state(cfg: RunConfig) -> SearchState:
    state = SearchState()
    state.archive.attrs = {"method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset,
                           "fitness": cfg.fitness, "seed": cfg.seed, "gptnas_version": __version__}
    return state


def start(cfg: RunConfig, overwrite: bool = False, progress: bool = True) -> tuple[RunDir, SearchState]:
    """Start a new run in ``cfg.out``; returns the run directory and the final state."""
    p = prepare(cfg)
    rd = RunDir.create(cfg.out, overwrite=overwrite)
    rd.write_config(cfg.to_dict())
    handler = rd.attach_log()
    try:
        log.info("gptnas %s: %s on %s/%s, budget %d, seed %d -> %s", __version__, cfg.search.method, cfg.space,
                 cfg.dataset, cfg.search.budget, cfg.seed, rd.path)
        return rd, _run(p, rd, new_state(cfg), progress)
    finally:
        close_map(p)
        logging.getLogger("gptnas").removeHandler(handler)
        handler.close()


def resume(path: str | Path, progress: bool = True) -> tuple[RunDir, SearchState]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none)."""
    rd = RunDir.open(path)
    cfg = validate(from_dict(rd.read_config()))
    ck = rd.read_checkpoint()
    p = prepare(cfg)
    state = new_state(cfg)
    if ck is not None:
        rows, records = rd.evaluations.read(), rd.generations.read()
        try:
            state = SearchState.from_dict(ck["search"], rows, records)
        except ValueError:
            raise RunDirError(f"{rd.evaluations.path} holds fewer evaluations than the checkpoint: the run "
                              "directory is damaged; start again with --overwrite") from None
        p.rngs.set_state(ck["rngs"])
    # Lines written after the checkpoint belong to a generation that will be re-run: drop them.
    rd.evaluations.rewrite(state.archive.rows)
    rd.generations.rewrite([dict(r) for r in state.logbook])
    handler = rd.attach_log()
    try:
        log.info("resuming %s at generation %d, %d/%d evaluations", rd.path, state.generation,
                 state.evaluations, cfg.search.budget)
        return rd, _run(p, rd, state, progress)
    finally:
        close_map(p)
        logging.getLogger("gptnas").removeHandler(handler)
        handler.close()


def _run(p: Prepared, rd: RunDir, state: SearchState, progress: bool) -> SearchState:
    if state.status == "running":
        try:
            state = make_search(p, on_checkpoint=Checkpointer(rd, p, state), progress=progress).run(state)
        except KeyboardInterrupt:
            write_results(p, rd, state)  # a readable picture of the work so far; the checkpoint is already safe
            raise
    write_results(p, rd, state)
    return state
