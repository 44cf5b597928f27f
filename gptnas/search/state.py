"""Everything a search knows between two generations, and how it becomes a checkpoint."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from deap import tools

from ..evaluators.base import EvalResult
from ..storage.archive import Archive
from .types import make_individual


@dataclass
class SearchState:
    """Mutable state of one search; everything here goes into the checkpoint."""

    generation: int = 0
    population: list | None = None          # Individuals, or None before the initial population
    cache: dict = field(default_factory=dict)  # arch key -> EvalResult (answers repeats without charging budget)
    archive: Archive = field(default_factory=Archive)
    hof: tools.HallOfFame = field(default_factory=lambda: tools.HallOfFame(10))
    logbook: tools.Logbook = field(default_factory=tools.Logbook)
    stall: int = 0                           # generations in a row that evaluated nothing new
    elapsed_s: float = 0.0                   # wall time summed over all sessions of the run
    status: str = "running"                  # running | complete | stalled | generations
    method_state: dict = field(default_factory=dict)

    @property
    def evaluations(self) -> int:
        """Unique architectures evaluated so far (what the budget counts)."""
        return len(self.archive)

    def best_row(self) -> dict | None:
        """The archive row with the highest fitness (the first one on ties), or None."""
        best = None
        for r in self.archive.rows:
            if not r["failed"] and (best is None or r["fitness"] > best["fitness"]):
                best = r
        return best

    # Checkpointing: individuals become plain data, so a checkpoint does not depend on creator classes.
    def to_dict(self) -> dict:
        pack = lambda inds: [(list(i), i.fitness.values[0] if i.fitness.valid else None, i.origin) for i in inds]
        return {
            "generation": self.generation,
            "population": None if self.population is None else pack(self.population),
            "cache": {k: (r.fitness, r.extras, r.failed) for k, r in self.cache.items()},
            "archive": {"rows": self.archive.rows, "attrs": self.archive.attrs},
            "hof": {"maxsize": self.hof.maxsize, "items": pack(self.hof.items)},
            "logbook": list(self.logbook), "logbook_header": self.logbook.header,
            "stall": self.stall, "elapsed_s": self.elapsed_s, "status": self.status,
            "method_state": self.method_state,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SearchState":
        unpack = lambda items: [make_individual(g, o, f) for g, f, o in items]
        st = cls(generation=d["generation"], stall=d["stall"], elapsed_s=d["elapsed_s"], status=d["status"],
                 method_state=d["method_state"])
        st.population = None if d["population"] is None else unpack(d["population"])
        st.cache = {k: EvalResult(f, e, fl) for k, (f, e, fl) in d["cache"].items()}
        st.archive = Archive(d["archive"]["rows"], d["archive"]["attrs"])
        st.hof = tools.HallOfFame(d["hof"]["maxsize"])
        for ind in unpack(d["hof"]["items"]):  # items are stored best first; insert keeps order
            st.hof.insert(ind)
        st.logbook = tools.Logbook()
        st.logbook.header = d["logbook_header"]
        st.logbook.extend(d["logbook"])
        return st


def finite_fitnesses(individuals) -> list[float]:
    return [i.fitness.values[0] for i in individuals if i.fitness.valid and math.isfinite(i.fitness.values[0])]
