"""Source tasks: where transfer takes its knowledge from — another dataset or task of the run's benchmark table,
or the run directory of an earlier search. Never the target task itself.

GPT-NAS's ``--transfer-from`` (fine-tuning the GPT), LAPT's design principles and LM-Searcher's ranker training all
read sources through :func:`scored_architectures`: ``(genome, fitness)`` pairs, fitness being what that search
maximised (a table's validation accuracy; a run's fitness). Test accuracy is never read.
"""
from __future__ import annotations

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
        return _run_archive(source, ctx.dataset, flag, ctx.space)
    if ctx.fitness != "benchmark":
        raise ConfigError(f"{flag} {source}: with fitness {ctx.fitness} give the run directory of a search on the "
                          "source task")
    from ..bench import scored_table
    try:
        return scored_table(ctx.space_name or ctx.space.name, ctx.data, source)
    except ConfigError as e:
        raise ConfigError(f"{flag} {e} nor a run directory") from None


def top_genomes(source: str, ctx, n: int, flag: str = "--transfer-from") -> list[list[int]]:
    """The ``n`` best genomes of ``source`` by its fitness, best first (ties: the source's order)."""
    scored = scored_architectures(source, ctx, flag)
    order = sorted(range(len(scored)), key=lambda i: -scored[i][1])[:n]
    return [scored[i][0] for i in order]
