"""GPT-NAS's block-chain space, its layer encoding, the layer GPT + block classifier, and the method on it."""
import os
import random
import subprocess
import sys
import json
from pathlib import Path

import pytest
import torch

from gptnas.config import RunConfig, SearchConfig
from gptnas.encodings.layers import decode, encode, trace_layers
from gptnas.evaluators.base import EvalResult, Evaluator
from gptnas.methods.gptnas.layer_proposer import LayerGPTProposer, chain_tokens, pretrained_layer_proposer
from gptnas.spaces.macro.blocks import BLOCK_TYPES, build_block
from gptnas.search.driver import run_in_memory
from gptnas.spaces import MacroSpace, get_space

#: A layer GPT small enough to build in seconds.
TINY = {"n_embd": 32, "pretrain_cells": 40, "finetune_epochs": 1, "finetune_stride": 8, "classifier_chains": 60,
        "classifier_epochs": 10}
SHAPES = [(3, 32, 32), (3, 224, 224), (1, 8, 8), (3, 16, 16)]


@pytest.mark.parametrize("kind", range(len(BLOCK_TYPES)))
@pytest.mark.parametrize("change", [(16, 16, 1), (16, 32, 2), (8, 16, 1)])
def test_every_block_maps_to_the_shape_the_chain_asks_for(kind, change):
    c_in, c_out, stride = change
    y = build_block(kind, c_in, c_out, stride)(torch.randn(2, c_in, 9, 9))
    assert y.shape == (2, c_out, -(-9 // stride), -(-9 // stride))


def test_15_block_types_and_chain_lengths_10_to_20():
    sp, rng = MacroSpace(), random.Random(0)
    lengths = {len(sp.sample(rng)) for _ in range(400)}
    assert len(BLOCK_TYPES) == 15 and lengths == set(range(10, 21))
    assert sp.is_valid([0] * 10) and not sp.is_valid([0] * 9) and not sp.is_valid([0] * 21)
    assert not sp.is_valid([15] * 10)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_sampled_chain_builds_and_runs_for_cifar_imagenet_and_small_inputs(shape):
    sp, rng = MacroSpace(), random.Random(1)
    for _ in range(12):
        arch = sp.sample(rng)
        if shape[1] >= 128:  # ImageNet-sized: shapes only (meta device), the full check would take minutes
            with torch.device("meta"):
                y = sp.to_module(arch, shape, 1000)(torch.empty(2, *shape, device="meta"))
            assert y.shape == (2, 1000)
        else:
            assert sp.to_module(arch, shape, 10)(torch.randn(2, *shape)).shape == (2, 10)


def test_resolution_halves_only_at_the_two_stage_boundaries():
    sp = MacroSpace(width=8)
    for n in (10, 17, 20):
        plan = sp.plan(n, 32)
        assert [p[2] for p in plan].count(2) == 2 and plan[0][2] == 1
        assert {p[1] for p in plan} == {8, 16, 32}
    assert [p[2] for p in sp.plan(10, 2)].count(2) == 0  # too small to reduce: stays valid


def test_layer_text_encode_decode_is_the_identity_on_sampled_chains():
    sp, rng = MacroSpace(width=8), random.Random(2)
    for _ in range(10):
        layers = trace_layers(sp.to_module(sp.sample(rng), (3, 32, 32), 10), (3, 32, 32))
        line = encode(layers)
        assert decode(line) == layers and encode(decode(line)) == line


def test_block_layers_match_the_traced_network():
    """The per-block tokens (cached per block) are exactly the whole network's traced layers."""
    sp, rng = MacroSpace(width=8), random.Random(3)
    for _ in range(5):
        arch = sp.sample(rng)
        traced = [layer.token() for layer in trace_layers(sp.to_module(arch, (1, 8, 8), 10), (1, 8, 8))]
        assert chain_tokens(sp, arch, (1, 8, 8)) == traced


def test_classic_mutation_and_crossover_stay_in_the_space():
    sp, rng = MacroSpace(), random.Random(4)
    for _ in range(200):
        a, b = sp.sample(rng), sp.sample(rng)
        m = sp.mutate(a, rng)
        assert sp.is_valid(m) and m != a
        c1, c2 = sp.crossover(a, b, rng)
        assert sp.is_valid(c1) and sp.is_valid(c2)


def test_bad_space_options_are_a_config_error():
    from gptnas.errors import ConfigError
    with pytest.raises(ConfigError, match="width"):
        get_space("macro", {"width": 7})
    with pytest.raises(ConfigError, match="bad space_options"):
        get_space("macro", {"depth": 3})


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("layer-gpt-cache"))


@pytest.fixture(scope="module")
def proposer(cache):
    return pretrained_layer_proposer(MacroSpace(width=8), (1, 8, 8), TINY, cache_dir=cache, progress=False)


def test_reconstruction_keeps_the_non_eliminated_blocks_intact(proposer):
    sp, rng = proposer.space, random.Random(5)
    for _ in range(20):
        arch = sp.sample(rng)
        gaps = sorted(rng.sample(range(len(arch)), 3))
        new = proposer.reconstruct(arch, gaps, rng)
        assert len(new) == len(arch) and sp.is_valid(new)
        assert all(new[i] == arch[i] for i in range(len(arch)) if i not in gaps)
        assert all(new[i] != arch[i] for i in gaps)  # an eliminated block is regenerated as something else


def test_reconstruction_is_deterministic_for_a_seed_and_batched_like_single(proposer):
    sp, rng = proposer.space, random.Random(6)
    archs = [sp.sample(rng) for _ in range(6)]
    gaps = [[0, 4], [2], [1, 5, 9], [3], [7, 8], [0]]
    a = proposer.reconstruct_many(archs, gaps, random.Random(1))
    b = proposer.reconstruct_many(archs, gaps, random.Random(1))
    assert a == b
    assert proposer.sample(5, random.Random(2)) == proposer.sample(5, random.Random(2))
    assert all(sp.is_valid(g) for g in proposer.sample(20, random.Random(3)))


def test_the_classifier_learned_which_block_a_layer_begins(proposer):
    """Given the first layer of a depthwise-separable ShuffleNet unit in context, it names that unit."""
    sp = proposer.space
    arch = [12] * 5 + [9] + [12] * 4  # BatchNorm ×5, InvertedResidual, BatchNorm ×4
    parts = sp.block_layers(arch, (1, 8, 8))
    ctx = [proposer.vocab.bos_id] + proposer.ids([t for p in parts[:6] for t in p])
    from gptnas.methods.gptnas.block_classifier import left_pad
    x = left_pad([ctx], proposer.settings.window, proposer.vocab.pad_id)
    first = torch.tensor(proposer.ids(parts[6][:1]))
    assert int(proposer.classifier(x, first).argmax()) == 9


def test_layer_gpt_is_cached_and_reloads_identically(proposer, cache):
    again = pretrained_layer_proposer(MacroSpace(width=8), (1, 8, 8), TINY, cache_dir=cache, progress=False)
    assert again.loaded_from_cache
    arch = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert again.reconstruct(arch, [3, 6], random.Random(0)) == proposer.reconstruct(arch, [3, 6], random.Random(0))
    kinds = [r["kind"] for r in again.train_log]
    assert kinds == ["pretrain nb101", "finetune hand-designed", "classifier"]


def test_state_dict_round_trip_and_refusal_for_another_space(proposer):
    other = LayerGPTProposer(proposer.space, proposer.input_shape, proposer.vocab.tokens[3:-1], proposer.settings)
    other.load_state_dict(proposer.state_dict())
    arch = proposer.space.sample(random.Random(7))
    assert other.reconstruct(arch, [1, 2], random.Random(0)) == proposer.reconstruct(arch, [1, 2], random.Random(0))
    wrong = LayerGPTProposer(MacroSpace(width=16), proposer.input_shape, proposer.vocab.tokens[3:-1],
                             proposer.settings)
    from gptnas.errors import ConfigError
    with pytest.raises(ConfigError):
        wrong.load_state_dict(proposer.state_dict())


class BlockCount(Evaluator):
    """A cheap stand-in fitness: how many residual blocks a chain has (so tests need no training)."""

    name = "block-count"

    def evaluate(self, arch):
        return EvalResult(float(sum(b in (4, 6, 7, 8, 10) for b in arch)), {"test": 0.0})


def mcfg(cache, **gpt):
    return RunConfig(space="macro", space_options={"width": 8}, dataset="digits", fitness="train", seed=3,
                     search=SearchConfig(method="gptnas", budget=30), cache_dir=cache,
                     sections={"gptnas": {"population": 10, "layer_gpt": TINY, **gpt}})


def test_gptnas_on_the_chain_space_uses_the_layer_gpt_and_the_switch_turns_it_off(cache, proposer):
    on = run_in_memory(mcfg(cache), evaluator=BlockCount())
    off = run_in_memory(mcfg(cache, enabled=False), evaluator=BlockCount())
    on_origins = [r["origin"] for r in on.archive.rows]
    assert on.evaluations == off.evaluations == 30
    assert on_origins.count("gpt") >= 5 and "gpt_weights" in on.learner_states["gpt"]
    assert "gpt" not in [r["origin"] for r in off.archive.rows] and "gpt" not in off.learner_states
    again = run_in_memory(mcfg(cache), evaluator=BlockCount())
    assert [r["arch"] for r in again.archive.rows] == [r["arch"] for r in on.archive.rows]


def test_embedded_default_runs_from_the_command_line_with_real_training(tmp_path, cache):
    """``python -m gptnas.run`` with only size-reducing flags: block chain, digits, training, layer GPT."""
    env = {**os.environ, "GPTNAS_CACHE": cache}
    tiny = json.dumps(TINY)
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--budget", "4", "--population", "2", "--epochs", "1",
                        "--set", f"gpt.pretrain={tiny}", "--set", "space_options={width: 8}",
                        "--no-progress", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "best architecture:" in r.stdout and "run directory:" in r.stdout
    run = tmp_path / "runs" / "gptnas-macro-digits-s0"
    s = json.loads((run / "summary.json").read_text())
    assert (s["space"], s["dataset"], s["fitness_kind"], s["evaluations"]) == ("macro", "digits", "train", 4)
    assert 0 < s["best"]["fitness"] <= 100
    # a second default run never touches the first: it gets the next free directory
    r2 = subprocess.run([sys.executable, "-m", "gptnas.run", "--budget", "2", "--population", "2", "--epochs", "1",
                         "--set", f"gpt.pretrain={tiny}", "--set", "space_options={width: 8}",
                         "--no-progress", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r2.returncode == 0, r2.stderr
    assert (tmp_path / "runs" / "gptnas-macro-digits-s0-2" / "summary.json").exists()
    assert json.loads((run / "summary.json").read_text())["evaluations"] == 4
    # final training of the best architecture (the paper's long schedule, cut to 6 epochs here)
    r3 = subprocess.run([sys.executable, "-m", "gptnas.final", str(run), "--epochs", "6", "--lr-step", "5",
                         "--loader-workers", "1", "--onnx"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r3.returncode == 0, r3.stderr
    final = json.loads((run / "final.json").read_text())
    assert final["arch"] == s["best"]["arch"] and final["epochs"] == 6 and final["lr_step"] == 5
    assert final["num_workers"] == 1  # batches gathered by a DataLoader worker (how ImageNet is streamed)
    assert final["val"] <= 100 and final["test"] <= 100
    # well above chance (10 % on digits' 10 classes): a training loop that learns nothing fails here
    assert final["val"] > 50 and final["test"] > 50, (final["val"], final["test"])
    # the trained network, exported: final.pt rebuilds it with its weights; final.onnx computes what torch does
    import torch

    import gptnas
    saved = torch.load(run / "final.pt", map_location="cpu", weights_only=True)
    model = gptnas.export(run)
    assert saved["arch"] == s["best"]["arch"] and saved["num_classes"] == 10
    assert all(torch.equal(v, saved["state_dict"][k]) for k, v in model.state_dict().items())
    untrained = gptnas.export(saved["arch"], space=gptnas.spaces.MacroSpace(width=8), input_shape=saved["input_shape"],
                              num_classes=10)
    assert any(not torch.equal(v, saved["state_dict"][k]) for k, v in untrained.state_dict().items())
    x = torch.randn(3, *saved["input_shape"], generator=torch.Generator().manual_seed(1))
    import onnxruntime
    got = onnxruntime.InferenceSession(str(run / "final.onnx")).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert got.shape == (3, 10) and abs(got - model(x).numpy()).max() < 1e-3


def test_final_training_of_an_empty_run_is_a_clear_error(tmp_path):
    from gptnas.final import main
    assert main([str(tmp_path / "nothing")]) == 2


def test_final_on_a_run_with_its_own_fitness_says_what_it_needs(tmp_path):
    # it stopped with "unknown dataset None"
    run = tmp_path / "r"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "nb201", "--fitness",
                        "tests.helpers.slow_space:torch_threads", "--budget", "2", "--out", str(run), "-q",
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    f = subprocess.run([sys.executable, "-m", "gptnas.final", str(run)], capture_output=True, text=True, timeout=300)
    assert f.returncode == 2 and len(f.stderr.strip().splitlines()) == 1
    assert "names none: pass --dataset NAME" in f.stderr and "unknown dataset" not in f.stderr
    # a space that cannot build networks: said so, naming what final needs from it
    run2 = tmp_path / "r2"
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--space", "tests.helpers.constrained:rules", "--fitness",
                        "tests.helpers.constrained:evaluate", "--budget", "3", "--out", str(run2), "-q",
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    f = subprocess.run([sys.executable, "-m", "gptnas.final", str(run2), "--dataset", "digits"], capture_output=True,
                       text=True, timeout=300)
    assert f.returncode == 2 and len(f.stderr.strip().splitlines()) == 1
    assert "has no to_module(arch, input_shape, num_classes)" in f.stderr


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "experiments" / "configs").glob("*.yaml")))
def test_paper_configs_are_valid(path):
    from gptnas.config import from_dict, load_yaml, validate
    cfg = validate(from_dict(load_yaml(path)))
    o = cfg.method_options
    assert cfg.space == "macro" and o["population"] == 30 and cfg.search.generations == 20
    assert (o["cxpb"], o["mutpb"]) == (0.9, 0.3)
    assert o["enabled"] == ("without" not in path.name)


def test_weight_inheritance_trains_only_new_blocks_or_only_batchnorm(tmp_path):
    """GPT-NAS's acceleration: a child starts from its parent's trained weights and trains only what is new."""
    from gptnas.evaluators.inherit import load_weights
    from gptnas.evaluators.training import TrainingEvaluator
    from gptnas.core.types import Candidate
    sp = MacroSpace(width=8)
    ev = TrainingEvaluator(sp, "digits", epochs=1, batch_size=64, device="cpu", weights_dir=str(tmp_path))
    parent = [6, 7, 12, 13, 0, 1, 9, 10, 3, 14]
    assert not ev(parent).failed
    before = load_weights(tmp_path, sp.key(parent))["state"]
    child = list(parent)
    child[4] = 8  # one new block (as if the GPT had regenerated it)
    r = ev(Candidate(child, parent=sp.key(parent)))
    assert r.extras["inherited_blocks"] == 9 and r.extras["trained"] == "new blocks"
    after = load_weights(tmp_path, sp.key(child))["state"]
    params = {n for n, _ in sp.to_module(child, (1, 8, 8), 10).named_parameters()}
    for k in params:
        if k.startswith("blocks.4."):
            continue
        assert torch.equal(after[k], before[k]), k  # inherited and frozen
    # nothing new: only BatchNorm's affine parameters move
    same = Candidate(parent, parent=sp.key(parent))
    r = TrainingEvaluator(sp, "digits", epochs=1, batch_size=64, device="cpu", weights_dir=str(tmp_path),
                          seed=1)(same)
    assert r.extras["trained"] == "batchnorm"
    again = load_weights(tmp_path, sp.key(parent))["state"]
    assert torch.equal(again["blocks.0.body.0.0.weight"], before["blocks.0.body.0.0.weight"])  # a conv: frozen
    assert not torch.equal(again["stem.1.weight"], before["stem.1.weight"])  # a BatchNorm weight: trained


def test_a_real_forward_pass_at_imagenet_size():
    sp, rng = MacroSpace(width=8), random.Random(9)
    for _ in range(2):
        net = sp.to_module(sp.sample(rng), (3, 224, 224), 1000).eval()
        with torch.no_grad():
            assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_layer_reconstruction_is_a_plain_deap_mutation(proposer):
    """The GPT-NAS reconstruction registers in a user's own DEAP toolbox like any mutation."""
    from deap import base, creator
    from gptnas.methods.gptnas.operators.reconstruct import mut_gpt_reconstruct
    from gptnas.methods.gptnas.operators.schedule import LinearDecay
    if not hasattr(creator, "MacroFit"):
        creator.create("MacroFit", base.Fitness, weights=(1.0,))
        creator.create("MacroInd", list, fitness=creator.MacroFit)
    rate = LinearDecay(0.4, 0.0)
    tb = base.Toolbox()
    tb.register("mutate", mut_gpt_reconstruct, proposer=proposer, rng=random.Random(0), rate=rate)
    sp = proposer.space
    parent = creator.MacroInd(sp.sample(random.Random(10)))
    parent.fitness.values = (1.0,)
    changed = 0
    for _ in range(10):
        child = tb.clone(parent)
        (child,) = tb.mutate(child)
        assert sp.is_valid(child) and not child.fitness.valid and child.origin == "gpt"
        changed += list(child) != list(parent)
    assert changed >= 5  # r = 0.4 over 10+ blocks: almost always something is regenerated
    rate.update(1.0)  # end of the search: r = 0, nothing is eliminated
    child = tb.clone(parent)
    assert list(tb.mutate(child)[0]) == list(parent)
