"""The GA's two loops: the generational one (the GPT-NAS paper's) and the steady-state one that keeps several
workers busy (``ga.steady``; by default when workers > 1)."""
import subprocess
import sys

import gptnas
from gptnas.core.types import make_individual
from gptnas.methods.ga import steady_survivors

OPS = ["a", "b", "c", "d"]
SPACE = gptnas.spaces.CategoricalSequenceSpace([OPS] * 5, name="chain5")


def ind(genome, fitness):
    i = make_individual(list(genome), "test")
    i.fitness.values = (fitness,)
    return i


def fits(pop):
    return sorted((SPACE.key(i), i.fitness.values[0]) for i in pop)


def test_steady_replacement_takes_the_worst_place_once_per_child():
    pop = [ind([0] * 5, 1.0), ind([1] * 5, 3.0), ind([2] * 5, 2.0)]
    better, worse, twin = ind([3] * 5, 2.5), ind([0, 1, 2, 3, 0], 0.5), ind([1] * 5, 3.0)
    out = steady_survivors(pop, [better, worse, twin], SPACE.key)
    # the better child replaced the worst (1.0); the worse one stayed out; the twin of a member added nothing
    assert fits(out) == fits([pop[1], pop[2], better])
    assert len(pop) == 3 and fits(pop) != fits(out)  # the population given is not changed in place


def test_steady_replacement_one_at_a_time_is_all_at_once():
    import random
    rng = random.Random(0)
    pop = [ind([rng.randrange(4) for _ in range(5)], rng.randrange(10)) for _ in range(8)]
    children = [ind([rng.randrange(4) for _ in range(5)], rng.randrange(10)) for _ in range(30)]
    together = steady_survivors(pop, children, SPACE.key)
    one = pop
    for c in children:
        one = steady_survivors(one, [c], SPACE.key)
    assert [SPACE.key(i) for i in one] == [SPACE.key(i) for i in together]


def score(arch):
    return float(sum((i + 1) * (op == i % 4) for i, op in enumerate(arch)))


def archive(r):
    return [(row["arch"], row["fitness"], row["generation"]) for row in r.archive]


def run(workers, steady=None, **kw):
    return gptnas.search(SPACE, score, method="ga", budget=60, seed=5, workers=workers, parallel="simulated",
                         progress=False, **({"ga": {"steady": steady}} if steady is not None else {}), **kw)


def test_auto_is_steady_on_several_workers_and_generational_on_one():
    assert archive(run(4)) == archive(run(4, steady=True)) != archive(run(4, steady=False))
    assert archive(run(1)) == archive(run(1, steady=False)) != archive(run(1, steady=True))
    gens = [row["generation"] for row in run(4).archive]
    assert len(set(gens)) > 40  # each child told on its own, not 20 at a time


def test_steady_population_keeps_the_best_found():
    r = run(1, steady=True)
    best = max(row["fitness"] for row in r.archive)
    assert max(i.fitness.values[0] for i in r.state.population) == best
    assert len({SPACE.key(i) for i in r.state.population}) == len(r.state.population) == 20  # no twins


def test_a_bad_steady_value_is_one_line_with_exit_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness", "benchmark",
                        "--method", "ga", "--set", "ga.steady=sometimes", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "ga option steady must be auto, true" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_steady_children_are_new_while_new_ones_are_near():
    # a converged steady-state population breeds repeats; each is mutated again until it is new, so the search
    # spends its whole budget instead of stalling on what it has seen
    for retries in (20, 0):
        from gptnas.methods.ga import GA
        GA.RETRIES, old = retries, GA.RETRIES
        try:
            r = gptnas.search(SPACE, score, method="ga", budget=400, seed=1, workers=4, parallel="simulated",
                              progress=False, search={"stall_limit": 50})
        finally:
            GA.RETRIES = old
        if retries:
            assert r.evaluations == 400 and r.status == "complete"
        else:
            assert r.evaluations < 400  # the loop without it: the check above can fail


def test_a_run_recorded_before_the_steady_loop_resumes_generational():
    # a run directory written before ga.steady existed records no such key: its resume keeps the loop it ran
    from gptnas.config import from_dict, from_recorded
    recorded = {"space": "nb201", "workers": 4, "search": {"method": "ga", "budget": 40},
                "ga": {"population": 20, "tournament": 3, "cxpb": 0.9, "mutpb": 0.3, "elitism": 1}}
    assert from_recorded(recorded).sections["ga"]["steady"] is False
    assert from_dict(recorded).sections["ga"].get("steady", "auto") == "auto"  # a new run: steady on 4 workers
