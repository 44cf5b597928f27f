import random

import pytest

from gptnas.errors import ConfigError, InvalidArchitecture
from gptnas.spaces import END, CategoricalSequenceSpace, NB201Space, get_space


def test_chain_space_in_one_line():
    space = CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(200)]
    assert all(space.is_valid(a) and len(a) == 8 for a in archs)
    assert len({tuple(a) for a in archs}) > 150  # really random
    a = archs[0]
    assert space.from_tokens(space.to_tokens(a)) == a
    assert space.parse(space.key(a)) == a
    assert space.to_tokens(a)[0].startswith("p0=")


def test_grammar_offers_the_options_of_the_next_position_then_end():
    space = CategoricalSequenceSpace([["a", "b"], ["x", "y", "z"]])
    assert space.next_tokens([]) == ["p0=a", "p0=b"]
    assert space.next_tokens(["p0=a"]) == ["p1=x", "p1=y", "p1=z"]
    assert space.next_tokens(["p0=a", "p1=x"]) == [END]
    assert set(space.vocabulary) == {"p0=a", "p0=b", "p1=x", "p1=y", "p1=z"}


def test_invalid_tokens_and_genomes_are_rejected():
    space = CategoricalSequenceSpace([["a", "b"], ["x", "y"]])
    assert not space.is_valid([0, 2]) and not space.is_valid([0]) and not space.is_valid([0, 1, 0])
    with pytest.raises(InvalidArchitecture):
        space.from_tokens(["p0=a", "p0=b"])  # a p0 token where p1 belongs
    with pytest.raises(InvalidArchitecture):
        space.from_tokens(["p0=a"])
    with pytest.raises(InvalidArchitecture):
        space.to_tokens([5, 0])


def test_classic_mutation_changes_exactly_one_position():
    space = NB201Space()
    rng = random.Random(1)
    for _ in range(500):
        a = space.sample(rng)
        b = space.mutate(a, rng)
        assert space.is_valid(b) and sum(x != y for x, y in zip(a, b)) == 1


def test_crossover_mixes_parents_and_stays_valid():
    space = NB201Space()
    rng = random.Random(2)
    a, b = [0] * 6, [4] * 6
    seen = set()
    for _ in range(100):
        c1, c2 = space.crossover(a, b, rng)
        assert space.is_valid(c1) and space.is_valid(c2)
        assert all(x in (0, 4) for x in c1) and [4 - x for x in c1] == c2
        seen.add(tuple(c1))
    assert len(seen) == 5  # every cut point 1..5 occurs


def test_nb201_key_is_the_official_string_and_parse_reads_every_form():
    space = get_space("nb201")
    ops = space.parse("333103")
    key = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert space.key(ops) == key
    assert space.parse(key) == ops
    with pytest.raises(InvalidArchitecture, match="expected the form"):
        space.parse("|nor_conv_3x3~0|+|bogus|")


def test_unknown_space_names_the_choices():
    with pytest.raises(ConfigError, match="nb201"):
        get_space("nb999")
