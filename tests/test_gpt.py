"""GPT proposer: vocabulary, grammar-constrained sampling, scoring, reconstruction, persistence and the cache.

Tiny models (n_embd 32, 2 layers) and small corpora keep the whole file to a few seconds on 2 CPU cores.
"""
from __future__ import annotations

import copy
import itertools
import random

import numpy as np
import pytest
import torch

from gptnas.errors import ConfigError
from gptnas.lm import (GPTConfig, GPTProposer, PretrainSettings, TrainSettings, CorpusSettings, Vocab,
                        cache_key, pretrained_proposer, sample_architectures, to_sequences, top_architectures)
from gptnas.spaces import END, CategoricalSequenceSpace, NB201Space, SearchSpace

TINY = GPTConfig(n_embd=32, n_layer=2, n_head=2, dropout=0.0)
TINY_TRAIN = TrainSettings(epochs=2, lr=3e-3, batch_size=128)


class ChainSpace(SearchSpace):
    """Variable-length toy space: 1..5 layers of conv3/conv5/pool, and no pool directly after a pool."""

    name = "toy-chain"
    OPS = ("conv3", "conv5", "pool")
    max_length = 5

    def sample(self, rng):
        n = rng.randint(1, self.max_length)
        arch = []
        for _ in range(n):
            arch.append(rng.choice([i for i in range(3) if not (arch and arch[-1] == 2 and i == 2)]))
        return arch

    def is_valid(self, arch):
        return (1 <= len(arch) <= self.max_length and all(a in (0, 1, 2) for a in arch)
                and not any(a == b == 2 for a, b in zip(arch, arch[1:])))

    def to_tokens(self, arch):
        return [self.OPS[a] for a in arch]

    def from_tokens(self, tokens):
        arch = [self.OPS.index(t) for t in tokens]
        assert self.is_valid(arch), tokens
        return arch

    def next_tokens(self, prefix):
        if len(prefix) == self.max_length:
            return [END]
        ops = [o for o in self.OPS if not (prefix and prefix[-1] == "pool" and o == "pool")]
        return ops + ([END] if prefix else [])

    @property
    def vocabulary(self):
        return list(self.OPS)


@pytest.fixture(scope="module")
def space():
    return NB201Space()


@pytest.fixture(scope="module")
def pretrained(space):
    """A tiny GPT pre-trained on 2,000 NB201 cells (about 0.3 s)."""
    return GPTProposer(space, config=TINY).fit(sample_architectures(space, 2000, seed=0), TINY_TRAIN,
                                               progress=False)


# Vocabulary and corpus -----------------------------------------------------------------------------------------
def test_vocab_encode_decode_round_trip(space):
    v = Vocab.for_space(space)
    assert v.tokens[:3] == ["<pad>", "<bos>", END] and len(v) == 3 + 30
    toks = space.to_tokens([0, 1, 2, 3, 4, 0])
    ids = v.encode(toks)
    assert ids[0] == v.bos_id and ids[-1] == v.end_id and len(ids) == 8
    assert v.decode(ids + [v.pad_id]) == toks
    batch, mask = v.batch([toks, toks[:3]])
    assert batch.shape == (2, 8) and mask[1].tolist() == [1] * 5 + [0] * 3
    assert batch[1, 5:].tolist() == [v.pad_id] * 3


def test_corpus_unique_seeded_and_complete(space):
    a = sample_architectures(space, 500, seed=3)
    assert a == sample_architectures(space, 500, seed=3)
    assert len({space.key(x) for x in a}) == 500 and all(space.is_valid(x) for x in a)
    assert len(sample_architectures(space, 15_625, seed=0)) == 15_625  # the whole space
    seq = to_sequences(space, a[:1])[0]
    assert seq[0] == "<bos>" and seq[-1] == END and len(seq) == 8


def test_top_architectures_ignores_nan():
    values = np.array([0.5, np.nan, 0.9, 0.7, np.nan, 0.9])
    top = top_architectures(values, lambda i: [i], 3)
    assert top == [[2], [5], [3]]
    assert len(top_architectures(values, lambda i: [i], 10)) == 4


# Sampling --------------------------------------------------------------------------------------------------------
def test_grammar_constrained_sampling_is_always_valid(space):
    # An untrained model spreads mass over all 33 tokens: without the grammar mask nearly every sample breaks.
    prop = GPTProposer(space, config=TINY)
    genomes = prop.sample(300, random.Random(0))
    assert len(genomes) == 300 and all(space.is_valid(g) for g in genomes)
    for pos in range(6):  # every op is reachable at every edge
        assert {g[pos] for g in genomes} == set(range(5))


def test_same_seed_same_proposals(pretrained, space):
    assert pretrained.sample(50, random.Random(7)) == pretrained.sample(50, random.Random(7))
    assert pretrained.sample(50, random.Random(7)) != pretrained.sample(50, random.Random(8))
    gs = [space.sample(random.Random(i)) for i in range(20)]
    pos = [[0, 3], [1, 2, 4], [5]] * 6 + [[0, 1, 2, 3, 4, 5]] * 2
    r1 = pretrained.reconstruct_many(gs, pos, random.Random(11))
    assert r1 == pretrained.reconstruct_many(gs, pos, random.Random(11))


def test_sampling_does_not_touch_global_random_state(pretrained):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    pretrained.sample(20, random.Random(0))
    pretrained.reconstruct([0, 1, 2, 3, 4, 0], [1, 2], random.Random(0))
    assert torch.equal(torch.rand(3), before)


def test_temperature_and_top_k(pretrained, space):
    greedy = pretrained.sample(20, random.Random(0), temperature=0)
    assert all(g == greedy[0] for g in greedy)
    top1 = pretrained.sample(20, random.Random(1), top_k=1)
    assert top1 == greedy


# Fine-tuning and scoring -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tuned(pretrained):
    prop = copy.deepcopy(pretrained)
    prop.finetune([[3, 3, 1, 3, 2, 0]], epochs=10, lr=1e-2)
    return prop


def test_finetuned_arch_is_sampled_far_above_chance(tuned):
    target = [3, 3, 1, 3, 2, 0]
    hits = sum(g == target for g in tuned.sample(200, random.Random(2)))
    assert hits >= 50  # chance: 200 / 15,625 ≈ 0.013


def test_score_ranks_finetuned_arch_first(tuned, space):
    rng = random.Random(4)
    others = [space.sample(rng) for _ in range(100)]
    others = [g for g in others if g != [3, 3, 1, 3, 2, 0]]
    s = tuned.score([[3, 3, 1, 3, 2, 0]] + others)
    assert s.shape == (len(others) + 1,) and s.dtype == np.float64
    assert s[0] > s[1:].max()
    assert np.all(s <= 0)


def test_score_is_sequence_log_likelihood(space):
    prop = GPTProposer(space, config=TINY)
    g = [0, 1, 2, 3, 4, 0]
    ids, mask = prop.vocab.batch([space.to_tokens(g)])
    with torch.no_grad():
        logp = torch.log_softmax(prop.model(input_ids=ids).logits[0, :-1], -1)
    expected = float(logp.gather(-1, ids[0, 1:, None]).sum())
    assert prop.score([g])[0] == pytest.approx(expected, abs=1e-4)
    batched = prop.score([g, [1] * 6, g])
    assert batched[0] == pytest.approx(batched[2]) and batched[0] == pytest.approx(expected, abs=1e-4)


def test_training_is_deterministic_for_a_seed(space):
    archs = sample_architectures(space, 300, seed=1)
    a = GPTProposer(space, config=GPTConfig(n_embd=32, n_layer=1, n_head=2, dropout=0.1), seed=5)
    b = GPTProposer(space, config=GPTConfig(n_embd=32, n_layer=1, n_head=2, dropout=0.1), seed=5)
    for p in (a, b):
        p.fit(archs, TrainSettings(epochs=1, batch_size=64, seed=9), progress=False)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.train_log[-1]["losses"][0] < np.log(33)  # it learned something


# Reconstruction --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [512, 4])  # 4 forces the sampling path for every gap pattern of 2+ gaps
def test_reconstruct_changes_only_eliminated_positions(pretrained, space, limit):
    prop = copy.copy(pretrained)
    prop.enumerate_limit = limit
    rng = random.Random(0)
    changed = 0
    for _ in range(40):
        g = space.sample(rng)
        pos = sorted(rng.sample(range(6), rng.randint(1, 6)))
        new = prop.reconstruct(g, pos, rng, exclude_original=True)
        assert space.is_valid(new)
        assert all(new[j] == g[j] for j in range(6) if j not in pos)
        assert new != g  # exclude_original: something eliminated always changes
        changed += sum(new[j] != g[j] for j in pos)
    assert changed > 40
    same = pretrained.reconstruct([0, 1, 2, 3, 4, 0], [], rng)
    assert same == [0, 1, 2, 3, 4, 0]


def test_reconstruct_honours_kept_tokens_after_the_gap(space):
    # Train on cells whose last edge repeats the first; eliminate only the FIRST edge. A left-to-right decoder
    # sees nothing at position 0 (it would match the last edge 20 % of the time); whole-candidate scoring sees it.
    archs = [list(a) + [a[0]] for a in itertools.product(range(5), repeat=5)]
    random.Random(0).shuffle(archs)
    prop = GPTProposer(space, config=TINY, seed=1)
    prop.fit(archs[:800], TrainSettings(epochs=6, lr=6e-3, batch_size=32), progress=False)
    rng = random.Random(0)
    gs = [space.sample(rng) for _ in range(60)]
    out = prop.reconstruct_many(gs, [[0]] * 60, rng)
    assert all(o[1:] == g[1:] for o, g in zip(out, gs))
    assert sum(o[0] == o[5] for o in out) >= 48  # ≥ 80 %, chance is 20 %


def test_reconstruct_rejects_bad_positions(pretrained):
    with pytest.raises(IndexError):
        pretrained.reconstruct([0] * 6, [6], random.Random(0))


# Persistence and cache -------------------------------------------------------------------------------------------
def test_save_pretrained_round_trip(pretrained, space, tmp_path):
    pretrained.save_pretrained(tmp_path / "m")
    loaded = GPTProposer.from_pretrained(tmp_path / "m", space)
    gs = pretrained.sample(30, random.Random(0))
    np.testing.assert_array_equal(loaded.score(gs), pretrained.score(gs))
    assert loaded.config == pretrained.config
    other = CategoricalSequenceSpace([["a", "b"]] * 6, name="other")
    with pytest.raises(ConfigError):
        GPTProposer.from_pretrained(tmp_path / "m", other)


def test_state_dict_round_trip(pretrained, space):
    fresh = GPTProposer(space, config=TINY, seed=99)
    gs = pretrained.sample(30, random.Random(0))
    assert not np.allclose(fresh.score(gs), pretrained.score(gs))
    fresh.load_state_dict(pretrained.state_dict())
    np.testing.assert_array_equal(fresh.score(gs), pretrained.score(gs))


def test_cache_trains_once(space, tmp_path):
    settings = PretrainSettings(TINY, CorpusSettings(n=300, seed=0), TrainSettings(epochs=1, batch_size=64))
    first = pretrained_proposer(space, settings, cache_dir=tmp_path, progress=False)
    assert first.loaded_from_cache is False and first.train_log[-1]["kind"] == "pretrain"
    entries = list((tmp_path / "gpt").iterdir())
    assert [e.name for e in entries] == [cache_key(space, settings)]  # no temporary directory left behind
    mtime = (entries[0] / "gptnas.json").stat().st_mtime_ns
    second = pretrained_proposer(space, settings, cache_dir=tmp_path, progress=False)
    assert second.loaded_from_cache is True
    assert (entries[0] / "gptnas.json").stat().st_mtime_ns == mtime
    gs = first.sample(20, random.Random(0))
    np.testing.assert_array_equal(first.score(gs), second.score(gs))
    # any setting, seed included, is part of the key
    reseeded = PretrainSettings(TINY, CorpusSettings(n=300, seed=0), TrainSettings(epochs=1, batch_size=64, seed=1))
    assert cache_key(space, reseeded) != cache_key(space, settings)


def test_cache_dir_from_environment(space, tmp_path, monkeypatch):
    monkeypatch.setenv("GPTNAS_CACHE", str(tmp_path))
    settings = {"model": TINY.to_dict(), "corpus": {"n": 100}, "train": {"epochs": 1}}
    pretrained_proposer(space, settings, progress=False)
    assert (tmp_path / "gpt" / cache_key(space, PretrainSettings.from_dict(settings)) / "gptnas.json").is_file()


# Variable-length spaces ------------------------------------------------------------------------------------------
def test_variable_length_space_samples_valid_sequences_of_varying_length():
    space = ChainSpace()
    prop = GPTProposer(space, config=TINY)  # untrained: only the grammar keeps "pool pool" out
    genomes = prop.sample(300, random.Random(0))
    assert all(space.is_valid(g) for g in genomes)
    assert len({len(g) for g in genomes}) >= 4
    prop.fit(sample_architectures(space, 200, seed=0), TrainSettings(epochs=2, batch_size=32), progress=False)
    assert all(space.is_valid(g) for g in prop.sample(100, random.Random(1)))
    # reconstruct keeps the length; the kept "pool" after the gap rules out "pool" in it
    for seed in range(20):
        new = prop.reconstruct([0, 0, 2], [1], random.Random(seed))
        assert len(new) == 3 and new[2] == 2 and new[1] != 2 and space.is_valid(new)
