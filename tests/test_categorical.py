"""Fixed-length decision spaces: NCode for every one of them, and sub-spaces that a GPT's grammar honours."""
from __future__ import annotations

import random

import pytest

from gptnas.encodings import nb201 as enc
from gptnas.errors import InvalidArchitecture
from gptnas.spaces import END, CategoricalSequenceSpace, NB101Space, NB201Space


def test_ncode_is_one_digit_per_decision_and_matches_nb201s_own():
    space = NB201Space()
    rng = random.Random(0)
    for _ in range(200):
        g = space.sample(rng)
        assert space.ncode(g) == enc.ops_to_ncode(g) and space.from_ncode(space.ncode(g)) == g
    assert NB101Space().ncode([1] + [0] * 20 + [0, 1, 2, 0, 1]) == "1" + "0" * 20 + "01201"


def test_ncode_gives_positions_with_more_than_ten_options_fixed_width_groups():
    space = CategoricalSequenceSpace([[str(i) for i in range(12)], ["a", "b"], [str(i) for i in range(101)]])
    assert space.ncode_widths == [2, 1, 3]
    assert space.ncode([11, 1, 7]) == "111007" and space.ncode([0, 0, 100]) == "000100"
    assert space.from_ncode("111007") == [11, 1, 7]
    rng = random.Random(1)
    codes = {space.ncode(space.sample(rng)) for _ in range(500)}
    assert {len(c) for c in codes} == {6}  # every code of the space has the same length
    for bad in ("11100", "12" + "1007", "x11007"):
        with pytest.raises(InvalidArchitecture):
            space.from_ncode(bad)


def test_subspace_samples_mutates_and_crosses_over_inside_the_subset():
    parent = NB201Space()
    sub = parent.subspace([["nor_conv_3x3", "skip_connect"]] * 3 + [["none"], ["avg_pool_3x3", 2], [3]])
    rng = random.Random(0)
    allowed = sub.allowed
    for _ in range(300):
        a, b = sub.sample(rng), sub.sample(rng)
        assert sub.contains(a) and sub.is_valid(a)
        m = sub.mutate(a, rng)
        assert sub.contains(m) and m != a
        c1, c2 = sub.crossover(a, b, rng)
        assert sub.contains(c1) and sub.contains(c2)
    assert allowed[3] == [0] and allowed[4] == [2, 4]
    assert sub.key([3, 3, 3, 0, 2, 3]) == parent.key([3, 3, 3, 0, 2, 3])  # the parent's keys and encodings
    assert sub.describe() == parent.describe() and sub.vocabulary == parent.vocabulary
    assert not sub.is_valid([4, 3, 3, 0, 2, 3]) and parent.is_valid([4, 3, 3, 0, 2, 3])


def test_subspace_grammar_offers_only_allowed_tokens_and_changes_are_versioned():
    parent = CategoricalSequenceSpace([["x", "y", "z"]] * 3, name="s")
    sub = parent.subspace({0: ["x"], "p2": ["y", "z"]})
    assert sub.next_tokens([]) == ["p0=x"] and len(sub.next_tokens(["p0=x"])) == 3
    assert sub.next_tokens(["p0=x", "p1=y"]) == ["p2=y", "p2=z"] and sub.next_tokens(["p0=x"] * 3) == [END]
    v = sub.grammar_version
    sub.widen(0, ["z"])
    assert sub.next_tokens([]) == ["p0=x", "p0=z"] and sub.grammar_version == v + 1
    sub.narrow(2, ["z"])
    assert sub.next_tokens(["p0=x", "p1=y"]) == ["p2=z"]
    with pytest.raises(ValueError, match="no option left"):
        sub.narrow(1, [])
    only = parent.subspace([["x"]] * 3)
    assert only.mutate([0, 0, 0], random.Random(0)) == [0, 0, 0]  # nothing left to change: terminates, unchanged


def test_a_pretrained_gpt_is_reused_and_its_masks_follow_the_subspace(tmp_path):
    from gptnas.lm import pretrained_proposer
    parent = CategoricalSequenceSpace([["x", "y", "z"]] * 4, name="s4")
    tiny = {"model": {"n_embd": 16, "n_layer": 1, "n_head": 2}, "corpus": {"n": 81}, "train": {"epochs": 1}}
    full = pretrained_proposer(parent, tiny, cache_dir=tmp_path, progress=False)
    sub = parent.subspace([["x"], ["y", "z"], ["x", "y", "z"], ["z"]])
    gpt = pretrained_proposer(sub, tiny, cache_dir=tmp_path, progress=False)
    assert gpt.loaded_from_cache and not full.loaded_from_cache
    rng = random.Random(0)
    assert all(sub.contains(g) for g in gpt.sample(100, rng))
    assert all(sub.contains(g) for g in gpt.reconstruct_many([[0, 1, 0, 2]] * 50, [[1, 2]] * 50, rng))
    sub.widen(3, ["x"])  # the cached masks must follow
    drawn = gpt.sample(200, rng)
    assert all(sub.contains(g) for g in drawn) and {g[3] for g in drawn} == {0, 2}
