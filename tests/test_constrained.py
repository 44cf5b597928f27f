"""A user's space with rules of its own (``is_valid`` overridden): every operator of every method proposes members
only, the engine never raises on a child that is not one, and a space whose members are rare does not hang."""
from __future__ import annotations

import random

import pytest

import gptnas
from gptnas.errors import SpaceError
from gptnas.spaces import CategoricalSequenceSpace
from helpers.constrained import evaluate, evaluate_b, rare, rules

SPACES = {"rules8": rules, "rare8": rare}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A finished random search of another task (``evaluate_b``) per space: the source principles and rankers
    learn from."""
    root = tmp_path_factory.mktemp("constrained")
    out = {}
    for name, space in SPACES.items():
        out[name] = str(root / f"{name}-source")
        gptnas.search(space, evaluate_b, method="random", budget=300, seed=1, out=out[name], progress=False)
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("gpt-cache"))


METHODS = {
    "random": {}, "rea": {}, "ga": {},
    "gptnas": {}, "gptnas-paper": {"gpt": {"preset": "paper"}},
    "lapt": {"principles": "SOURCE"}, "lapt-unguided": {"principles": {"guided": False}},
    "lmsearcher": {"rank": "SOURCE"}, "lmsearcher-gpt-pool": {"rank": {"pool_source": "gpt", "ranker": "random"}},
    "rea+prescreen": {"rank": {"prescreen": 4}}, "gptnas+transfer": {"gpt": {"transfer_from": "SOURCE"}},
    "local_search": {}, "bananas": {"bananas": {"epochs": 50}},
}


def _kwargs(name: str, source: str, cache: str) -> dict:
    method = name.split("+")[0].replace("-paper", "").replace("-unguided", "").replace("-gpt-pool", "")
    kw = {k: dict(v) if isinstance(v, dict) else {} for k, v in METHODS[name].items()}
    if "principles" in kw:
        kw["principles"]["source"] = source
    if "rank" in kw and kw["rank"].get("ranker") != "random":
        kw["rank"]["source"] = source
    if name == "gptnas+transfer":
        kw["gpt"]["transfer_from"] = source
    kw["cache_dir"] = cache
    return {"method": method, **kw}


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("name", METHODS)
def test_every_method_evaluates_members_only(name, space_name, sources, cache):
    space = SPACES[space_name]
    r = gptnas.search(space, evaluate, budget=40, seed=0, progress=False,
                      **_kwargs(name, sources[space_name], cache))
    assert r.status == "complete" and r.evaluations == 40
    assert not [row for row in r.archive if row["failed"]]  # no child reached the engine as a non-member
    assert all(space.is_valid(space.parse(row["arch"])) for row in r.archive)
    assert not r.state.dropped


def test_the_classic_mutation_keeps_members_and_reaches_past_single_changes():
    rng = random.Random(0)
    parent = rare.sample(rng)
    children = [rare.mutate(parent, rng) for _ in range(300)]
    assert all(rare.is_valid(c) and c != parent for c in children)
    # moving a pool takes two changes (one pool alone is no member): the walk finds such children too
    assert any(sum(a != b for a, b in zip(c, parent)) == 2 and c.count(2) == 2 and
               [i for i, v in enumerate(c) if v == 2] != [i for i, v in enumerate(parent) if v == 2]
               for c in children)


def test_a_subclass_without_its_own_sample_draws_members_or_says_it_cannot():
    class Even(CategoricalSequenceSpace):
        def is_valid(self, arch):
            return super().is_valid(arch) and sum(arch) % 2 == 0

    space = Even([["a", "b", "c"]] * 5, name="even")
    rng = random.Random(3)
    assert all(space.is_valid(space.sample(rng)) for _ in range(200))

    class Empty(CategoricalSequenceSpace):
        def is_valid(self, arch):
            return False

    with pytest.raises(SpaceError, match="no member in 10,000 random draws"):
        Empty([["a", "b"]] * 4, name="empty").sample(rng)


def test_an_unconstrained_space_mutates_as_before():
    """The rules change nothing where there are none: the same draws as the plain single change."""
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="plain")
    a, b = random.Random(5), random.Random(5)
    parent = [0, 1, 2, 0, 1, 2]
    for _ in range(50):
        child = space.mutate(parent, a)
        free = list(range(6))
        i = b.choice(free)
        expect = list(parent)
        expect[i] = b.choice([j for j in range(3) if j != parent[i]])
        assert child == expect


def test_gpt_proposals_are_members(cache):
    from gptnas.lm.cache import pretrained_proposer
    from gptnas.methods.gptnas.operators.local import neighbour_tokens

    gpt = pretrained_proposer(rules, {"model": {"n_embd": 32, "n_layer": 1, "n_head": 2}}, cache_dir=cache,
                              progress=False)
    rng = random.Random(0)
    assert all(rules.is_valid(g) for g in gpt.sample(200, rng))
    parents = [rules.sample(rng) for _ in range(50)]
    kids = gpt.reconstruct_many(parents, [[1, 2, 3]] * 50, rng, exclude_original=True)
    assert all(rules.is_valid(k) for k in kids)
    for p in parents:
        near = neighbour_tokens(gpt, rules.to_tokens(p))
        assert near and all(rules.is_valid(rules.from_tokens(n)) for n in near)
        # every member one change away is offered, and only those
        every = [p[:i] + [j] + p[i + 1:] for i in range(8) for j in range(3) if j != p[i]]
        assert len(near) == sum(rules.is_valid(c) for c in every)


def test_an_operator_that_makes_non_members_is_recorded_not_raised():
    """A user's mutation that breaks the rules: its children are failed evaluations naming the operator; a genome
    the space cannot even read is dropped and counted; the search never raises."""
    calls = []

    class Sloppy(gptnas.methods.REA):
        def register(self, toolbox):
            super().register(toolbox)

            def mutate(ind):
                calls.append(1)
                if len(calls) % 5 == 0:
                    ind[:] = [0] * 3  # not even a genome of the space
                else:
                    ind[:] = [2, 2] + list(ind[2:])  # two pools in a row, at the start: never a member
                ind.origin = "sloppy"
                del ind.fitness.values
                return (ind,)
            toolbox.register("mutate", mutate)

    r = gptnas.search(rules, evaluate, method=Sloppy(), budget=30, seed=0, progress=False,
                      search={"max_failed_share": 1.0})
    bad = [row for row in r.archive if row["failed"]]
    assert bad and all("not a member of space 'rules8'" in row["failed"] and "sloppy" in row["failed"] for row in bad)
    assert all(not rules.is_valid(rules.parse(row["arch"])) for row in bad)
    assert r.state.dropped.get("sloppy", 0) > 0
    assert r.best is not None and rules.is_valid(r.best.arch)


def test_the_corpus_stops_when_the_space_runs_out():
    from gptnas.lm.corpus import corpus_size, sample_architectures
    assert corpus_size(rare, None) == 330  # its members, counted, not the 6,561 genomes
    calls = [0]
    sample = rare.sample

    class Counting:
        name, key, options = rare.name, rare.key, rare.options

        def sample(self, rng):
            calls[0] += 1
            return sample(rng)

    archs = sample_architectures(Counting(), 2048, seed=0)
    assert len(archs) == 330 and calls[0] < 20_000  # 50 n + 1000 = 103,400 before


def test_lapt_widens_an_exhausted_refined_space(sources):
    """rare8's refined space holds a handful of members: LAPT widens it when no new architecture comes, instead of
    stalling (the paper's schedule adapts only every 10 evaluations, which never come)."""
    r = gptnas.search(rare, evaluate, method="lapt", principles={"source": sources["rare8"]}, budget=40, seed=0,
                      progress=False)
    assert r.status == "complete"
    adaptations = r.state.learner_states["principles"]["principles"]["adaptations"]
    assert any("exhausted" in a["reason"] for a in adaptations)


def test_benchmark_sub_spaces_mutate_as_they_always_did():
    """NB201's and NB101's sub-spaces (design principles) keep their move draw for draw: 100 single changes from
    the parent until one is a member; the walk is for a user's rules only."""
    from gptnas.spaces import NB101Space, NB201Space

    def old_move(sub, arch, rng):
        free = [i for i, a in enumerate(sub.allowed) if len(a) > 1]
        for _ in range(100):
            i = rng.choice(free)
            cand = list(arch)
            cand[i] = rng.choice([j for j in sub.allowed[i] if j != arch[i]] or sub.allowed[i])
            if sub.parent.is_valid(cand) and cand != list(arch):
                return cand
        return list(arch)

    for full in (NB201Space(), NB101Space()):
        sub = full.subspace([list(range(len(o))) if i % 3 else o[:2] for i, o in enumerate(full.options)])
        rng0 = random.Random(7)
        parents = [sub.sample(rng0) for _ in range(30)]
        a, b = random.Random(1), random.Random(1)
        assert [sub.mutate(g, a) for g in parents] == [old_move(sub, g, b) for g in parents]


def test_members_of_a_sub_space_are_counted_in_the_sub_space():
    from gptnas.spaces.base import count_members
    sub = rules.subspace([["conv3", "pool"]] * 8)
    want = sum(rules.is_valid(g) for g in (
        [[0, 2][(n >> i) & 1] for i in range(8)] for n in range(256)))
    assert count_members(sub, sub.size()) == want
