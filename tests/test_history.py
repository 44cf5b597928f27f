"""Methods and learners read the search only through the History view: no test accuracy, no reported-only value."""
from __future__ import annotations

import pickle
import struct

import pytest

import gptnas
from gptnas.core.history import History
from gptnas.evaluators.base import EvalResult
from gptnas.methods import REA, GA, RandomSearch, Learner
from gptnas.spaces import CategoricalSequenceSpace

SPACE = CategoricalSequenceSpace([["a", "b", "c"]] * 5, name="five")
TEST_SENTINEL, VAL_SENTINEL = 123456.789, 987654.321  # values no fitness takes


def evaluate(arch):
    f = float(sum(arch))
    return EvalResult(f, {"test": TEST_SENTINEL + f, "bench_val": VAL_SENTINEL + f, "params_mb": 1.0})


class Spy(Learner):
    name = "spy"

    def __init__(self):
        self.seen = []

    def begin_generation(self, history):
        self.seen.append(pickle.dumps(history))

    def end_generation(self, population, history):
        self.seen.append(pickle.dumps((population, history)))


def spying(cls):
    class Spying(cls):
        def bind(self, ctx):
            super().bind(ctx)
            self.spy = Spy()
            self.hooks = []

        def learners(self):
            return [self.spy]

        def offspring(self, toolbox, population, history):
            self.hooks.append(pickle.dumps((population, history)))
            return super().offspring(toolbox, population, history)

        def survivors(self, toolbox, population, evaluated, history):
            self.hooks.append(pickle.dumps((population, evaluated, history)))
            return super().survivors(toolbox, population, evaluated, history)
    Spying.name = cls.name
    return Spying


@pytest.mark.parametrize("cls", [RandomSearch, REA, GA])
def test_no_method_or_learner_can_reach_test_accuracy(cls):
    method = spying(cls)()
    import gptnas.search.driver as driver
    from gptnas.config import RunConfig, SearchConfig
    p = driver.prepare(RunConfig(search=SearchConfig(budget=40)), evaluate, space=SPACE, method=method,
                       progress=False)
    state = driver.make_search(p).run()
    archive = pickle.dumps(state.archive.rows)  # the archive does hold both, for the reports: the probe finds them
    assert b"G" + struct.pack(">d", state.archive.rows[0]["test"]) in archive
    assert repr(VAL_SENTINEL + state.archive.rows[0]["fitness"]).encode() in archive
    blobs = p.method.hooks + p.method.spy.seen
    assert blobs
    for blob in blobs:  # everything handed to a method: no trace of the reported-only values
        for sentinel in (TEST_SENTINEL, VAL_SENTINEL):
            for f in range(0, 11):
                assert repr(sentinel + f).encode() not in blob                 # as text (JSON extras)
                assert b"G" + struct.pack(">d", sentinel + f) not in blob     # as a pickled float


def test_history_columns_are_the_allowed_ones_and_follow_the_archive():
    res = gptnas.search(SPACE, evaluate, method="rea", budget=25, progress=False)
    h = res.history
    assert isinstance(h, History) and len(h) == 25 == res.evaluations
    e = h[0]
    assert e._fields == ("key", "genome", "fitness", "failed", "generation", "origin")
    assert [x.key for x in h] == [r["arch"] for r in res.archive]
    assert h.top(3)[0].fitness == max(h.fitnesses()) == res.best.fitness
    assert not any("test" in s or "bench" in s for s in History.__slots__)
    assert h.genome(0) == SPACE.parse(h[0].key)
