"""Training evaluator: learns, is deterministic across processes and orders, fails candidates safely."""
from __future__ import annotations

import math
import multiprocessing
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import gptnas.evaluators.training.evaluator as training
from gptnas.datasets import make_splits
from gptnas.errors import ConfigError, DataError
from gptnas.evaluators.base import WORST_FITNESS
from gptnas.evaluators.training import TrainingEvaluator, arch_seed, resolve_device
from gptnas.spaces import NB201Space

FAST = dict(epochs=1, batch_size=64, lr=0.05, warmup_epochs=0.5, device="cpu")
LEARN = {**FAST, "epochs": 2, "batch_size": 32, "lr": 0.1}


def same(a, b) -> bool:
    """Equal results, timings aside."""
    drop = ("train_time_s", "cost_s")
    return (a.fitness, a.failed, {k: v for k, v in a.extras.items() if k not in drop}) == \
        (b.fitness, b.failed, {k: v for k, v in b.extras.items() if k not in drop})


class TinySpace:
    """Genome ``[width_choice, mode]``: a two-conv CNN; mode 1 outputs NaN, mode 2 raises while building."""

    def key(self, arch):
        return f"tiny{list(arch)}"

    def to_module(self, arch, input_shape, num_classes):
        if arch[1] == 2:
            raise RuntimeError("cannot build this one\nsecond line")
        w = (8, 16)[arch[0]]
        net = nn.Sequential(nn.Conv2d(input_shape[0], w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                            nn.Conv2d(w, 2 * w, 3, padding=1, stride=2), nn.BatchNorm2d(2 * w), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, num_classes))
        return nn.Sequential(net, NaNOut()) if arch[1] == 1 else net


class NaNOut(nn.Module):
    def forward(self, x):
        return x * float("nan")


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        TrainingEvaluator(NB201Space(), "digits", device="cuda:0")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")  # only chosen when available
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match="cuda:0..cuda:1"):
        resolve_device("cuda:2")


def test_arch_seed_is_stable():
    assert arch_seed(0, [1, 2, 3]) == arch_seed(0, (1, 2, 3)) == arch_seed(0, np.array([1, 2, 3]))
    assert arch_seed(0, [1, 2, 3]) != arch_seed(1, [1, 2, 3]) != arch_seed(0, [1, 2, 4])
    assert arch_seed(0, [1, 2, 3]) == 3089752111072144856  # hashlib: the same in every process and run
    assert 0 <= arch_seed(0, [1, 2, 3]) < 2 ** 63


def test_learns_digits():
    ev = TrainingEvaluator(TinySpace(), "digits", **LEARN)
    r = ev.evaluate([1, 0])
    assert r.failed is None and r.fitness > 50  # chance is 10 %
    assert set(r.extras) >= {"test", "train_time_s", "params_mb", "epochs", "train_loss", "device"}
    assert r.extras["epochs"] == 2 and r.extras["device"] == "cpu" and r.extras["test"] > 50
    assert r.extras["params_mb"] == pytest.approx(sum(p.numel() for p in ev.build([1, 0]).parameters()) / 1e6)


def test_nb201_learns_and_is_deterministic_in_a_spawned_process(monkeypatch):
    ev = TrainingEvaluator(NB201Space(), "digits", **LEARN, report_test=False)
    arch = [1, 1, 1, 1, 2, 1]  # skip connections and one 1x1 conv: cheap on a CPU
    r = ev.evaluate(arch)
    assert r.failed is None and r.fitness > 50  # chance is 10 %
    assert same(ev.evaluate(arch), r)  # same process, same result
    blob = pickle.dumps(ev)
    assert len(blob) < 20_000  # settings only: the data is reloaded in the worker
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child computes with the same thread count as this process
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(TrainingEvaluator.evaluate, (pickle.loads(blob), arch))
    assert same(child, r)


def test_order_independent_and_seeded():
    ev = TrainingEvaluator(TinySpace(), "digits", **FAST, max_train=512)
    a1, b1 = ev.evaluate([0, 0]), ev.evaluate([1, 0])
    torch.manual_seed(123)  # the caller's global RNG state does not matter either
    b2, a2 = ev.evaluate([1, 0]), ev.evaluate([0, 0])
    assert same(a1, a2) and same(b1, b2)
    other = TrainingEvaluator(TinySpace(), "digits", **FAST, max_train=512, seed=1).evaluate([0, 0])
    assert other.extras["train_loss"] != a1.extras["train_loss"]


def test_workers_path_matches_device_path():
    ev = TrainingEvaluator(TinySpace(), "digits", **FAST, max_train=256, report_test=False)
    ev_w = TrainingEvaluator(TinySpace(), "digits", **FAST, max_train=256, report_test=False, num_workers=1)
    r, rw = ev.evaluate([0, 0]), ev_w.evaluate([0, 0])
    assert same(r, rw)


def test_augmented_splits_given_directly():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 3, 16, 16), dtype=np.uint8)
    y = rng.integers(0, 10, 200)
    s = make_splits("cifar-like", x, y, x[:40], y[:40], 10, val_fraction=0.2, augment=True)
    ev = TrainingEvaluator(TinySpace(), s, **FAST)
    r = ev.evaluate([0, 0])
    assert r.failed is None and math.isfinite(r.fitness) and ev.input_shape == (3, 16, 16)
    assert same(ev.evaluate([0, 0]), r)
    assert same(pickle.loads(pickle.dumps(ev)).evaluate([0, 0]), r)


@pytest.mark.parametrize("space, arch, kw, reason", [
    (TinySpace(), [0, 0], {"lr": 1e10, "warmup_epochs": 0}, "non-finite"),
    (TinySpace(), [0, 1], {}, "non-finite"),
    (TinySpace(), [0, 2], {}, "RuntimeError: cannot build this one"),
    (TinySpace(), [0, 0], {"time_limit_s": 1e-3, "epochs": 50}, "time limit"),
])
def test_candidate_failures_are_results(space, arch, kw, reason):
    ev = TrainingEvaluator(space, "digits", **{**FAST, "max_train": 256, **kw})
    r = ev.evaluate(arch)
    assert r.fitness == WORST_FITNESS and r.failed and reason in r.failed and "\n" not in r.failed
    assert r.extras["device"] == "cpu" and "cost_s" in r.extras


def test_evaluator_still_works_after_a_failure():
    ev = TrainingEvaluator(TinySpace(), "digits", **FAST, max_train=256)
    assert ev.evaluate([0, 2]).failed
    assert ev.evaluate([0, 0]).failed is None


def test_missing_data_raises_and_bad_settings(tmp_path):
    ev = TrainingEvaluator(NB201Space(), "fashion-mnist", root=tmp_path, device="cpu")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        ev.evaluate([1] * 6)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainingEvaluator(NB201Space(), "digits", batch_size=1)
    with pytest.raises(ConfigError, match="unknown dataset"):
        TrainingEvaluator(NB201Space(), "svhn")


def test_data_is_cached_per_process():
    ev1 = TrainingEvaluator(TinySpace(), "digits", **FAST)
    ev2 = TrainingEvaluator(TinySpace(), "digits", **FAST)
    assert ev1.splits() is ev2.splits() and ev1.data() is ev2.data()
    assert any(k[0] == "digits" for k in training._SPLITS)
