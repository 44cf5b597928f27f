"""GPT-NAS with no prior (issue 13): the GPT's local move, the adaptive operator mix, presets, a corpus that
follows the space's size, and the fast paths that must not change what is computed."""
from __future__ import annotations

import logging
import random

import numpy as np
import pytest

import gptnas
from gptnas.core.types import Individual, clone, make_individual
from gptnas.errors import ConfigError
from gptnas.lm import GPTConfig, GPTProposer, PretrainSettings, TrainSettings
from gptnas.lm.cache import cache_key, pretrained_proposer, resolve
from gptnas.lm.corpus import LARGE_CORPUS, SMALL_CORPUS, corpus_size
from gptnas.lm.fill import enumerate_fillings
from gptnas.methods.gptnas import GPTSettings
from gptnas.methods.gptnas.operators.adaptive import OperatorMix
from gptnas.methods.gptnas.operators.local import TokenFrequencies, mut_gpt_local, neighbour_tokens
from gptnas.spaces import CategoricalSequenceSpace, NB201Space
from helpers import TIMEOUT

TINY = GPTConfig(n_embd=16, n_layer=1, n_head=2, dropout=0.0)


@pytest.fixture(scope="module")
def space():
    return NB201Space()


@pytest.fixture(scope="module")
def proposer(space):
    p = GPTProposer(space, config=TINY, seed=0)
    rng = random.Random(0)
    p.fit([space.sample(rng) for _ in range(300)], TrainSettings(epochs=1, batch_size=64), progress=False)
    return p


# Fillings: the product fast path lists exactly what the grammar walk lists, in the same order ----------------------
@pytest.mark.parametrize("seed", range(5))
def test_product_fillings_equal_the_grammar_walk(proposer, space, seed, monkeypatch):
    rng = random.Random(seed)
    sub = space.subspace([[0, 1, 2]] * 3 + [[1, 3]] * 3)
    cases = []
    for sp in (space, sub):
        g = GPTProposer(sp, config=TINY, seed=0).grammar if sp is not space else proposer.grammar
        for _ in range(20):
            toks = sp.to_tokens(sp.sample(rng))
            gaps = sorted(rng.sample(range(6), rng.randint(1, 4)))
            cases.append((g, toks, gaps))
        bad = list(space.to_tokens(space.sample(rng)))
        bad[5] = "p0=x"  # invalid outside the gaps: no filling is valid
        cases.append((g, bad, [0, 1]))
    for g, toks, gaps in cases:
        fast = enumerate_fillings(g, toks, gaps, limit=10_000)
        with monkeypatch.context() as m:
            m.setattr(type(g.space), "positions_independent", property(lambda self: False))
            slow = enumerate_fillings(g, toks, gaps, limit=10_000)
        assert fast == slow
    assert enumerate_fillings(proposer.grammar, cases[0][1], list(range(6)), limit=100) is None  # 5^6 > 100


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.7, 3), (0.0, None)])
def test_forced_decoding_fast_path_draws_what_the_grammar_walk_draws(proposer, space, temperature, top_k,
                                                                    monkeypatch):
    from gptnas.lm.decoding import generate, torch_generator
    rng = random.Random(1)
    forced = []
    for _ in range(60):
        t = list(space.to_tokens(space.sample(rng)))
        forced.append([None if rng.random() < 0.5 else tok for tok in t])
    forced[7][3] = "e01=none"  # a kept token the position does not allow: that row dies
    forced[8] = [None] * 6

    def run():
        return generate(proposer.model, proposer.vocab, proposer.grammar, proposer.config.max_length, len(forced),
                        torch_generator(random.Random(5)), temperature, top_k, forced=forced)
    fast = run()
    with monkeypatch.context() as m:
        m.setattr(type(space), "positions_independent", property(lambda self: False))
        slow = run()
    assert fast == slow and fast[7] is None and all(r is not None for i, r in enumerate(fast) if i != 7)
    assert all(r[j] == t for r, tmpl in zip(fast, forced) if r for j, t in enumerate(tmpl) if t is not None)


def test_positions_independent_only_without_constraints(space):
    from gptnas.spaces.nb101 import NB101Space
    assert space.positions_independent
    assert CategoricalSequenceSpace([["a", "b"]] * 3).positions_independent
    assert not NB101Space().positions_independent  # its cells must be connected DAGs


def test_batched_scores_equal_one_at_a_time(proposer, space):
    """Scoring many candidates in one padded batch gives each the likelihood it has alone."""
    rng = random.Random(3)
    seqs = [space.to_tokens(space.sample(rng)) for _ in range(40)]
    batched = proposer.score_tokens(seqs)
    single = np.array([proposer.score_tokens([s])[0] for s in seqs])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5)


# The local move ------------------------------------------------------------------------------------------------
def test_local_move_changes_one_position_to_an_unevaluated_neighbour(proposer, space):
    rng = random.Random(0)
    parent = space.sample(rng)
    evaluated = {space.key(space.from_tokens(t)) for t in neighbour_tokens(proposer, space.to_tokens(parent))[:20]}
    for _ in range(30):
        ind = make_individual(parent, "random", 1.0)
        (child,) = mut_gpt_local(ind, proposer, rng, evaluated=lambda: evaluated)
        diff = sum(a != b for a, b in zip(child, parent))
        assert diff == 1 and child.origin == "gpt-local" and not child.fitness.valid
        assert space.key(child) not in evaluated  # only 4 of the 24 neighbours were left


def test_local_move_at_zero_temperature_is_the_most_likely_neighbour(proposer, space):
    rng = random.Random(1)
    parent = space.sample(rng)
    nb = neighbour_tokens(proposer, space.to_tokens(parent))
    best = nb[int(np.argmax(proposer.score_tokens(nb)))]
    (child,) = mut_gpt_local(make_individual(parent), proposer, rng, temperature=0.0)
    assert space.to_tokens(child) == best


def test_token_frequencies_are_add_one_smoothed_per_position():
    f = TokenFrequencies(vocab_size=4)
    f.add([["a", "b"], ["a", "c"]])
    np.testing.assert_allclose(f.log_prob([["a", "b"], ["c", "a"]]),
                               [np.log(3 / 6) + np.log(2 / 6), np.log(1 / 6) + np.log(1 / 6)])
    f.add([["c", "b"]])
    assert f.n == 3 and f.log_prob([["a", "b"]])[0] == pytest.approx(np.log(3 / 7) + np.log(3 / 7))


def test_local_move_divides_the_gpt_by_the_background(proposer, space):
    """With ``background`` the move maximises log l - background: at temperature 0 a background that penalises
    the GPT's favourite neighbour makes the move take the next one."""
    rng = random.Random(1)
    parent = space.sample(rng)
    nb = neighbour_tokens(proposer, space.to_tokens(parent))
    ll = proposer.score_tokens(nb)
    first, second = np.argsort(-ll)[:2]
    penalty = lambda cands: np.array([100.0 if c == nb[first] else 0.0 for c in cands])
    (child,) = mut_gpt_local(make_individual(parent), proposer, rng, temperature=0.0, background=penalty)
    assert space.to_tokens(child) == nb[second]
    (plain,) = mut_gpt_local(make_individual(parent), proposer, rng, temperature=0.0)
    assert space.to_tokens(plain) == nb[first]


def test_contrast_penalises_the_tokens_the_search_drew_often():
    from gptnas.core.history import History
    from gptnas.methods.gptnas import GPTNAS
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 3, name="three")
    m = GPTNAS(gpt={"contrast": 2.0})
    m.g = m.gpt.resolved()
    m.space, m._freq = space, TokenFrequencies(vocab_size=5)
    h = History(space.parse)
    for arch in ([0, 0, 0], [0, 1, 2], [1, 0, 0]):
        h.append(space.key(arch), 1.0, False, generation=1, origin="random")
    m._history = h
    tok = space.to_tokens
    often, rarely, never = m._background([tok([0, 1, 1]), tok([1, 1, 1]), tok([2, 1, 1])])
    # subtracted from the GPT's log-likelihood: the more often the search drew a token, the more it is discounted
    assert 0 > often > rarely > never  # first position: "a" drawn twice, "b" once, "c" never
    assert often - rarely == pytest.approx(2.0 * (np.log(3 / 8) - np.log(2 / 8)))
    h.append(space.key([2, 2, 2]), 1.0, False, generation=2, origin="gpt-local")
    assert m._background([tok([2, 1, 1])])[0] > never  # the history grew: "c" is no longer unseen


def test_local_move_falls_back_when_every_neighbour_is_evaluated(proposer, space):
    rng = random.Random(2)
    parent = space.sample(rng)
    everything = {space.key(space.from_tokens(t)) for t in neighbour_tokens(proposer, space.to_tokens(parent))}
    called = []

    def classic(ind):
        called.append(list(ind))
        ind.origin = "mutation"
        return (ind,)
    (child,) = mut_gpt_local(make_individual(parent), proposer, rng, evaluated=lambda: everything,
                             fallback=classic)
    assert called == [parent] and child.origin == "mutation"


# The adaptive operator mix ------------------------------------------------------------------------------------
class _Hist:
    def __init__(self):
        self.rows = []

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)


class _E:
    def __init__(self, key, fitness):
        self.key, self.fitness, self.failed = key, fitness, False


def _two_op_mix(names=("climber", "record"), **kw):
    """An OperatorMix over two operators that each make a fresh child (keyed by a counter) named after them."""
    counter = iter(range(10 ** 6))

    def op(name):
        def f(ind):
            ind[:] = [next(counter)]
            ind.origin = name
            return (ind,)
        return f
    return OperatorMix({n: op(n) for n in names}, random.Random(0), key=lambda ind: str(ind[0]), **kw)


def test_operator_mix_leans_on_the_operator_that_pays_off():
    mix = _two_op_mix(("good", "bad"))
    assert mix.probabilities() == pytest.approx({"good": 0.5, "bad": 0.5})
    hist = _Hist()
    for _ in range(200):
        parent = make_individual([0], "random", 1.0)
        (child,) = mix(parent)
        hist.rows.append(_E(str(child[0]), 2.0 if child.origin == "good" else 0.0))  # good beats its parent
        mix.update(hist)
    p = mix.probabilities()
    assert p["good"] > 0.85 and p["bad"] >= 0.1  # the floor keeps the other one tried
    state = mix.state_dict()
    other = _two_op_mix(("good", "bad"))
    other.load_state_dict(state)
    assert other.probabilities() == p and other.seen == mix.seen


def _feed(mix, n, fitness_of):
    """``n`` children of a parent at fitness 1.0, each scored by ``fitness_of(operator, step)``."""
    hist = _Hist()
    hist.rows.append(_E("seed", 5.0))  # an earlier evaluation: the best so far, above every parent
    for step in range(n):
        (child,) = mix(make_individual([0], "random", 1.0))
        hist.rows.append(_E(str(child[0]), fitness_of(child.origin, step)))
        mix.update(hist)
    return mix


def test_operator_mix_credit_best_rewards_only_new_records():
    # "climber" always beats its parent but never the best; "record" sets a new best every time
    score = lambda name, step: 2.0 if name == "climber" else 10.0 + step
    by_parent = _feed(_two_op_mix(), 200, score).probabilities()
    by_best = _feed(_two_op_mix(credit="best"), 200, score).probabilities()
    assert by_parent["climber"] == pytest.approx(by_parent["record"], abs=0.1)
    assert by_best["record"] > 0.85 > 0.15 > by_best["climber"] >= 0.1


def test_operator_mix_draws_uniformly_while_the_search_stalls():
    # "climber" wins against its parent, nothing sets a record after the first child
    score = lambda name, step: 2.0 if name == "climber" else 0.0
    mix = _feed(_two_op_mix(stall=30), 29, score)
    assert mix.since_best == 29 and mix.probabilities()["climber"] > 0.6
    mix = _feed(_two_op_mix(stall=30), 30, score)
    assert mix.probabilities() == {"climber": 0.5, "record": 0.5}
    other = _two_op_mix(stall=30)
    other.load_state_dict(mix.state_dict())
    assert (other.best, other.since_best, other.probabilities()) == (5.0, 30, mix.probabilities())


def test_operator_mix_stall_to_one_operator_uses_only_it_until_a_new_best():
    mix, hist = _two_op_mix(stall=30, stall_to="record"), _Hist()
    hist.rows.append(_E("seed", 5.0))  # the best so far; no child beats it for 30 evaluations
    for _ in range(30):
        (child,) = mix(make_individual([0], "random", 1.0))
        hist.rows.append(_E(str(child[0]), 2.0 if child.origin == "climber" else 0.0))
        mix.update(hist)
    assert mix.probabilities() == {"climber": 0.0, "record": 1.0}
    picked = [mix(make_individual([0], "random", 1.0))[0] for _ in range(20)]
    assert {c.origin for c in picked} == {"record"}
    hist.rows.append(_E(str(picked[-1][0]), 9.0))  # a new best: the adaptive choice is back
    mix.update(hist)
    assert mix.since_best == 0 and 0.1 <= mix.probabilities()["record"] < 0.9


# Presets and settings -------------------------------------------------------------------------------------------
def test_presets_resolve_unset_keys_and_user_keys_win():
    local = GPTSettings().resolved(layer=False)
    assert (local.preset, local.loop, local.mutation, local.weighting) == ("local", "rea", "adaptive", "rank")
    assert local.pretrain["model"]["n_layer"] == 1
    paper = GPTSettings().resolved(layer=True)
    assert (paper.preset, paper.loop, paper.mutation, paper.temperature) == ("paper", "ga", "reconstruct", 1.0)
    assert paper.pretrain["corpus"]["n"] == 15_625
    mine = GPTSettings(preset="paper", loop="rea", temperature=0.7,
                       pretrain={"model": {"n_embd": 64}}).resolved()
    assert (mine.loop, mine.mutation, mine.temperature) == ("rea", "reconstruct", 0.7)
    assert mine.pretrain["model"] == {"n_embd": 64, "n_layer": 4, "n_head": 4}
    with pytest.raises(ConfigError, match="gptnas option preset must be one of"):
        GPTSettings(preset="fast").validate()
    with pytest.raises(ConfigError, match="gptnas option finetune_lr must be > 0"):
        GPTSettings(finetune_lr=0).validate()


def test_cli_preset_flag_sets_gpt_preset(tmp_path, nb201_dir):
    import subprocess
    import sys
    import yaml
    out = tmp_path / "r"
    res = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", str(nb201_dir),
                          "--method", "gptnas", "--preset", "paper", "--budget", "12", "--out", str(out),
                          "--set", "gpt.enabled=false", "--no-progress", "-q"],
                              capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert yaml.safe_load((out / "config.yaml").read_text())["gptnas"]["preset"] == "paper"
    bad = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", str(nb201_dir),
                          "--preset", "quick", "--budget", "12", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert bad.returncode == 2 and "gptnas option preset must be one of" in bad.stderr


# Corpus size follows the space ------------------------------------------------------------------------------------
def test_corpus_size_follows_the_space(space):
    chain = CategoricalSequenceSpace([["a", "b", "c"]] * 4)  # 81 architectures
    assert corpus_size(chain, None) == 81
    assert corpus_size(space, None) == SMALL_CORPUS  # 15,625: enumerable, so a grammar-sized corpus
    big = CategoricalSequenceSpace([[str(i) for i in range(10)]] * 8)  # 10^8
    assert corpus_size(big, None) == LARGE_CORPUS
    assert corpus_size(chain, 50) == 50
    auto, explicit = PretrainSettings(), PretrainSettings.from_dict({"corpus": {"n": 81}})
    assert resolve(chain, auto).corpus.n == 81 and cache_key(chain, auto) == cache_key(chain, explicit)


def test_small_space_pretrains_without_the_shortfall_warning(tmp_path, caplog):
    chain = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="chain4")
    with caplog.at_level(logging.INFO, logger="gptnas"):
        prop = pretrained_proposer(chain, {"model": {"n_embd": 16, "n_layer": 1, "n_head": 2},
                                           "train": {"epochs": 1, "batch_size": 64}}, cache_dir=tmp_path,
                                 progress=False)
    text = caplog.text
    assert "few enough to enumerate" in text and "found only" not in text
    assert prop.train_log[0]["steps"] == 2  # the 81 members once, in batches of 64


# Clone and the engine's fast paths --------------------------------------------------------------------------------
def test_clone_is_a_deep_copy():
    a = make_individual([1, 2, 3], "gpt", 4.0)
    a.parent_key = "k"
    b = clone(a)
    assert type(b) is Individual and list(b) == [1, 2, 3] and b.fitness.values == (4.0,) and b.fitness is not a.fitness
    assert (b.origin, b.parent_key) == ("gpt", "k")
    b[0] = 9
    del b.fitness.values
    assert a[0] == 1 and a.fitness.values == (4.0,)
    nested = Individual([[1], [2]])
    c = clone(nested)
    c[0].append(5)
    assert nested[0] == [1]


# End to end on a user's own space --------------------------------------------------------------------------------
def test_default_gptnas_on_a_users_space_uses_both_moves_and_is_deterministic(tmp_path):
    space = CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")
    w = np.random.default_rng(0).normal(size=(8, 3))

    def evaluate(arch):
        return float(sum(w[i, a] for i, a in enumerate(arch)))
    gpt = {"cache_dir": str(tmp_path / "cache"), "pretrain": {"train": {"epochs": 1}}}
    res = gptnas.search(space, evaluate, method="gptnas", budget=40, seed=0, out=tmp_path / "a", progress=False,
                        gpt=gpt)
    origins = {r["origin"] for r in res.archive}
    assert {"gpt-local", "mutation"} <= origins
    again = gptnas.search(space, evaluate, method="gptnas", budget=40, seed=0, progress=False, gpt=gpt)
    assert [r["arch"] for r in again.archive] == [r["arch"] for r in res.archive]
    # the default never looks at its budget: a shorter search is the start of this one (the experiments rely on it)
    short = gptnas.search(space, evaluate, method="gptnas", budget=25, seed=0, progress=False, gpt=gpt)
    assert [r["arch"] for r in short.archive] == [r["arch"] for r in res.archive][:25]


@pytest.mark.parametrize("config", [TINY, GPTConfig(n_embd=32, n_layer=2, n_head=4, activation="gelu"),
                                    GPTConfig(n_embd=48, n_layer=3, n_head=3)])
def test_eval_forward_equals_the_transformers_forward(space, config):
    """Scoring runs the model's layers without transformers' wrapper: the logits, and so the likelihoods every
    proposal is drawn from, are the wrapper's (padding included)."""
    import torch
    from gptnas.lm.model import eval_logits
    rng = random.Random(4)
    p = GPTProposer(space, config=config, seed=1)
    p.fit([space.sample(rng) for _ in range(200)], TrainSettings(epochs=1, batch_size=64), progress=False)
    seqs = [space.to_tokens(space.sample(rng))[:rng.randint(1, 6)] for _ in range(30)]  # varied lengths: padding
    ids, mask = p.vocab.batch(seqs)
    with torch.no_grad():
        ref = p.model(input_ids=ids, attention_mask=mask).logits
        fast = eval_logits(p.model, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(fast[real], ref[real], rtol=1e-5, atol=1e-5)


def test_neighbours_of_a_free_space_are_those_the_grammar_accepts(proposer, space, monkeypatch):
    rng = random.Random(6)
    toks = space.to_tokens(space.sample(rng))
    fast = neighbour_tokens(proposer, toks)
    monkeypatch.setattr(type(space), "positions_independent", property(lambda self: False))
    assert fast == neighbour_tokens(proposer, toks) and len(fast) == 24


def test_mix_options_are_validated_recorded_and_reach_the_operator_mix(tmp_path, monkeypatch):
    import gptnas
    import gptnas.methods.gptnas.method as gm
    built = []

    class Recording(OperatorMix):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            built.append(self)
    monkeypatch.setattr(gm, "OperatorMix", Recording)
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 5, name="five")
    for bad, match in (({"mix_floor": 1.5}, "mix_floor"), ({"mix_credit": "child"}, "mix_credit"),
                       ({"mix_stall": 0}, "mix_stall"), ({"contrast": -1}, "contrast"),
                       ({"contrast": "x"}, "contrast")):
        with pytest.raises(ConfigError, match=match):
            gptnas.search(space, lambda a: float(sum(a)), method="gptnas", budget=12, progress=False, gpt=bad)
    res = gptnas.search(space, lambda a: float(sum(a)), method="gptnas", budget=30, progress=False,
                        gpt={"mix_floor": 1.0, "mix_stall": 40, "mix_credit": "best",
                             "pretrain": {"corpus": {"n": 200}, "train": {"epochs": 1}}},
                        out=tmp_path / "run")
    assert res.status == "complete"
    import yaml
    g = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["gptnas"]
    assert (g["mix_floor"], g["mix_stall"], g["mix_credit"]) == (1.0, 40, "best")
    assert [(m.floor, m.stall, m.credit) for m in built] == [(1.0, 40, "best")]


def test_local_revisit_allows_repeats_only_while_the_search_finds_new_architectures():
    from gptnas.core.history import History
    from gptnas.methods.gptnas import GPTNAS
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="four")
    for revisit in (False, True):
        m = GPTNAS(gpt={"local_revisit": revisit})
        m.g, m.population = m.gpt.resolved(), 10
        h = History(space.parse)
        for arch in ([0, 0, 0, 0], [1, 0, 0, 0]):
            h.append(space.key(arch), 1.0, False, generation=5, origin="random")
        m._history = h
        for now, avoided in ((6, not revisit), (15, not revisit), (16, True), (40, True)):
            h.generation = now  # generations since the last new evaluation: now - 5 - 1
            assert m._avoid() == (set(h.keys()) if avoided else set()), (revisit, now)


def test_local_revisit_search_spends_its_whole_budget():
    """With repeats allowed, the GPT soon proposes only evaluated neighbours of its favourites (REA's repeats are
    free): without the rule that forbids them after a population's worth of idle generations, this search stalls
    at 59 of 100 evaluations."""
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="six")
    res = gptnas.search(space, lambda a: float(sum(a)), method="gptnas", budget=100, seed=1, progress=False,
                        gpt={"local_revisit": True, "pretrain": {"train": {"epochs": 1}}},
                        search={"stall_limit": 50})
    assert res.status == "complete" and len(res.archive) == 100
    assert {"gpt-local", "mutation"} <= set(r["origin"] for r in res.archive)


def test_local_revisit_is_validated_and_recorded(tmp_path):
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="four")
    with pytest.raises(ConfigError, match="local_revisit"):
        gptnas.search(space, lambda a: float(sum(a)), method="gptnas", budget=12, progress=False,
                      gpt={"local_revisit": "yes"})
    gptnas.search(space, lambda a: float(sum(a)), method="gptnas", budget=12, progress=False,
                  gpt={"local_revisit": True, "pretrain": {"train": {"epochs": 1}}}, out=tmp_path / "run")
    import yaml
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["gptnas"]["local_revisit"] is True


def test_a_run_recorded_before_the_revisit_keys_resumes_as_it_was_run(tmp_path):
    """A run directory whose config.yaml predates gpt.local_revisit / mix_stall / mix_stall_draw / contrast resumes
    with the behaviour it had (no repeats, no stall rule, the GPT alone); a new run takes the current defaults."""
    import yaml
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 4, name="four")
    kw = dict(method="gptnas", budget=12, progress=False, gpt={"pretrain": {"train": {"epochs": 1}}})
    new = gptnas.search(space, lambda a: float(sum(a)), out=tmp_path / "run", **kw)
    g = new.config.sections["gptnas"]
    assert [g[k] for k in ("local_revisit", "mix_stall", "mix_stall_draw", "contrast")] == [False, 30, "classic", 1.0]
    path = tmp_path / "run" / "config.yaml"
    d = yaml.safe_load(path.read_text())
    d["gpt"] = d.pop("gptnas")  # the section's name then
    for k in ("local_revisit", "mix_stall", "mix_stall_draw", "contrast"):
        del d["gpt"][k]
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    (tmp_path / "run" / ".config.json").unlink()  # nor did such a run record how it started
    old = gptnas.resume(tmp_path / "run", space=space, evaluate=lambda a: float(sum(a)), progress=False)
    g = old.config.sections["gptnas"]
    assert [g[k] for k in ("local_revisit", "mix_stall", "mix_stall_draw", "contrast")] == [False, None, "uniform", 0.0]
