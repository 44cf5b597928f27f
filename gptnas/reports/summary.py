"""``summary.json``: the one-glance result of a run."""
from __future__ import annotations

import math

from .. import __version__


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def make_summary(cfg, state) -> dict:
    """Summary of a run: method, space, dataset, seed, budget, evaluations and the best-by-fitness architecture.

    ``best.fitness`` is the validation accuracy (%) or proxy score the search maximised; ``best.test`` is the test
    accuracy (%) of that same architecture, or null when the evaluator has none.
    """
    best = state.best_row()
    return {
        "method": cfg.search.method, "space": cfg.space, "dataset": cfg.dataset, "fitness_kind": cfg.fitness,
        "seed": cfg.seed, "budget": cfg.search.budget, "evaluations": state.evaluations,
        "generations": state.generation, "status": state.status,
        "best": None if best is None else {
            "arch": best["arch"], "fitness": best["fitness"], "test": _num(best["test"]),
            "evaluation": state.best_index, "generation": best["generation"], "origin": best["origin"],
        },
        "failed_evaluations": state.num_failed,
        "wall_time_s": round(state.elapsed_s, 3), "gptnas_version": __version__,
    }
