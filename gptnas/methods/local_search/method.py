"""Local search (White, Zela, Ru, Liu, Hutter: *Local search is state of the art for neural architecture search
benchmarks*, 2021): from the best architecture so far, evaluate its neighbours in random order and move to the first
one that is better; when every neighbour was told and none is better (a local optimum), restart from a random
architecture.

Neighbours are the single-position changes that are members of the space (a fixed-length space: ``options``, or a
sub-space's ``allowed``; a user's ``is_valid`` is respected). A space without ``options`` (block chains, a user's
``sample`` / ``is_valid`` space), or a member that no single change leaves, offers up to ``neighbours`` distinct
members its own ``mutate`` reaches instead. Asked for one child at a time (steady-state), so every worker evaluates
a neighbour; a move is made on the first better result told, in the engine's order. See README.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...core.types import make_individual
from ..base import Learner, Method, check_int

TRIES = 100  # draws for an unproposed random member before settling for a repeat (rare members must not hang)


class Walk(Learner):
    """Where the walk stands (checkpointed under ``local_search``, so a resume continues it identically).

    centre / fitness: the current centre's key and fitness (None / -inf: a restart not told yet); queue: the
    centre's neighbours not yet proposed, in their drawn order; pending: key -> epoch of each proposal whose result
    was not read yet; epoch: bumped at every restart (results proposed before it no longer move the walk); seen:
    history entries read so far; optimum: the last local optimum left by a restart (None before the first).
    """

    name = "local_search"

    def __init__(self):
        self.centre: Optional[str] = None
        self.fitness = float("-inf")
        self.queue: list[str] = []
        self.pending: dict[str, int] = {}
        self.epoch = 0
        self.seen = 0
        self.moves = 0
        self.restarts = 0
        self.optimum: Optional[str] = None

    def state_dict(self) -> dict:
        # copies: the engine keeps this dict while the walk goes on
        return {"centre": self.centre, "fitness": self.fitness, "queue": list(self.queue),
                "pending": dict(self.pending), "epoch": self.epoch, "seen": self.seen, "moves": self.moves,
                "restarts": self.restarts, "optimum": self.optimum}

    def load_state_dict(self, state: dict) -> None:
        self.centre, self.fitness = state["centre"], state["fitness"]
        self.queue, self.pending = list(state["queue"]), dict(state["pending"])
        self.epoch, self.seen = state["epoch"], state["seen"]
        self.moves, self.restarts, self.optimum = state["moves"], state["restarts"], state["optimum"]


@dataclass
class LocalSearch(Method):
    """Args:
        num_init: random architectures evaluated before the first move (NASLib's ``num_init``, 10); the best of
            them is the first centre.
        neighbours: for a space without ``options`` (or a member no single change leaves), how many distinct
            ``space.mutate`` results stand for the neighbourhood; None: twice the genome's length.
    """

    name = "local_search"
    steady_state = True  # one child per ask: every free worker evaluates a neighbour
    num_init: int = 10
    neighbours: Optional[int] = None

    def validate(self) -> None:
        check_int(self.name, "num_init", self.num_init)
        if self.neighbours is not None:
            check_int(self.name, "neighbours", self.neighbours)

    def bind(self, ctx) -> None:
        super().bind(ctx)
        self.walk = Walk()
        self._known: dict[str, float] = {}  # key -> fitness of the history read so far (derived, not state)
        self._known_n = 0

    def learners(self):
        return [self.walk]

    def initial(self, toolbox, history):
        proposed = history.proposed()
        out = []
        for _ in range(self.num_init):
            ind = self._random(proposed)
            proposed.add(self.space.key(ind))
            out.append(ind)
        return out

    def survivors(self, toolbox, population, evaluated, history):
        return evaluated  # the walk reads what it was told from the history (see _read)

    def offspring(self, toolbox, population, history):
        w, space = self.walk, self.space
        self._read(history)
        proposed = history.proposed()
        while w.queue:
            key = w.queue.pop(0)
            if key in self._known:  # evaluated already: its result is known at no cost
                if self._known[key] > w.fitness:
                    self._move(key, self._known[key])
                continue
            if key in proposed:  # in flight: its result, when told, counts for this centre
                if key in w.pending:
                    w.pending[key] = w.epoch
                continue
            child = make_individual(space.parse(key), "local")
            child.parent_key = w.centre  # for evaluators that inherit weights
            w.pending[key] = w.epoch
            return [child]
        if w.epoch not in w.pending.values():
            # every neighbour told and none better (or nothing of this start left in flight): a local optimum
            w.epoch += 1
            if w.centre is not None:
                w.restarts, w.optimum = w.restarts + 1, w.centre
            w.centre, w.fitness = None, float("-inf")
        # a restart, or workers free while the centre's last neighbours are in flight: a random member of this epoch
        return [self._random(proposed)]

    # The walk ------------------------------------------------------------------------------------------------------
    def _read(self, history) -> None:
        """Take in the results told since the last ask, in the order told: the first better one of this epoch
        moves the centre (a later one moves it again only if it is better still)."""
        w = self.walk
        for i in range(self._known_n, len(history)):  # after a resume: the whole history, once
            e = history[i]
            self._known[e.key] = float("-inf") if e.failed else e.fitness
        self._known_n = len(history)
        best = None
        for i in range(w.seen, len(history)):
            e = history[i]
            epoch = w.pending.pop(e.key, None)
            if epoch == w.epoch and not e.failed and e.fitness > (best[1] if best else w.fitness):
                best = (e.key, e.fitness)
        w.seen = len(history)
        if best is not None:
            self._move(*best)

    def _move(self, key: str, fitness: float) -> None:
        w = self.walk
        w.moves += int(w.centre is not None)
        w.centre, w.fitness = key, fitness
        w.queue = self._neighbours(self.space.parse(key))

    def _neighbours(self, genome: list) -> list[str]:
        """The centre's neighbours' keys, in an order drawn from the run's generator."""
        space, rng = self.space, self.rngs.py
        options = getattr(space, "options", None)
        keys: list[str] = []
        if options is not None and len(options) == len(genome):
            allowed = getattr(space, "allowed", None) or [range(len(o)) for o in options]
            for pos, values in enumerate(allowed):
                for v in values:
                    if v != genome[pos]:
                        child = list(genome)
                        child[pos] = v
                        if space.is_valid(child):
                            keys.append(space.key(child))
        if not keys:  # no options, or no single change is a member: what the space's own mutation reaches
            n = self.neighbours or 2 * max(1, len(genome))
            seen = {space.key(genome)}
            for _ in range(10 * n):  # bounded: a mutation that keeps returning the parent ends it
                if len(keys) >= n:
                    break
                child = list(space.mutate(list(genome), rng))
                if space.is_valid(child):
                    k = space.key(child)
                    if k not in seen:
                        seen.add(k)
                        keys.append(k)
        rng.shuffle(keys)
        return keys

    def _random(self, proposed: set):
        """A random member not proposed yet (after TRIES draws: a member anyway, a repeat that costs nothing)."""
        space, rng = self.space, self.rngs.py
        genome = None
        for _ in range(TRIES):
            g = list(space.sample(rng))
            if not space.is_valid(g):
                continue
            genome = g
            if space.key(g) not in proposed:
                break
        if genome is None:
            genome = list(space.sample(rng))
        ind = make_individual(genome, "random")
        key = space.key(ind)
        if key not in proposed:
            self.walk.pending[key] = self.walk.epoch
        return ind
