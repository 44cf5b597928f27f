"""GPT operators in a real DEAP toolbox: reconstruction mutation, repaired crossover, GPT initialisation, schedule."""
from __future__ import annotations

import random

import pytest
from deap import algorithms, base, creator, tools

from gptnas.lm import GPTConfig, GPTProposer, TrainSettings, sample_architectures
from gptnas.methods.gptnas.operators.crossover import cx_gpt_repair
from gptnas.methods.gptnas.operators.init import init_gpt_population
from gptnas.methods.gptnas.operators.toolbox import register_gpt_operators
from gptnas.methods.gptnas.operators.reconstruct import mut_gpt_reconstruct, reconstruct_many
from gptnas.methods.gptnas.operators.schedule import LinearDecay
from gptnas.spaces import END, NB201Space, SearchSpace

TINY = GPTConfig(n_embd=32, n_layer=2, n_head=2, dropout=0.0)


class ChainSpace(SearchSpace):
    """Variable-length toy space: 1..4 layers of conv/pool, never two pools in a row."""

    name = "toy-chain-ops"
    OPS = ("conv", "pool")
    max_length = 4

    def sample(self, rng):
        arch = []
        for _ in range(rng.randint(1, self.max_length)):
            arch.append(0 if arch and arch[-1] == 1 else rng.randrange(2))
        return arch

    def is_valid(self, arch):
        return 1 <= len(arch) <= self.max_length and set(arch) <= {0, 1} and (1, 1) not in zip(arch, arch[1:])

    def to_tokens(self, arch):
        return [self.OPS[a] for a in arch]

    def from_tokens(self, tokens):
        arch = [self.OPS.index(t) for t in tokens]
        assert self.is_valid(arch), tokens
        return arch

    def next_tokens(self, prefix):
        if len(prefix) == self.max_length:
            return [END]
        ops = ["conv"] if prefix and prefix[-1] == "pool" else list(self.OPS)
        return ops + ([END] if prefix else [])

    @property
    def vocabulary(self):
        return list(self.OPS)


def _individual_type():
    """The engine's individual type (gptnas.core.types) if present, else a local creator type."""
    try:
        from gptnas.core.types import Individual as engine_type
        return engine_type
    except ImportError:
        pass
    if not hasattr(creator, "GptOpsTestFitness"):
        creator.create("GptOpsTestFitness", base.Fitness, weights=(1.0,))
        creator.create("GptOpsTestIndividual", list, fitness=creator.GptOpsTestFitness, origin=None)
    return creator.GptOpsTestIndividual


Individual = _individual_type()


@pytest.fixture(scope="module")
def space():
    return NB201Space()


@pytest.fixture(scope="module")
def proposer(space):
    return GPTProposer(space, config=TINY).fit(sample_architectures(space, 2000, seed=0),
                                               TrainSettings(epochs=2, lr=3e-3, batch_size=128), progress=False)


def _evaluated(genome, value=1.0):
    ind = Individual(genome)
    ind.fitness.values = (value,)
    ind.origin = "random"
    return ind


class _Spy:
    """Records the positions the proposer is asked to regenerate."""

    def __init__(self, proposer):
        self.proposer, self.calls = proposer, []

    def __getattr__(self, name):
        return getattr(self.proposer, name)

    def reconstruct(self, genome, positions, *a, **k):
        self.calls.append(list(positions))
        return self.proposer.reconstruct(genome, positions, *a, **k)

    def reconstruct_tokens(self, seqs, positions, *a, **k):
        self.calls.append([list(p) for p in positions])
        return self.proposer.reconstruct_tokens(seqs, positions, *a, **k)


# Schedule --------------------------------------------------------------------------------------------------------
def test_linear_decay_schedule():
    s = LinearDecay()
    assert s() == pytest.approx(0.4)
    s.update(0.5)
    assert s() == pytest.approx(0.2)
    s.update(1.0)
    assert s() == pytest.approx(0.0)
    s.update(1.7)  # clipped
    assert s() == pytest.approx(0.0)
    s2 = LinearDecay(0.6, 0.2)
    s2.update(0.25)
    assert s2() == pytest.approx(0.5)


# Mutation --------------------------------------------------------------------------------------------------------
def test_mutation_changes_only_eliminated_positions_and_marks(proposer, space):
    spy = _Spy(proposer)
    rng = random.Random(0)
    changed = 0
    for _ in range(30):
        g = space.sample(rng)
        ind = _evaluated(g)
        out, = mut_gpt_reconstruct(ind, spy, rng, rate=0.5)
        assert out is ind and not ind.fitness.valid and ind.origin == "gpt" and space.is_valid(list(ind))
        diff = [j for j in range(6) if ind[j] != g[j]]
        if diff:
            changed += 1
            assert set(diff) <= set(spy.calls[-1])
    assert changed >= 20  # rate 0.5 on 6 edges eliminates something ~98 % of the time; distinct => change


def test_mutation_rate_zero_and_schedule(proposer, space):
    g = [0, 1, 2, 3, 4, 0]
    ind = _evaluated(g)
    mut_gpt_reconstruct(ind, proposer, random.Random(0), rate=0.0)
    assert list(ind) == g and not ind.fitness.valid and ind.origin == "gpt"
    sched = LinearDecay()
    sched.update(1.0)  # end of the run: r = 0, nothing eliminated
    ind = _evaluated(g)
    mut_gpt_reconstruct(ind, proposer, random.Random(0), rate=sched)
    assert list(ind) == g
    sched.update(0.0)
    ind = _evaluated(g)
    mut_gpt_reconstruct(ind, proposer, random.Random(0), rate=LinearDecay(1.0, 1.0))  # everything eliminated
    assert list(ind) != g and space.is_valid(list(ind))


def test_reconstruct_many_batched(proposer, space):
    rng = random.Random(3)
    parents = [space.sample(rng) for _ in range(25)]
    inds = [_evaluated(p) for p in parents]
    out = reconstruct_many(inds, proposer, rng, rate=0.5)
    assert out == inds
    assert all(space.is_valid(list(i)) and i.origin == "gpt" and not i.fitness.valid for i in inds)
    assert sum(list(i) != p for i, p in zip(inds, parents)) >= 20
    again = [_evaluated(p) for p in parents]
    reconstruct_many(again, proposer, _replay(3, space, 25), rate=0.5)
    assert [list(i) for i in again] == [list(i) for i in inds]  # same rng state => same offspring


def _replay(seed, space, n):
    """An rng in the state the test's rng had after drawing ``n`` parents."""
    rng = random.Random(seed)
    for _ in range(n):
        space.sample(rng)
    return rng


# Crossover -------------------------------------------------------------------------------------------------------
def test_crossover_regenerates_only_the_junction(proposer, space):
    spy = _Spy(proposer)
    rng = random.Random(1)
    for _ in range(20):
        a, b = space.sample(rng), space.sample(rng)
        i1, i2 = _evaluated(a), _evaluated(b)
        state = rng.getstate()
        cut = random.Random()
        cut.setstate(state)
        c = cut.randrange(1, 6)
        cx_gpt_repair(i1, i2, spy, space, rng)
        assert spy.calls[-1] == [[c - 1, c], [c - 1, c]]
        splice1, splice2 = a[:c] + b[c:], b[:c] + a[c:]
        assert all(i1[j] == splice1[j] for j in range(6) if j not in (c - 1, c))
        assert all(i2[j] == splice2[j] for j in range(6) if j not in (c - 1, c))
        assert i1.origin == i2.origin == "gpt-crossover"
        assert not i1.fitness.valid and not i2.fitness.valid


def test_crossover_repairs_variable_length_children():
    space = ChainSpace()
    prop = GPTProposer(space, config=TINY)
    rng = random.Random(0)
    naive_invalid = 0
    for _ in range(60):
        a, b = space.sample(rng), space.sample(rng)
        if min(len(a), len(b)) < 2:
            continue
        st = rng.getstate()
        peek = random.Random()
        peek.setstate(st)
        c = peek.randrange(1, min(len(a), len(b)))
        naive_invalid += not space.is_valid(a[:c] + b[c:]) or not space.is_valid(b[:c] + a[c:])
        i1, i2 = _evaluated(a), _evaluated(b)
        cx_gpt_repair(i1, i2, prop, space, rng)
        assert space.is_valid(list(i1)) and space.is_valid(list(i2))
        assert len(i1) == len(b) and len(i2) == len(a)
    assert naive_invalid > 0  # the repair had work to do


# Initial population and the toolbox ------------------------------------------------------------------------------
def test_init_gpt_population_unique(proposer, space):
    pop = init_gpt_population(Individual, proposer, 40, random.Random(0))
    assert len(pop) == 40 and len({space.key(i) for i in pop}) == 40
    assert all(isinstance(i, Individual) and i.origin == "gpt" and not i.fitness.valid for i in pop)
    assert [list(i) for i in pop] == [list(i) for i in init_gpt_population(Individual, proposer, 40,
                                                                          random.Random(0))]


class _Peaked:
    """A stand-in for a GPT that has collapsed onto few architectures: it cycles through ``distinct`` of them."""

    def __init__(self, space, distinct):
        self.space, self.distinct, self.calls = space, distinct, []

    def sample(self, n, rng, temperature, top_k):
        self.calls.append((n, temperature, top_k))
        return [list(self.distinct[i % len(self.distinct)]) for i in range(n)]


def test_init_gpt_population_skips_repeats_and_fills_only_when_the_model_cannot_give_more(space, caplog):
    rng = random.Random(0)
    many = [space.sample(rng) for _ in range(30)]
    pop = init_gpt_population(Individual, _Peaked(space, many), 12, random.Random(1), temperature=0.7, top_k=5)
    assert [list(i) for i in pop] == many[:12]                       # distinct, in the order sampled
    few = _Peaked(space, many[:3])
    with caplog.at_level("WARNING"):
        pop = init_gpt_population(Individual, few, 10, random.Random(1), temperature=0.7, top_k=5, max_rounds=4)
    assert len(pop) == 10 and [list(i) for i in pop[:3]] == many[:3]  # the distinct ones first, then repeats
    assert len({space.key(i) for i in pop}) == 3 and "only 3 distinct architectures of 10" in caplog.text
    assert len(few.calls) == 4 + 1 and all(c[1:] == (0.7, 5) for c in few.calls)  # its settings reach the model
    assert few.calls[-1][0] == 7                                      # the fill asks for just what is missing
    # unique=False: one batch, repeats kept
    assert len(init_gpt_population(Individual, _Peaked(space, many[:3]), 10, random.Random(1), unique=False)) == 10


def test_register_in_deap_toolbox_and_run_a_generation(proposer, space):
    rng = random.Random(0)
    toolbox = base.Toolbox()
    toolbox.register("mate_classic", tools.cxTwoPoint)  # classic DEAP operators live beside the GPT ones
    schedule = register_gpt_operators(toolbox, space, proposer, rng, top_k=10)  # default container
    assert isinstance(schedule, LinearDecay) and schedule() == pytest.approx(0.4)
    toolbox.register("evaluate", lambda ind: (float(sum(ind)),))
    toolbox.register("select", tools.selTournament, tournsize=3)

    pop = toolbox.population_gpt(20)
    assert len(pop) == 20 and all(i.origin == "gpt" and isinstance(i, Individual) for i in pop)
    assert len(toolbox.population_gpt(n=3)) == 3  # DEAP's keyword form works too
    for ind in pop:
        ind.fitness.values = toolbox.evaluate(ind)
    offspring = algorithms.varAnd(toolbox.select(pop, 20), toolbox, cxpb=0.5, mutpb=0.5)
    assert all(space.is_valid(list(i)) for i in offspring)
    assert {i.origin for i in offspring} & {"gpt", "gpt-crossover"}
    assert any(not i.fitness.valid for i in offspring)
    c1, c2 = toolbox.mate_classic(toolbox.clone(pop[0]), toolbox.clone(pop[1]))
    assert space.is_valid(list(c1)) and space.is_valid(list(c2))
    m = toolbox.mutate_many([toolbox.clone(i) for i in pop[:5]])
    assert len(m) == 5 and all(i.origin == "gpt" for i in m)
