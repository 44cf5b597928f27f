"""``summary.json``: the one-glance result of a run."""
from __future__ import annotations

import math

from .. import __version__


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def fitness_name(cfg) -> str:
    """What the search maximised, in words: ``validation accuracy (%)``, ``validation negative L2 loss``,
    ``synflow score``, or ``fitness`` for a user's own."""
    kind = getattr(cfg, "fitness_kind", cfg.fitness)
    if kind == "benchmark":
        from ..bench import fitness_name as table_fitness
        return table_fitness(cfg.space, cfg.dataset)
    if kind == "train":
        return "validation accuracy (%)"
    if kind == "proxy":
        return f"{cfg.fitness} score"
    return "fitness"


def top_rows(state, table=None, n: int = 10) -> list[dict]:
    """The ``n`` best evaluations by fitness (first evaluated first on ties): ``arch``, ``fitness``, ``test``,
    ``evaluation`` (its row in the archive, from 0) and, where ``table`` (every architecture's fitness in the
    benchmark table, float (N,)) is given, ``rank`` (1: the table's best) and ``regret`` (the table's best fitness
    minus this one's, in the fitness's units)."""
    import numpy as np
    rows = [(i, r) for i, r in enumerate(state.archive.rows)
            if not r["failed"] and r["fitness"] is not None and math.isfinite(r["fitness"])]
    rows.sort(key=lambda ir: (-ir[1]["fitness"], ir[0]))
    out = []
    for i, r in rows[:n]:
        row = {"arch": r["arch"], "fitness": r["fitness"], "test": _num(r["test"]), "evaluation": i}
        if table is not None:
            row["rank"] = int(np.count_nonzero(table > r["fitness"])) + 1
            row["regret"] = float(table.max() - r["fitness"])
        out.append(row)
    return out


def make_summary(cfg, state, space_fp: str | None = None, llm: dict | None = None,
                 details: dict | None = None, table=None) -> dict:
    """Summary of a run: method, space, dataset, seed, budget, evaluations and the best-by-fitness architecture.

    What each count means: ``evaluations`` are the distinct architectures evaluated (what the budget counts; a
    failed one included); ``generations`` the method's asks (REA: one child each; the GA: one offspring
    population), of which ``generations_without_new`` proposed only architectures evaluated before (answered from
    the cache, no budget spent); ``best.evaluation`` is the best's row in the archive and ``evaluations.jsonl``
    (from 0) and ``best.found_after`` the evaluations made when it was found (from 1, as the log and progress bar
    count). ``wall_time_s`` is real time from opening the run (configuration read, data loaded) to this summary,
    summed over sessions (Python's own start-up not counted); ``search_time_s`` is the search's clock, the virtual
    one on ``--parallel simulated`` (``clock: simulated``).

    ``best.fitness`` is the validation accuracy (%) or proxy score the search maximised; ``best.test`` is the test
    accuracy (%) of that same architecture, or null when the evaluator has none. ``top``: the 10 best
    (:func:`top_rows`), with their rank and regret in the benchmark table where ``table`` (every architecture's
    fitness in it) is given. ``space_fp``: the space's
    :func:`~gptnas.spaces.base.fingerprint`, which a transfer from this run checks against its own space.
    ``llm``: the LLM's cost (:func:`~gptnas.lm.llm.llm_cost`: calls, prompt and completion tokens, seconds), where an
    LLM was asked. ``details``: what the method says of this run (:meth:`~gptnas.methods.base.Method.details`: its
    preset, what stood in for a paper's LLM, what its ranker learned from).
    """
    best = state.best_row()
    table = table if table is not None and len(table) else None
    top = top_rows(state, table)
    return {
        "method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset, "fitness_kind": cfg.fitness,
        "fitness_name": fitness_name(cfg),
        "seed": cfg.seed, "budget": cfg.search.budget, "evaluations": state.evaluations,
        "generations": state.generation, "generations_without_new": state.empty_generations,
        "status": state.status,
        "best": None if best is None else {
            "arch": best["arch"], "fitness": best["fitness"], "test": _num(best["test"]),
            "evaluation": state.best_index, "found_after": state.best_index + 1, "generation": best["generation"],
            "origin": best["origin"],
            **({"rank": top[0]["rank"], "regret": top[0]["regret"]} if table is not None else {}),
        },
        "top": top,
        **({"table": {"architectures": int(len(table)), "best_fitness": float(table.max())}}
           if table is not None else {}),
        "failed_evaluations": state.num_failed,
        **({"dropped_children": dict(state.dropped)} if getattr(state, "dropped", None) else {}),
        **({"cancelled_at_time_budget": state.cancelled} if getattr(state, "cancelled", 0) else {}),
        **({"note": "TransNAS-Bench-101's table has one number per task, from the validation split: it is the "
                    "fitness, and there is no test accuracy"} if cfg.space == "tnb101" else {}),
        "wall_time_s": round(state.wall_s, 3),
        "search_time_s": round(state.elapsed_s, 3),
        **({"clock": "simulated"} if getattr(cfg, "parallel", None) == "simulated" else {}),
        "gptnas_version": __version__,
        **({"space_fingerprint": space_fp} if space_fp else {}),
        **({"llm": llm} if llm else {}),
        **({"method_details": details} if details else {}),
    }
