"""Source tasks: where transfer takes its knowledge from — another dataset or task of the run's benchmark table,
or the run directory of an earlier search. Never the target task itself.

GPT-NAS's ``--transfer-from`` (fine-tuning the GPT), LAPT's design principles and LM-Searcher's ranker training all
read sources through :func:`scored_architectures`: ``(genome, fitness)`` pairs, fitness being what that search
maximised (a table's validation accuracy; a run's fitness). Test accuracy is never read.

A source is refused when it is the target — by name, and by content where names differ (a dataset imported twice
under two names, a run on a copy of the target's table): :func:`check_not_target_content` compares the values (a
fingerprint of the sorted values, and each architecture's value where the spaces are the same) with the target's
table up front; :class:`SourceGuard` compares them with the target's first evaluations where the target has no table
(a user's fitness that reads a benchmark's numbers).
"""
from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConfigError, GptnasError


def is_run_dir(source) -> bool:
    """Whether ``source`` names a run directory (a folder with ``config.yaml``)."""
    return isinstance(source, (str, Path)) and (Path(source) / "config.yaml").is_file()


def check_source(source: str, target: Optional[str], flag: str) -> None:
    """Refuse the target itself as a source (one line naming the flag)."""
    if target is not None and str(source) == str(target):
        raise ConfigError(f"{flag} {source} is the target dataset itself: transfer must come from another task "
                          "(e.g. --transfer-from cifar10 while searching imagenet16-120)")


def values_fingerprint(scored) -> str:
    """A fingerprint of a scored table's content, ``scored = [(genome, value), ...]``: its values, rounded to 6
    decimals and sorted, so the same numbers under another name, order or encoding match."""
    vals = sorted(round(float(v), 6) for _, v in scored if math.isfinite(float(v)))
    return hashlib.sha1(repr(vals).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=16)
def _target_table(space: str, data, dataset: str):
    from ..bench import scored_table
    scored = scored_table(space, data, dataset)
    return values_fingerprint(scored), {tuple(g): round(float(v), 6) for g, v in scored}


def target_table(ctx):
    """``(values fingerprint, {genome tuple: value})`` of the target's benchmark table, or None (no table)."""
    if ctx is None or ctx.fitness != "benchmark" or not ctx.dataset:
        return None
    try:
        return _target_table(ctx.space_name or ctx.space.name, ctx.data, ctx.dataset)
    except (GptnasError, OSError):
        return None


def check_not_target_content(label: str, scored, ctx, flag: str, same_space: bool = True) -> None:
    """Refuse a source whose content is the target's table under another name: the same values, or (sources of the
    target's space) nine in ten or more of its architectures scored exactly as the target's table scores them."""
    t = target_table(ctx)
    if t is None or not scored:
        return
    fp, table = t
    if values_fingerprint(scored) == fp:
        raise ConfigError(f"{flag} {label}: its values are those of the target {ctx.dataset} (the same table under "
                          "another name): transfer must come from another task")
    if same_space:
        same = sum(table.get(tuple(g)) == round(float(v), 6) for g, v in scored)
        if same >= max(5, 0.9 * len(scored)):
            raise ConfigError(f"{flag} {label}: {same} of its {len(scored)} architectures score exactly as in the "
                              f"target {ctx.dataset}'s table, so it is the target under another name: transfer "
                              "must come from another task")


class SourceGuard:
    """A learner (:class:`~gptnas.methods.base.Learner`'s hooks) that refuses sources whose content turns out to be
    the target's, where the target has no table to compare up front (a user's fitness that reads a benchmark's
    numbers). It compares architectures, not bare values: a fitness with few distinct values (integers, halves) would
    find every value in any large table. Once ``after`` of the target's successful evaluations are architectures a
    source also scores, and every one of them scores exactly (to 6 decimals) as in that source, the search stops with
    a one-line error; one that scores otherwise clears the source. A source that shares no architecture with the
    first ``10 * after`` evaluations is not checked (another encoding: nothing to compare).

    Args:
        sources: ``[(label, [(genome, value), ...]), ...]`` the method read.
        flag: how the error names the option.
    """

    name = "source_guard"

    def __init__(self, sources, flag: str, after: int = 5):
        self.tables = [(label, {tuple(g): round(float(v), 6) for g, v in scored}) for label, scored in sources]
        self.flag, self.after, self.checked = flag, after, False
        self.name = f"source_guard {flag}"  # its checkpoint entry; a wrapper's guard beside its method's

    def begin_generation(self, history) -> None:
        pass

    def end_generation(self, population, history) -> None:
        if self.checked:
            return
        done = history.successful()
        open_ = 0
        for label, table in self.tables:
            shared = [(table[tuple(e.genome)], round(float(e.fitness), 6)) for e in done if tuple(e.genome) in table]
            if any(a != b for a, b in shared):
                continue  # scores otherwise: not the target
            if len(shared) >= self.after:
                self.checked = True
                raise ConfigError(f"{self.flag} {label}: the target's first {len(shared)} architectures that "
                                  f"{label} also holds score exactly as there, so the target is {label} under "
                                  "another name: leave it out of the sources (name them, or train on synthetic "
                                  "problems)")
            open_ += 1
        if not open_ or len(done) >= 10 * self.after:
            self.checked = True

    def state_dict(self) -> dict:
        return {"checked": self.checked}

    def load_state_dict(self, state: dict) -> None:
        self.checked = bool(state.get("checked", False))


def guard(ctx, sources, flag: str) -> Optional[SourceGuard]:
    """A :class:`SourceGuard` over ``sources`` (names read with :func:`scored_architectures`) where the target has no
    table to compare them with up front (a user's fitness); None where it has one, or nothing was read."""
    if not sources or target_table(ctx) is not None:
        return None
    read = []
    for src in sources:
        try:
            read.append((str(src), scored_architectures(src, ctx, flag)))
        except GptnasError:  # the method reads it itself and says what is wrong
            return None
    return SourceGuard(read, flag)


def _run_archive(source: str, target: Optional[str], flag: str, space):
    from ..storage.archive import read_archive
    from ..storage.rundir import RunDir

    rd = RunDir.open(source)
    recorded = rd.read_config()
    src_ds = recorded.get("dataset")
    if target is not None and src_ds == target:
        raise ConfigError(f"run {source} searched {target}, the target itself: transfer must come from another task")
    check_same_space(rd, recorded, space, flag)
    a = read_archive(rd.archive)
    ok = [i for i in range(len(a["arch"])) if not a["failed"][i] and np.isfinite(a["fitness"][i])]
    return [(space.parse(a["arch"][i]), float(a["fitness"][i])) for i in ok]


def check_same_space(rd, recorded: dict, space, flag: str) -> None:
    """Refuse a source run of another space: its architectures would be read as this space's (TransNAS-Bench-101's
    operation indices as NAS-Bench-201's). Compared by the space's description where the run recorded it
    (``summary.json``), else by name."""
    from ..spaces.base import fingerprint
    theirs = str(recorded.get("space") or "")
    theirs_name = theirs.split(":", 1)[1] if theirs.startswith("python:") else theirs
    try:
        fp = rd.read_summary().get("space_fingerprint")
    except GptnasError:
        fp = None
    if fp:
        same = fp == fingerprint(space)
    else:  # a run from before fingerprints: by name, where the name says which space (not module:callable)
        same = theirs_name == space.name or (":" in theirs and not theirs.startswith("python:"))
    if not same:
        raise ConfigError(f"{flag} {rd.path}: that run searched space {theirs_name!r}, and this search is on "
                          f"{space.name!r}: a source must be a run on the same space (another task)")


def scored_architectures(source: str, ctx, flag: str = "--transfer-from") -> list[tuple[list, float]]:
    """Every successful ``(genome, fitness)`` of ``source``: a run directory's archive (in evaluation order), or a
    dataset of the run's benchmark table (validation accuracy, in the table's order).

    Args:
        source: a run directory, or a dataset / task name of the table that ``ctx.data`` names.
        ctx: the :class:`~gptnas.methods.base.SearchContext` of the target search (its space, dataset, data).
        flag: how errors name the option (``--transfer-from``, ``--principles-from``, ``--rank-from``).
    """
    check_source(source, ctx.dataset, flag)
    if is_run_dir(source):
        scored = _run_archive(source, ctx.dataset, flag, ctx.space)
        check_not_target_content(str(source), scored, ctx, flag)
        return scored
    if ctx.fitness != "benchmark":
        raise ConfigError(f"{flag} {source}: with fitness {ctx.fitness} give the run directory of a search on the "
                          "source task")
    from ..bench import scored_table
    try:
        scored = scored_table(ctx.space_name or ctx.space.name, ctx.data, source)
    except ConfigError as e:
        raise ConfigError(f"{flag} {e} nor a run directory") from None
    check_not_target_content(str(source), scored, ctx, flag)
    return scored


def top_genomes(source: str, ctx, n: int, flag: str = "--transfer-from") -> list[list[int]]:
    """The ``n`` best genomes of ``source`` by its fitness, best first (ties: the source's order)."""
    scored = scored_architectures(source, ctx, flag)
    order = sorted(range(len(scored)), key=lambda i: -scored[i][1])[:n]
    return [scored[i][0] for i in order]
