"""Start, resume, or run in memory: everything between a config and a finished search state.

:func:`prepare` turns a :class:`~gptnas.config.RunConfig` (and, optionally, objects a user passes: a space, an
evaluator, a method) into the parts of one search; :func:`start` and :func:`resume` run it in a run directory that
one process at a time may write (an operating-system lock), journaling every evaluation as it arrives.
"""
from __future__ import annotations

import copy
import functools
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deap import base

from .. import __version__
from ..config import (RESUME_OVERRIDES, RunConfig, build_method, changed_keys, from_recorded, is_object,
                      parse_duration, resolve_paths, set_dotted, validate)
from ..core.objects import PREFIX, import_object, is_import_name, module_folder
from ..core.rng import Rngs
from ..errors import ConfigError, RunDirError
from ..evaluators.factory import build_evaluator
from ..methods.base import Method, SearchContext
from ..lm.llm import llm_cost
from ..reports.convergence import plot_convergence
from ..reports.summary import fitness_name, make_summary
from ..spaces import get_space
from ..spaces.base import fingerprint as space_fingerprint
from ..storage.rundir import DamagedCheckpoint, RunDir, refuse_file
from .engine import Search, SearchFailed
from .parallel import make_map
from .state import SearchState

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A search ready to run: the objects that a user could also assemble by hand."""

    cfg: RunConfig
    space: object
    evaluator: object
    rngs: Rngs
    toolbox: base.Toolbox
    method: Method
    progress: bool = True
    opened: float = field(default_factory=time.perf_counter)  # this session's start (real seconds)
    wall_before: float = 0.0  # real seconds of the run's earlier sessions

    def tick(self, state) -> None:
        """The run's real time so far into ``state.wall_s``."""
        state.wall_s = self.wall_before + time.perf_counter() - self.opened

    @functools.cached_property
    def table_fitness(self):
        """Every architecture's fitness in the run's benchmark table (float (N,)), or None when it has none."""
        get = getattr(self.evaluator, "table_fitness", None)
        return None if get is None else get()


def _user_fitness(cfg: RunConfig, space):
    """The evaluator a ``module:callable`` fitness names: a class is instantiated (with the space when its
    constructor takes one), anything else callable is the evaluate function itself."""
    obj = import_object(cfg.fitness, "--fitness", cfg.python_path)
    if isinstance(obj, type):
        try:
            return obj(space)
        except TypeError:
            return obj()
    if not callable(obj):
        raise ConfigError(f"--fitness {cfg.fitness} is not callable: name a function arch -> fitness, or a class")
    return obj


def _travels(evaluator) -> bool:
    """Whether ``evaluator`` can be sent to a worker process (pickled; a lambda or a local class cannot)."""
    import pickle
    try:
        pickle.dumps(evaluator)
        return True
    except Exception:  # noqa: BLE001 - whatever pickling raises
        return False


def _note_imports(cfg: RunConfig) -> None:
    """Record the folders of ``module:callable`` names, so a resume from another directory finds them."""
    for name in (cfg.space, cfg.fitness):
        if is_import_name(name):
            folder = module_folder(name)
            if folder and folder not in cfg.python_path:
                cfg.python_path.append(folder)


def prepare(cfg: RunConfig, evaluator=None, weights_dir: str | Path | None = None, space=None, method=None,
            progress: bool = True, run_dir: Path | None = None) -> Prepared:
    """Validate ``cfg`` and build space, evaluator, generators, method and toolbox.

    Args:
        evaluator: an evaluator to use instead of building one from ``cfg.fitness`` (for a named fitness, e.g. a
            ready :class:`~gptnas.evaluators.tabular.TabularEvaluator`; with no fitness named, a user's own).
        weights_dir: where a training evaluator keeps weights for inheritance (``train.inherit``; default:
            ``<out>/weights``).
        space, method: objects to use instead of the ones ``cfg`` names.
        progress: progress bars for long steps (model training) and the search.
    """
    user_eval = evaluator if evaluator is not None and (cfg.fitness is None or is_object(cfg.fitness)) else None
    method = copy.deepcopy(method) if method is not None else None  # one object, one search
    validate(cfg, space=space, evaluate=user_eval, method=method)
    method = build_method(cfg, method)  # inside the wrappers the config asks for
    _note_imports(cfg)
    set_threads(search_threads(cfg), asked=cfg.threads is not None)
    if space is None:
        space = get_space(cfg.space, cfg.space_options, cfg.python_path)
    if weights_dir is None and cfg.out:
        weights_dir = Path(cfg.out) / "weights"
    if evaluator is None:
        evaluator = _user_fitness(cfg, space) if is_import_name(cfg.fitness) else \
            build_evaluator(cfg, space, weights_dir)
    if cfg.workers == 1 and hasattr(evaluator, "splits"):
        evaluator.splits()  # missing or corrupt data fails now, before minutes of GPT training (serial runs load it anyway)
    rngs = Rngs(cfg.seed)
    named = None if is_object(cfg.space) or is_import_name(cfg.space) else cfg.space
    ctx = SearchContext(space, rngs, progress=progress, dataset=cfg.dataset,
                        fitness=cfg.fitness_kind, data=cfg.data, run_dir=run_dir, budget=cfg.search.budget,
                        space_name=named, llm=cfg.llm, cache_dir=cfg.cache_dir,
                        workers=cfg.workers if cfg.parallel in ("process", "ray", "simulated") else 1)
    method.bind(ctx)
    toolbox = base.Toolbox()
    toolbox.register("evaluate", evaluator)
    wants_gpu = cfg.fitness_kind == "train" and str(cfg.train.device).lower() != "cpu"
    backend = cfg.parallel
    if backend == "process" and cfg.workers == 1 and not _travels(evaluator):
        log.warning("the evaluations run in this process: the evaluator cannot be sent to a worker process, so a "
                    "time limit (search.eval_timeout, --budget-time with on_time=cancel) stops only Python code; "
                    "define it at the top level of a module to have it run in one")
        backend = "serial"
    toolbox.register("map", make_map(backend, cfg.workers, cfg.ray_address, cfg.gpus_per_task,
                                     device=cfg.train.device, wants_gpu=wants_gpu, budget=cfg.search.budget,
                                     max_tasks=cfg.search.max_tasks_per_worker))
    method.register(toolbox)
    return Prepared(cfg, space, evaluator, rngs, toolbox, method, progress)


def make_search(p: Prepared, on_checkpoint=None, progress: bool | None = None, on_result=None,
                answers=None) -> Search:
    s = p.cfg.search
    return Search(p.space, p.toolbox, p.method, s.budget, p.rngs, on_checkpoint=on_checkpoint,
                  max_generations=s.generations, stall_limit=s.stall_limit,
                  progress=p.progress if progress is None else progress, on_result=on_result, answers=answers,
                  max_failed_share=s.max_failed_share, budget_time=s.budget_time, on_time=s.on_time,
                  eval_timeout=s.eval_timeout,
                  order=s.order, lag=s.lag)


def search_threads(cfg: RunConfig) -> int | None:
    """Torch threads for the search's own process: ``threads`` when set; else one — its GPT, ranker and table
    look-ups are small operations that several threads only slow down (BENCHMARKS.md, threads) and worker
    processes may share the cores — except when it trains the candidate networks itself (torch's default then)."""
    if cfg.threads is not None:
        return cfg.threads
    if cfg.workers == 1 and cfg.parallel != "ray" and cfg.fitness_kind == "train":
        return None
    return 1


def set_threads(n: int | None, asked: bool = False) -> None:
    """``torch.set_num_threads(n)`` — now if torch is loaded, else when it is (through ``OMP_NUM_THREADS``,
    unless the user set that); ``None`` leaves torch's default. ``asked`` (``--threads``): an explicit count wins
    over an ``OMP_NUM_THREADS`` in the environment, so torch is loaded and set now."""
    if n is None:
        return
    torch = sys.modules.get("torch")
    if torch is None and asked:
        import torch
    if torch is not None:
        torch.set_num_threads(n)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(n))


def run_in_memory(cfg: RunConfig, evaluator=None, progress: bool = False, space=None, method=None) -> SearchState:
    """Run a search without a run directory (experiments sweeping many seeds); inherited weights, if any, live in
    a temporary directory."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="gptnas-weights-") as tmp:
        p = prepare(cfg, evaluator, weights_dir=tmp, space=space, method=method, progress=progress)
        try:
            return make_search(p).run()
        finally:
            close_map(p)


def close_map(p: Prepared) -> None:
    """Shut down a worker pool the toolbox's ``map`` may hold."""
    fn = getattr(p.toolbox.map, "func", p.toolbox.map)  # toolbox.register wraps in functools.partial
    close = getattr(fn, "close", None)
    if close:
        close()


class Checkpointer:
    """Writes a run directory: each evaluation the moment it arrives (``pending.jsonl``), and at most once per
    ``interval`` seconds (and whenever the search stops) the journals and the small checkpoint.

    Journals get only the new rows, then the checkpoint is replaced atomically (and fsynced), then the pending
    journal is emptied, so the cost does not grow with the run and a crash at any point loses at most the
    evaluations in flight: the search is deterministic, so a resume replays the generations since the last
    checkpoint, answering their evaluations from ``pending.jsonl`` at no evaluation cost. Checkpointing by time
    rather than by generation keeps a fast search (a table lookup per evaluation, a rename costing more than the
    evaluation) from spending its time on renames, while a slow one (training) still checkpoints every generation.
    Summary, HDF5 archive and plot are refreshed every ``snapshot_interval`` seconds for a person watching, and
    always at the end.
    """

    def __init__(self, rd: RunDir, p: Prepared, state: SearchState, interval: float = 1.0,
                 snapshot_interval: float = 30.0):
        self.rd, self.p = rd, p
        self.rows_done, self.records_done = len(state.archive), len(state.logbook)
        self.interval, self.snapshot_interval = interval, snapshot_interval
        self.last_snapshot = time.monotonic()
        self.last_checkpoint = -math.inf  # the first generation that evaluates something is checkpointed at once
        self.fingerprint = space_fingerprint(p.space)
        self.answers: dict = {}  # the search's answers journaled before a crash, not yet replayed
        self.force = False  # the next call writes, whatever the time (a study closing)

    def on_result(self, row: dict) -> None:
        self.rd.record_pending(row)

    def __call__(self, state: SearchState) -> None:
        now = time.monotonic()
        if self.force:
            self.force = False
        elif state.status == "running" and (len(state.archive) == self.rows_done
                                            or now - self.last_checkpoint < self.interval):
            return
        self.rd.evaluations.append(state.archive.rows[self.rows_done:], fsync=True)
        self.rd.generations.append([dict(r) for r in state.logbook[self.records_done:]], fsync=True)
        self.rows_done, self.records_done = len(state.archive), len(state.logbook)
        self.p.tick(state)
        self.rd.write_checkpoint({"search": state.to_dict(), "rngs": self.p.rngs.state(),
                                  "space_fingerprint": self.fingerprint}, fsync=True)
        # Results in but not yet told to the method (several workers), then a replay's answers not yet taken, in the
        # order they arrived: they stay journaled, so a crash now loses none.
        keep = list(state.arrived_rows) + list(self.answers.values())
        if keep:
            self.rd.pending.rewrite(keep)
        else:
            self.rd.pending.clear()  # those evaluations are in evaluations.jsonl and the checkpoint now
        self.last_checkpoint = now
        if now - self.last_snapshot >= self.snapshot_interval:
            write_results(self.p, self.rd, state)
            self.last_snapshot = now


def write_results(p: Prepared, rd: RunDir, state: SearchState) -> None:
    """The files a person reads: HDF5 archive, summary, convergence plot."""
    state.archive.write(rd.archive)
    llm = llm_cost(rd.path / "llm_exchanges.jsonl")
    p.tick(state)
    rd.write_summary(make_summary(p.cfg, state, space_fingerprint(p.space), llm, p.method.details(),
                                  p.table_fitness))
    space = p.cfg.space[len(PREFIX):] if is_object(p.cfg.space) else p.cfg.space
    target = f"{space}/{p.cfg.dataset}" if p.cfg.dataset else space
    plot_convergence(state.archive.rows, rd.convergence,
                     title=f"{p.method.label} on {target}, seed {p.cfg.seed}", fitness=fitness_name(p.cfg))


def new_state(cfg: RunConfig) -> SearchState:
    state = SearchState()
    state.archive.attrs = {"method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset,
                           "fitness": cfg.fitness, "seed": cfg.seed, "gptnas_version": __version__}
    return state


def check_new(out: str | None, overwrite: bool) -> None:
    """Fail before any work when ``out`` is taken (or is a run another process writes, or a file)."""
    if not out:
        raise ConfigError("a run needs a run directory: pass --out DIR (or out= in Python)")
    p = Path(out)
    refuse_file(p)
    if p.exists() and any(p.iterdir()):
        if not overwrite:
            hint = f"continue it with --resume {p}, " if (p / "config.yaml").is_file() else ""
            raise RunDirError(f"run directory {p} already exists: {hint}choose another --out, or pass --overwrite "
                              "to replace it")
        if (p / "config.yaml").exists():
            RunDir(p).lock().unlock()  # a live run is never replaced


def start(cfg: RunConfig, overwrite: bool = False, progress: bool = True, space=None, evaluator=None,
          method=None) -> tuple[RunDir, SearchState]:
    """Start a new run in ``cfg.out``; returns the run directory and the final state."""
    rd, p, state, answers, session = open_new(cfg, overwrite, progress, space, evaluator, method)
    try:
        return rd, _run(p, rd, state, progress, answers)
    finally:
        session.close()


def open_new(cfg: RunConfig, overwrite: bool = False, progress: bool = True, space=None, evaluator=None,
             method=None) -> tuple:
    """A new run directory ``cfg.out``, locked, its search prepared and not started: ``(run directory, Prepared,
    state, answers, Session)``; the caller closes the session."""
    opened = time.perf_counter()
    resolve_paths(cfg)
    check_new(cfg.out, overwrite)
    # The directory first (locked), so what preparing writes — principles, recorded LLM exchanges — has its place;
    # a run that cannot even be prepared leaves nothing behind.
    rd = RunDir.create(cfg.out, overwrite=overwrite).lock()
    try:
        p = prepare(cfg, evaluator, space=space, method=method, progress=progress, run_dir=rd.path)
    except BaseException:
        rd.unlock()
        shutil.rmtree(rd.path, ignore_errors=True)
        raise
    try:
        rd.write_config(cfg.to_dict())
        rd.write_started(cfg.to_dict(), space_fingerprint(p.space))
    except BaseException:
        rd.unlock()
        raise
    p.opened = opened
    session = Session(rd, p)
    log.info("gptnas %s: %s on %s/%s, budget %d, seed %d -> %s", __version__, p.method.label, cfg.space,
             cfg.dataset, cfg.search.budget, cfg.seed, rd.path)
    return rd, p, new_state(cfg), {}, session


def recorded_config(rd: RunDir, overrides: dict | None = None) -> dict:
    """The run's ``config.yaml``, refused when it was edited since the run started (but for the keys in
    :data:`~gptnas.config.RESUMABLE_CHANGES`), with ``overrides`` (dotted keys of
    :data:`~gptnas.config.RESUME_OVERRIDES`) applied."""
    recorded = rd.read_config()
    started = (rd.read_started() or {}).get("config")
    if started is not None:
        changed = changed_keys(started, recorded)
        if changed:
            shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed[:3]) + \
                (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")
            raise RunDirError(f"{rd.config} was changed since the run started ({shown}): put it back, or start a new "
                              f"run with --out (a larger budget is --resume {rd.path} --budget N)")
    for key, value in (overrides or {}).items():
        if value is None:
            raise ConfigError(f"{key}=null cannot be given when resuming: give the value (e.g. --budget 200)")
        if key not in RESUME_OVERRIDES:
            raise ConfigError(f"{key} cannot change when resuming (the run's config.yaml fixes it): resume takes "
                              f"{', '.join(RESUME_OVERRIDES)}; start a new run with --out for other settings")
        set_dotted(recorded, key, value)
    return recorded


def resume(path: str | Path, progress: bool = True, space=None, evaluator=None,
           method=None, overrides: dict | None = None) -> tuple[RunDir, SearchState]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none, or if the checkpoint
    is unreadable: the journals then answer every evaluation already made).

    ``space``, ``evaluator``, ``method``: the objects a run started from Python was given (required then).
    ``overrides``: ``{"search.budget": 200, "workers": 4}`` (see :data:`~gptnas.config.RESUME_OVERRIDES`); a larger
    budget continues a finished run, which then takes up where it stopped."""
    rd, p, state, answers, session = open_existing(path, progress, space, evaluator, method, overrides)
    try:
        return rd, _run(p, rd, state, progress, answers)
    finally:
        session.close()


def open_existing(path: str | Path, progress: bool = True, space=None, evaluator=None, method=None,
                  overrides: dict | None = None, wait: float = 0.0) -> tuple:
    """The run in ``path``, locked (waiting up to ``wait`` seconds for another process to release it), its search
    prepared from its last checkpoint and not started: ``(run directory, Prepared, state, answers, Session)`` (see
    :func:`resume`); the caller closes the session."""
    opened = time.perf_counter()
    rd = RunDir.open(path).lock(wait=wait)
    try:
        cfg = from_recorded(recorded_config(rd, overrides))
        cfg.out = str(rd.path.resolve())  # a moved run directory is where it is now
        damaged = None
        try:
            ck = rd.read_checkpoint()
        except DamagedCheckpoint as e:
            ck, damaged = None, str(e)
        rows, records, pending = rd.evaluations.read(), rd.generations.read(), rd.pending.read()
        if ck is not None and (len(rows) < ck["search"]["num_rows"] or len(records) < ck["search"]["num_records"]):
            ck, damaged = None, f"{rd.evaluations.path.name} holds {len(rows)} of the checkpoint's " \
                f"{ck['search']['num_rows']} evaluations (the others are evaluated again)"
        if overrides and "search.budget" in overrides:
            done = len({r["arch"] for r in (rows[:ck["search"]["num_rows"]] if ck else rows) + pending})
            budget = cfg.search.budget
            if isinstance(budget, int) and not isinstance(budget, bool) and budget < done:
                raise ConfigError(f"--budget {budget} is below the {done} evaluations this run has made: give at "
                                  f"least {done}")
        p = prepare(cfg, evaluator, space=space, method=method, progress=progress, run_dir=rd.path)
        state = new_state(cfg)
        for fp in ((ck or {}).get("space_fingerprint"), (rd.read_started() or {}).get("space_fingerprint")):
            if fp is not None and fp != space_fingerprint(p.space):
                raise RunDirError(f"the space given differs from the one the run in {rd.path} searched "
                                  f"({cfg.space}): pass the same space")
        if ck is not None:
            state = SearchState.from_dict(ck["search"], rows, records, parse=p.space.parse, budget=cfg.search.budget)
            p.rngs.set_state(ck["rngs"])
        else:
            # From the start: the search is deterministic, so every journaled evaluation is asked again, in order,
            # and answered from the journal (none is evaluated twice). They move into pending.jsonl first, so a
            # crash while this run replays them loses none.
            pending = rows + pending
            if damaged and rd.checkpoint.exists():
                rd.set_aside_checkpoint()
        answers = {r["arch"]: r for r in pending if r["arch"] not in state.cache}
        if ck is None and rows:
            rd.pending.rewrite(list(answers.values()))
        # Lines written after the checkpoint belong to generations that will be re-run: drop them.
        rd.evaluations.rewrite(state.archive.rows)
        rd.generations.rewrite([dict(r) for r in state.logbook])
        rd.recorded = len(state.archive) + len(answers)
        if overrides:
            if state.status == "complete" and state.evaluations < cfg.search.budget:
                state.status = "running"  # a larger budget: the finished run goes on
            if state.status == "time" and (cfg.search.budget_time is None or
                                           state.elapsed_s < parse_duration(cfg.search.budget_time)):
                state.status = "running"  # more time (or none set): the run stopped by its time budget goes on
            rd.write_config(cfg.to_dict())
            rd.write_started(cfg.to_dict(), space_fingerprint(p.space))
        p.opened, p.wall_before = opened, state.wall_s
        session = Session(rd, p)
    except BaseException:
        rd.unlock()
        raise
    if damaged:  # in the run's log.txt too
        log.warning("%s: rebuilding the run from its journals, %d evaluations answered from them (none "
                    "of them evaluated again)", damaged, len(answers))
    if overrides:
        log.info("resuming with %s", ", ".join(f"{k}={v}" for k, v in overrides.items()))
    log.info("resuming %s at generation %d, %d/%d evaluations (%d answered from the journal)", rd.path,
             state.generation, state.evaluations, cfg.search.budget, len(answers))
    return rd, p, state, answers, session


class Session:
    """A run directory this process holds: its lock, its log going to ``log.txt``, its worker pool; ``close``
    releases all three."""

    def __init__(self, rd: RunDir, p: Prepared):
        self.rd, self.p = rd, p
        self.handler = rd.attach_log()

    def close(self) -> None:
        try:
            close_map(self.p)
            logging.getLogger("gptnas").removeHandler(self.handler)
            self.handler.close()
        finally:
            self.rd.unlock()


def _run(p: Prepared, rd: RunDir, state: SearchState, progress: bool, answers: dict) -> SearchState:
    if state.status == "running":
        ck = Checkpointer(rd, p, state)
        search = make_search(p, on_checkpoint=ck, progress=progress, on_result=ck.on_result, answers=answers)
        ck.answers = search.answers  # what the replay has still to take: kept in pending.jsonl until it has
        try:
            search.run(state)
        except KeyboardInterrupt as stop:
            # a readable picture of the work so far, marked as such; the checkpoint (status running) resumes it
            status, state.status = state.status, "interrupted"
            try:
                write_results(p, rd, state)
            except BaseException:  # noqa: BLE001 - a second Ctrl-C (or what it broke: an import it cut short)
                log.debug("results not written: interrupted again", exc_info=True)  # exits at once, resumable
            finally:
                state.status = status
            raise stop
        except SearchFailed:
            write_results(p, rd, state)  # a readable picture of the work so far; the checkpoint is already safe
            raise
    elif state.status == "failed":
        write_results(p, rd, state)
        raise SearchFailed(f"the run in {rd.path} stopped because too many evaluations failed: fix the evaluator "
                           "and start a new run")
    write_results(p, rd, state)
    return state
