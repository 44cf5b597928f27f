"""The DEAP engine on a synthetic, exactly known fitness (no data needed)."""
import math
import pickle

import pytest
from deap import base, tools

from gptnas.config import RunConfig, SearchConfig, validate
from gptnas.evaluators.base import EvalResult, Evaluator
from gptnas.search.driver import make_search, prepare, run_in_memory
from gptnas.search.state import SearchState
from gptnas.spaces import NB201Space

WEIGHTS = (0.0, 0.3, 0.6, 1.0, 0.2)  # NB201 op index -> value; the optimum is all nor_conv_3x3 (op 3)


class Synthetic(Evaluator):
    """Fitness = weighted op sum (max 6.0); 'test' = fitness + 1; counts calls to catch re-evaluation."""

    def __init__(self, fail_on=None):
        self.calls = 0
        self.fail_on = fail_on

    def evaluate(self, arch):
        self.calls += 1
        if self.fail_on is not None and list(arch) == self.fail_on:
            return EvalResult.failure("RuntimeError: boom")
        f = sum(WEIGHTS[o] for o in arch)
        return EvalResult(f, {"test": f + 1})


def cfg(method="rea", budget=60, seed=0, **kw):
    return RunConfig(space="nb201", seed=seed, search=SearchConfig(method=method, budget=budget, **kw))


@pytest.mark.parametrize("method", ["random", "rea", "ga"])
def test_budget_counts_unique_architectures_and_repeats_are_free(method):
    ev = Synthetic()
    st = run_in_memory(cfg(method, budget=60), evaluator=ev)
    keys = [r["arch"] for r in st.archive.rows]
    assert st.evaluations == 60 == len(set(keys)) == ev.calls == len(st.cache)
    assert st.status == "complete"
    assert st.generation >= 2
    # fitness in the archive is what the evaluator gave; test only reported
    r = st.archive.rows[0]
    assert r["test"] == pytest.approx(r["fitness"] + 1)


@pytest.mark.parametrize("method", ["random", "rea", "ga"])
def test_same_seed_same_result_different_seed_different_path(method):
    a = run_in_memory(cfg(method, seed=3), evaluator=Synthetic())
    b = run_in_memory(cfg(method, seed=3), evaluator=Synthetic())
    c = run_in_memory(cfg(method, seed=4), evaluator=Synthetic())
    arch = lambda s: [r["arch"] for r in s.archive.rows]
    assert arch(a) == arch(b)
    assert arch(a) != arch(c)


@pytest.mark.parametrize("method", ["random", "rea", "ga"])
def test_a_search_is_the_prefix_of_a_longer_one(method):
    """The budget only stops a search: experiments read the b-budget search off the first b evaluations of a
    longer one (experiments/nb201_search.py, gptnas_no_prior.py)."""
    arch = lambda s: [r["arch"] for r in s.archive.rows]
    short = run_in_memory(cfg(method, budget=25, seed=5), evaluator=Synthetic())
    long = run_in_memory(cfg(method, budget=70, seed=5), evaluator=Synthetic())
    assert arch(short) == arch(long)[:25]


def test_evolution_beats_random_on_a_smooth_landscape():
    def mean_best(method):
        return sum(run_in_memory(cfg(method, budget=80, seed=s), evaluator=Synthetic()).best_row()["fitness"]
                   for s in range(8)) / 8
    assert mean_best("rea") > mean_best("random") + 0.2
    assert mean_best("ga") > mean_best("random")


def test_rea_keeps_population_of_p_and_removes_the_oldest():
    p = prepare(cfg("rea", budget=15, population=5, sample=2), evaluator=Synthetic())
    search = make_search(p, progress=False)
    st = SearchState()
    history = []
    search.on_checkpoint = lambda s: history.append([list(i) for i in s.population])
    search.run(st)
    assert all(len(pop) == 5 for pop in history)
    # each step appends the child and drops the first (oldest) member
    for before, after in zip(history[1:], history[2:]):
        assert after[:-1] == before[1:]


def test_checkpoint_round_trip_continues_exactly(tmp_path):
    """Stop after some generations, pickle state + generators, rebuild everything, continue: same archive."""
    full = run_in_memory(cfg("ga", budget=70, seed=7), evaluator=Synthetic())

    p = prepare(cfg("ga", budget=70, seed=7), evaluator=Synthetic())
    s = make_search(p, progress=False)
    saved = {}

    def stop_after_gen2(state):
        if state.generation == 2:
            saved["blob"] = pickle.dumps({"search": state.to_dict(), "rngs": p.rngs.state(),
                                          "rows": list(state.archive.rows), "records": list(state.logbook)})
            raise KeyboardInterrupt
    s.on_checkpoint = stop_after_gen2
    with pytest.raises(KeyboardInterrupt):
        s.run()
    ck = pickle.loads(saved["blob"])
    p2 = prepare(cfg("ga", budget=70, seed=7), evaluator=Synthetic())
    p2.rngs.set_state(ck["rngs"])
    resumed = make_search(p2, progress=False).run(SearchState.from_dict(ck["search"], ck["rows"], ck["records"]))
    assert [r["arch"] for r in resumed.archive.rows] == [r["arch"] for r in full.archive.rows]
    assert [r["fitness"] for r in resumed.archive.rows] == [r["fitness"] for r in full.archive.rows]
    assert resumed.best_row()["arch"] == full.best_row()["arch"]
    assert len(resumed.logbook) == len(full.logbook)


def test_failed_evaluation_gets_worst_fitness_and_its_reason_is_archived():
    ev = Synthetic(fail_on=None)
    first = run_in_memory(cfg("random", budget=10), evaluator=Synthetic())
    ev.fail_on = [int(x) for x in NB201Space().parse(first.archive.rows[0]["arch"])]
    st = run_in_memory(cfg("random", budget=10), evaluator=ev)
    row = st.archive.rows[0]
    assert row["failed"] == "RuntimeError: boom" and row["fitness"] == -math.inf
    assert st.best_row() is not row and st.evaluations == 10


def test_user_registers_deap_operators_and_a_plain_evaluate():
    """A user swaps in DEAP's own cxTwoPoint / mutUniformInt and a plain `(fitness,)` evaluate."""
    calls = []

    def evaluate(ind):
        calls.append(tuple(ind))
        return (float(sum(ind)),)

    p = prepare(cfg("ga", budget=40, seed=1), evaluator=Synthetic())
    p.toolbox.register("evaluate", evaluate)
    p.toolbox.register("mate", tools.cxTwoPoint)
    p.toolbox.register("mutate", tools.mutUniformInt, low=0, up=4, indpb=0.3)
    st = make_search(p, progress=False).run()
    assert st.evaluations == 40 == len(set(calls))
    assert st.best_row()["fitness"] == max(sum(c) for c in calls)
    assert isinstance(p.toolbox, base.Toolbox)


def test_generation_cap_and_stall_stop():
    st = run_in_memory(cfg("ga", budget=10_000, generations=3), evaluator=Synthetic())
    assert st.status == "generations" and st.generation == 3
    # operators that can only reproduce one architecture: the search stops instead of spinning
    from gptnas.core.types import make_individual
    p = prepare(cfg("rea", budget=50, stall_limit=5), evaluator=Synthetic())
    p.toolbox.register("individual", lambda: make_individual([0] * 6))
    p.toolbox.register("mutate", lambda ind: (ind,))
    st = make_search(p, progress=False).run()
    assert st.status == "stalled" and st.evaluations == 1


def test_validation_rejects_bad_values_by_name():
    from gptnas.errors import ConfigError
    with pytest.raises(ConfigError, match="budget"):
        validate(cfg("rea", budget=0))
    with pytest.raises(ConfigError, match="unknown method 'sa'"):
        validate(cfg("sa"))
    with pytest.raises(ConfigError, match="cxpb"):
        validate(cfg("ga", cxpb=1.5))
    c = RunConfig(space="nb201", dataset="mnist")
    with pytest.raises(ConfigError, match="cifar10, cifar100, imagenet16-120"):
        validate(c)


def test_an_evaluator_drawing_from_global_random_does_not_change_the_search():
    import random

    class Noisy(Synthetic):
        def evaluate(self, arch):
            random.random()  # e.g. an evaluator's own augmentation
            return super().evaluate(arch)
    a = run_in_memory(cfg("ga", seed=2), evaluator=Synthetic())
    b = run_in_memory(cfg("ga", seed=2), evaluator=Noisy())
    assert [r["arch"] for r in a.archive.rows] == [r["arch"] for r in b.archive.rows]


@pytest.mark.parametrize("method,size", [("ga", 20), ("rea", 10)])
def test_one_worker_hands_each_generation_to_the_users_map_in_one_call(method, size):
    """A serial run is the ask/tell loop with one slot: a DEAP user's ``toolbox.map`` (a multiprocessing pool's, say)
    still gets a whole generation per call, and the run is the same as with the builtin map."""
    calls = []

    def user_map(fn, items):
        items = list(items)
        calls.append(len(items))
        return [fn(x) for x in items]

    p = prepare(cfg(method, budget=60), Synthetic(), progress=False)
    p.toolbox.register("map", user_map)
    st = make_search(p, progress=False).run()
    ref = run_in_memory(cfg(method, budget=60), evaluator=Synthetic())
    assert [r["arch"] for r in st.archive.rows] == [r["arch"] for r in ref.archive.rows]
    assert calls[0] == size  # the initial population at once, not one evaluation per call
    assert sum(calls) == 60
