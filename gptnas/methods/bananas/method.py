"""BANANAS (White, Neiswanger, Savani, AAAI 2021): Bayesian optimisation with an ensemble of neural predictors.

``num_init`` random architectures first; then, each time ``k`` new results are in (or the queue runs dry): train
``ensemble`` MLPs on every successful evaluation so far (:mod:`.predictor`, over :mod:`.encodings`), draw about
``candidates`` unseen members by mutating the ``parents`` best architectures (NASLib's ``mutation`` acquisition
optimiser), score each by independent Thompson sampling and queue the ``k`` best. Each ask proposes the next queued
candidate that is neither evaluated nor in flight, so every worker is fed one at a time (steady state).

State: the queue and the size of the history it was built from, a :class:`Learner` the engine checkpoints; every
draw comes from ``rngs.py`` (the training seed too), so a resume retrains exactly as the run would have.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.types import make_individual
from ..base import Learner, Method, check_choice, check_int
from .encodings import ENCODINGS, choose_encoding, encode

#: Mutation attempts per wanted candidate before giving up on a round (members may be rare in a user's space).
TRIES = 20


class Queue(Learner):
    """What BANANAS carries between asks: the acquisition's chosen keys not yet proposed (best first) and the
    number of evaluations the ensemble was last trained on. Checkpointed under ``bananas``."""

    name = "bananas"

    def __init__(self):
        self.keys: list[str] = []
        self.trained_on = -1  # no ensemble yet
        self.retrains = 0

    def state_dict(self) -> dict:
        return {"keys": list(self.keys), "trained_on": self.trained_on, "retrains": self.retrains}

    def load_state_dict(self, state: dict) -> None:
        self.keys = list(state["keys"])
        self.trained_on, self.retrains = int(state["trained_on"]), int(state.get("retrains", 0))


@dataclass
class BANANAS(Method):
    """Args (NASLib's defaults): num_init: random architectures first (10); k: candidates queued per retrain, and
    results between retrains (10); candidates: mutations drawn per retrain (100); parents: the best architectures
    they mutate (2); ensemble: predictors (5); epochs: full-batch Adam steps per predictor and retrain (200);
    encoding: ``auto`` (``path`` on NAS-Bench-201, ``onehot`` elsewhere), ``path`` or ``onehot``."""

    name = "bananas"
    steady_state = True  # one candidate per free worker, each result told on its own
    num_init: int = 10
    k: int = 10
    candidates: int = 100
    parents: int = 2
    ensemble: int = 5
    epochs: int = 200
    encoding: str = "auto"

    def validate(self) -> None:
        for option in ("num_init", "k", "candidates", "parents", "ensemble", "epochs"):
            check_int(self.name, option, getattr(self, option))
        check_choice(self.name, "encoding", self.encoding, ENCODINGS)

    def bind(self, ctx) -> None:
        super().bind(ctx)
        self.kind = choose_encoding(ctx.space, self.encoding)  # path on a space that is no NB201: one line
        self.queue = Queue()

    def learners(self):
        return [self.queue]

    # Asked ------------------------------------------------------------------------------------------------------
    def initial(self, toolbox, history):
        """``num_init`` distinct random members (fewer when the space holds fewer; bounded draws)."""
        pop, keys = [], set()
        for _ in range(TRIES * self.num_init):
            if len(pop) >= self.num_init:
                break
            ind = toolbox.individual()
            key = self.space.key(ind)
            if key not in keys and self.space.is_valid(ind):
                keys.add(key)
                pop.append(ind)
        return pop

    def offspring(self, toolbox, population, history):
        q, proposed = self.queue, history.proposed()
        q.keys = [key for key in q.keys if key not in proposed]  # another worker's child, or a repeat
        if not q.keys or len(history) - q.trained_on >= self.k:
            self.acquire(history, proposed)
        if q.keys:
            return [make_individual(self.space.parse(q.keys.pop(0)), "bananas")]
        return [toolbox.individual()]  # nothing scored (too few results, or nothing unseen found): a random member

    def survivors(self, toolbox, population, evaluated, history):
        return evaluated  # the history is the model's data; no population is kept

    # The acquisition ----------------------------------------------------------------------------------------------
    def acquire(self, history, proposed: set) -> None:
        """Retrain the ensemble on the history and queue the ``k`` candidates with the highest Thompson draws."""
        q, rng = self.queue, self.rngs.py
        q.trained_on, q.keys = len(history), []
        data = history.scored()
        if len(data) < 2:  # nothing to fit yet (failures): random members meanwhile
            return
        cands = self.candidate_pool(data, proposed)
        if not cands:
            return
        from .predictor import Ensemble, thompson
        genomes = [g for g, _ in data]
        x = encode(genomes + cands, self.space, self.kind)  # one call: the padded one-hot shares its width
        seed = rng.randrange(2 ** 62)
        model = Ensemble(self.ensemble, epochs=self.epochs).fit(x[:len(data)], np.array([f for _, f in data]), seed)
        draws = thompson(model.predict(x[len(data):]), np.random.default_rng(rng.randrange(2 ** 62)))
        order = np.argsort(-draws, kind="stable")[:self.k]
        q.keys = [self.space.key(cands[i]) for i in order]
        q.retrains += 1

    def candidate_pool(self, data: list, proposed: set) -> list:
        """About ``candidates`` distinct unseen members: NASLib's ``candidates / parents`` mutations of each of the
        ``parents`` best; when those give fewer than ``k`` (their neighbourhoods are evaluated), mutation walks of
        growing length from the 10 best, then random members — every try bounded, every child ``is_valid``."""
        space, rng = self.space, self.rngs.py
        order = sorted(range(len(data)), key=lambda i: -data[i][1])  # stable: ties keep evaluation order
        out, keys = [], set()

        def add(g) -> None:
            if not space.is_valid(g):  # a user's mutate may return non-members: never proposed
                return
            key = space.key(g)
            if key not in proposed and key not in keys:
                keys.add(key)
                out.append(list(g))

        best = [data[i][0] for i in order[:self.parents]]
        for i in range(self.candidates):  # one mutation each, the parents in turn (NASLib: max_mutations=1)
            add(space.mutate(best[i % len(best)], rng))
        wider = [data[i][0] for i in order[:max(self.parents, 10)]]
        for t in range(TRIES * self.k):
            if len(out) >= self.k:
                break
            child = list(rng.choice(wider))
            for _ in range(2 + t // self.k):  # a walk: two mutations, then longer as the tries go by
                child = space.mutate(child, rng)
            add(child)
        for _ in range(TRIES * self.k):
            if len(out) >= self.k:
                break
            add(space.sample(rng))
        return out
