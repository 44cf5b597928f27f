"""The shipped GPT-NAS fine-tuning corpus (gptnas/data/finetune_corpus.txt): names, lossless decoding, shape.

Fast and torchvision-free, except the last test, which rebuilds one network and runs only where torchvision imports
(in the main environment it does not: the corpus is built in a separate one, see experiments/build_finetune_corpus.py).
"""
from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from gptnas.encodings.layers import encode
from gptnas.methods.gptnas.finetune_corpus import (CORPUS_PATH, finetune_token_sequences, load_finetune_corpus,
                                        read_corpus_lines)

EXPECTED = (
    [f"efficientnet_b{i}" for i in range(8)]
    + ["googlenet"]
    + [f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
    + [f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
    + [f"resnet{d}" for d in (18, 34, 50, 101, 152)]
    + ["resnext50_32x4d", "resnext101_32x8d"]
    + [f"shufflenet_v2_x{s}" for s in ("0_5", "1_0", "1_5", "2_0")]
    + ["wide_resnet50_2", "wide_resnet101_2"]
)


@pytest.fixture(scope="module")
def lines():
    return read_corpus_lines()


@pytest.fixture(scope="module")
def corpus():
    return load_finetune_corpus()


def test_file_ships_in_the_package_tree():
    assert CORPUS_PATH.is_file()
    assert CORPUS_PATH.parent.name == "data" and CORPUS_PATH.parent.parent.name == "gptnas"
    header = [ln for ln in CORPUS_PATH.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    assert any("build_finetune_corpus.py" in ln for ln in header)
    assert any("torchvision" in ln for ln in header)


def test_exactly_the_36_networks(lines):
    assert len(EXPECTED) == 36
    assert list(lines) == EXPECTED  # and in this order
    assert "regnet_y_128gf" not in lines


def test_decode_encode_is_the_identity_on_every_line(lines, corpus):
    for name, line in lines.items():
        assert encode(corpus[name]) == line, name


def test_starts_with_conv_and_ends_with_fc(corpus):
    for name, layers in corpus.items():
        assert layers[0].kind == "Conv", name
        assert layers[0].in_size == (224, 224, 3), name
        assert layers[-1].kind == "FC" and layers[-1].out_features == 1000, name
        assert {ly.kind for ly in layers} <= {"Conv", "Pool", "FC", "Other"}, name


def test_layer_counts_are_plausible(corpus):
    n = {name: len(layers) for name, layers in corpus.items()}
    assert all(50 <= v <= 1000 for v in n.values()), n
    assert n["resnet18"] < n["resnet34"] < n["resnet50"] < n["resnet101"] < n["resnet152"]
    assert n["efficientnet_b0"] < n["efficientnet_b3"] < n["efficientnet_b7"]
    assert all(n[f"efficientnet_b{i}"] <= n[f"efficientnet_b{i + 1}"] for i in range(7))
    # same depth, other widths / groups
    assert n["resnet50"] == n["resnext50_32x4d"] == n["wide_resnet50_2"]
    assert n["resnet101"] == n["resnext101_32x8d"] == n["wide_resnet101_2"]
    assert len({n[f"shufflenet_v2_x{s}"] for s in ("0_5", "1_0", "1_5", "2_0")}) == 1
    convs = {name: sum(ly.kind == "Conv" for ly in layers) for name, layers in corpus.items()}
    assert convs["resnet18"] == 20 and convs["resnet50"] == 53  # 17 + 3 shortcuts; 49 + 4 shortcuts


def test_layer_details(corpus):
    # ResNeXt's grouped 3x3 convs, EfficientNet's depthwise ones and its SE global pooling are all seen.
    assert any(ly.kind == "Conv" and ly.groups == 32 for ly in corpus["resnext50_32x4d"])
    b0 = corpus["efficientnet_b0"]
    assert any(ly.kind == "Conv" and ly.groups > 1 and ly.groups == ly.in_size[2] for ly in b0)
    assert any(ly.kind == "Pool" and ly.out_size[:2] == (1, 1) and ly.in_size[:2] != (1, 1) for ly in b0[:-1])
    # spatial sizes chain from 224 down to 7 before the classifier
    for name, layers in corpus.items():
        spatial = [ly for ly in layers if ly.kind in ("Conv", "Pool") and ly.out_size[:2] != (1, 1)]
        assert spatial[-1].out_size[:2] == (7, 7), name


def test_token_sequences(corpus):
    seqs = finetune_token_sequences()
    assert list(seqs) == list(corpus)
    for name, toks in seqs.items():
        assert len(toks) == len(corpus[name]) and toks[-1] == "fc", name
        assert all(t and " " not in t for t in toks), name
    distinct = Counter(t for toks in seqs.values() for t in toks)
    assert 10 < len(distinct) < 1000  # the count itself is reported, not pinned


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="needs torchvision, which is "
                    "no dependency of gptnas (only this check against its ResNet-18 uses it): pip install torchvision")
def test_rebuild_gives_the_stored_resnet18_line(lines):
    try:
        import torch
        import torchvision.models as tvm
    except Exception as e:  # installed but broken beside this torch
        pytest.skip(f"torchvision does not import: {e}")
    from gptnas.encodings.layers import trace_layers

    with torch.device("meta"):
        model = tvm.resnet18(weights=None)
    assert encode(trace_layers(model, (3, 224, 224))) == lines["resnet18"]
