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


def make_summary(cfg, state, space_fp: str | None = None, llm: dict | None = None,
                 details: dict | None = None) -> dict:
    """Summary of a run: method, space, dataset, seed, budget, evaluations and the best-by-fitness architecture.

    ``best.fitness`` is the validation accuracy (%) or proxy score the search maximised; ``best.test`` is the test
    accuracy (%) of that same architecture, or null when the evaluator has none. ``space_fp``: the space's
    :func:`~gptnas.spaces.base.fingerprint`, which a transfer from this run checks against its own space.
    ``llm``: the LLM's cost (:func:`~gptnas.lm.llm.llm_cost`: calls, prompt and completion tokens, seconds), where an
    LLM was asked. ``details``: what the method says of this run (:meth:`~gptnas.methods.base.Method.details`: its
    preset, what stood in for a paper's LLM, what its ranker learned from).
    """
    best = state.best_row()
    return {
        "method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset, "fitness_kind": cfg.fitness,
        "fitness_name": fitness_name(cfg),
        "seed": cfg.seed, "budget": cfg.search.budget, "evaluations": state.evaluations,
        "generations": state.generation, "status": state.status,
        "best": None if best is None else {
            "arch": best["arch"], "fitness": best["fitness"], "test": _num(best["test"]),
            "evaluation": state.best_index, "generation": best["generation"], "origin": best["origin"],
        },
        "failed_evaluations": state.num_failed,
        **({"dropped_children": dict(state.dropped)} if getattr(state, "dropped", None) else {}),
        **({"cancelled_at_time_budget": state.cancelled} if getattr(state, "cancelled", 0) else {}),
        **({"note": "TransNAS-Bench-101's table has one number per task, from the validation split: it is the "
                    "fitness, and there is no test accuracy"} if cfg.space == "tnb101" else {}),
        "wall_time_s": round(state.elapsed_s, 3), "gptnas_version": __version__,
        **({"space_fingerprint": space_fp} if space_fp else {}),
        **({"llm": llm} if llm else {}),
        **({"method_details": details} if details else {}),
    }
