"""Everything a search knows between two generations, and how it becomes a checkpoint."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from deap import tools

from ..core.history import History
from ..core.types import make_individual
from ..evaluators.base import EvalResult
from ..storage.archive import Archive


@dataclass
class SearchState:
    """Mutable state of one search.

    The checkpoint (:meth:`to_dict`) holds the small part — population, hall of fame, counters, the learners'
    states; the archive rows and logbook records, which grow with the run, live in append-only journals and are
    handed back to :meth:`from_dict` on resume. The cache and the :class:`~gptnas.core.history.History` (the view
    methods read: no test accuracy) are rebuilt from the archive rows.
    """

    generation: int = 0
    population: list | None = None          # Individuals, or None before the initial population
    cache: dict = field(default_factory=dict)  # arch key -> EvalResult (answers repeats without charging budget)
    archive: Archive = field(default_factory=Archive)
    hof: tools.HallOfFame = field(default_factory=lambda: tools.HallOfFame(10))
    logbook: tools.Logbook = field(default_factory=tools.Logbook)
    stall: int = 0                           # generations in a row that evaluated nothing new
    elapsed_s: float = 0.0                   # the search's clock (virtual on the simulated one), over sessions
    wall_s: float = 0.0                      # real seconds of the run's sessions, opening to last write, summed
    empty_generations: int = 0               # generations whose proposals were all evaluated before (no budget)
    status: str = "running"                  # running | complete | stalled | generations | time | failed
    learner_states: dict = field(default_factory=dict)  # learner name -> its state_dict, at the last checkpoint
    best_index: int | None = None            # archive row with the highest fitness (first on ties)
    num_failed: int = 0
    dropped: dict = field(default_factory=dict)  # operator -> children the space could not key (never evaluated)
    open: list | None = None                 # with several workers: the units asked and not yet told (packed)
    cancelled: int = 0                       # evaluations in flight stopped at the time budget (never recorded)
    arrived_rows: list = field(default_factory=list)  # results in but not yet told (journaled; not checkpointed)
    history: History = field(default_factory=lambda: History(str.split))

    @property
    def evaluations(self) -> int:
        """Unique architectures evaluated so far (what the budget counts)."""
        return len(self.archive)

    def add_evaluation(self, key: str, result: EvalResult, eval_time_s: float, elapsed_s: float,
                       origin: str, generation: int | None = None, parent: str | None = None) -> None:
        """Record one new evaluation in the cache and the archive, keeping the incumbent up to date;
        ``generation``: the one that asked for it (default: the current one); ``parent``: the key of the
        architecture it was made from."""
        gen = self.generation if generation is None else generation
        self.cache[key] = result
        self.archive.append(gen, key, result, eval_time_s, elapsed_s, origin, parent)
        self._consider(len(self.archive) - 1)
        self.history.append(key, result.fitness, bool(result.failed), gen, origin)

    def _consider(self, i: int) -> None:
        r = self.archive.rows[i]
        self.num_failed += bool(r["failed"]) or not math.isfinite(r["fitness"])
        if not r["failed"] and math.isfinite(r["fitness"]) and \
                (self.best_index is None or r["fitness"] > self.archive.rows[self.best_index]["fitness"]):
            self.best_index = i

    def best_row(self) -> dict | None:
        """The archive row with the highest fitness (the first one on ties), or None."""
        return None if self.best_index is None else self.archive.rows[self.best_index]

    # Checkpointing: individuals become plain data, so a checkpoint does not depend on creator classes.
    def to_dict(self) -> dict:
        pack = lambda inds: [(list(i), i.fitness.values[0] if i.fitness.valid else None, i.origin) for i in inds]
        return {
            "generation": self.generation,
            "population": None if self.population is None else pack(self.population),
            "num_rows": len(self.archive), "num_records": len(self.logbook),
            "archive_attrs": self.archive.attrs,
            "hof": {"maxsize": self.hof.maxsize, "items": pack(self.hof.items)},
            "logbook_header": self.logbook.header,
            "stall": self.stall, "elapsed_s": self.elapsed_s, "status": self.status, "wall_s": self.wall_s,
            "empty_generations": self.empty_generations,
            "learner_states": self.learner_states, "dropped": dict(self.dropped),
            **({"open": self.open} if self.open else {}), **({"cancelled": self.cancelled} if self.cancelled else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, rows: list[dict], records: list[dict], parse=str.split,
                  budget: int | None = None) -> "SearchState":
        """Rebuild from a checkpoint plus the first ``d["num_rows"]`` archive rows and logbook records; ``parse``
        (the space's) turns keys back into genomes for the History."""
        if len(rows) < d["num_rows"] or len(records) < d["num_records"]:
            raise ValueError("journal shorter than the checkpoint")
        unpack = lambda items: [make_individual(g, o, f) for g, f, o in items]
        learners = d.get("learner_states")
        if learners is None:  # checkpoints before learners had names: the GPT's state was the method's
            learners = {"gpt": d["method_state"]} if d.get("method_state") else {}
        st = cls(generation=d["generation"], stall=d["stall"], elapsed_s=d["elapsed_s"], status=d["status"],
                 learner_states=learners, history=History(parse, budget), dropped=dict(d.get("dropped", {})),
                 open=d.get("open"), cancelled=d.get("cancelled", 0), wall_s=d.get("wall_s", 0.0),
                 empty_generations=d.get("empty_generations", 0))
        st.population = None if d["population"] is None else unpack(d["population"])
        st.archive = Archive(rows[:d["num_rows"]], d["archive_attrs"])
        for i, r in enumerate(st.archive.rows):
            st.cache[r["arch"]] = row_result(r)
            st._consider(i)
            st.history.append(r["arch"], r["fitness"], bool(r["failed"]), r["generation"], r["origin"])
        st.history.generation = st.generation
        st.hof = tools.HallOfFame(d["hof"]["maxsize"])
        for ind in unpack(d["hof"]["items"]):  # stored best first; insert keeps that order
            st.hof.insert(ind)
        st.logbook = tools.Logbook()
        st.logbook.header = d["logbook_header"]
        st.logbook.extend(records[:d["num_records"]])
        return st


def row_result(row: dict) -> EvalResult:
    """The EvalResult an archive row was made from."""
    extras = json.loads(row["extras"])
    if not math.isnan(row["test"]):
        extras["test"] = row["test"]
    if not row["failed"] and not math.isfinite(row["fitness"]):  # a row of a run from before NaN was a failure
        return EvalResult.failure(f"fitness {row['fitness']!r} is not a finite number", **extras)
    return EvalResult(row["fitness"], extras, row["failed"] or None)


def finite_fitnesses(individuals) -> list[float]:
    """The finite fitness values of ``individuals`` (single objective); read from ``wvalues``, which the engine's
    per-generation statistics touch for every individual, without DEAP's tuple-building ``values`` property."""
    out = []
    for i in individuals:
        f = i.fitness
        if f.wvalues:
            v = f.wvalues[0] / f.weights[0]
            if math.isfinite(v):
                out.append(v)
    return out
