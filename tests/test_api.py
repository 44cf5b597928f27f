"""The object API: gptnas.search / gptnas.resume with a user's own objects, as a new user would call them."""
from __future__ import annotations

import pytest

import gptnas
from gptnas.core.rng import Rngs
from gptnas.errors import ConfigError
from gptnas.methods import GA, REA, RandomSearch
from gptnas.spaces import CategoricalSequenceSpace
from helpers import TIMEOUT

TINY = {"model": {"n_embd": 16, "n_layer": 1, "n_head": 2}, "corpus": {"n": 200}, "train": {"epochs": 1}}


def score(arch):
    return float(sum(arch)) + 0.5 * arch[0]


def test_methods_built_by_hand_have_validated_defaults():
    assert (REA().population, REA().sample, GA().population, RandomSearch().batch) == (10, 5, 20, 10)
    with pytest.raises(ConfigError, match="rea option population must be an integer"):
        REA(population=0)
    with pytest.raises(ConfigError, match="elitism"):
        GA(population=4, elitism=4)
    from gptnas.methods import GPTNAS
    with pytest.raises(ConfigError, match="gptnas option loop must be one of ga, rea"):
        GPTNAS(gpt={"loop": "sa"})


def test_a_method_object_with_its_own_options_is_what_runs():
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="six")
    a = gptnas.search(space, score, method=REA(population=4, sample=2), budget=30, progress=False)
    b = gptnas.search(space, score, method="rea", budget=30, progress=False, search={"population": 4, "sample": 2})
    assert [r["arch"] for r in a.archive] == [r["arch"] for r in b.archive]
    assert a.config.method_options["population"] == 4 and a.best.fitness == max(a.history.fitnesses())
    assert a.config.search.population == 4  # the name before options had their method's section


def test_a_users_space_named_macro_gets_the_token_gpt_and_no_progress_bar(tmp_path, capsys):
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 5, name="macro")
    res = gptnas.search(space, score, method="gptnas", budget=20, progress=False, out=tmp_path / "run",
                        gpt={"pretrain": TINY, "cache_dir": str(tmp_path / "cache")})
    assert res.status == "complete" and "gpt-local" in {r["origin"] for r in res.archive}  # the token GPT's move
    err = capsys.readouterr().err
    assert "pretrain" not in err and "it/s" not in err and "%|" not in err
    import yaml
    cfg = yaml.safe_load((tmp_path / "run/config.yaml").read_text())
    assert cfg["space"] == "python:macro" and cfg["fitness"] == "python:score" and cfg["dataset"] is None
    with pytest.raises(ConfigError, match="resume it with gptnas.resume"):
        gptnas.resume(tmp_path / "run")


def test_resume_refuses_a_different_space(tmp_path):
    space = CategoricalSequenceSpace([["a", "b", "c"]] * 5, name="s")
    gptnas.search(space, score, method="rea", budget=12, progress=False, out=tmp_path / "run")
    other = CategoricalSequenceSpace([["a", "b"]] * 5, name="s")
    from gptnas.errors import RunDirError
    with pytest.raises(RunDirError, match="differs"):
        gptnas.resume(tmp_path / "run", space=other, evaluate=score)


def test_relative_paths_are_stored_absolute_and_a_moved_run_resumes(tmp_path, monkeypatch, nb201_dir):
    import os
    import shutil
    import signal
    import subprocess
    import sys
    from conftest import REPO
    work = tmp_path / "work"
    work.mkdir()
    rel_data = os.path.relpath(nb201_dir, work)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTNAS_FAULT_KILL_AFTER_EVALS": "33"}
    args = [sys.executable, "-m", "gptnas.run", "--space", "nb201", "--data", rel_data, "--method", "ga", "--budget",
            "60", "--no-progress", "-q"]
    r = subprocess.run([*args, "--out", "runs/x"], cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    import yaml
    cfg = yaml.safe_load((work / "runs/x/config.yaml").read_text())
    assert os.path.isabs(cfg["data"]) and os.path.isabs(cfg["out"])
    shutil.move(str(work / "runs/x"), str(tmp_path / "moved"))
    env.pop("GPTNAS_FAULT_KILL_AFTER_EVALS")
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(tmp_path / "moved"), "--no-progress",
                        "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([*args, "--out", str(tmp_path / "ref")], cwd=work, env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    from gptnas.storage.archive import read_archive
    a, b = read_archive(tmp_path / "moved/archive.h5"), read_archive(tmp_path / "ref/archive.h5")
    assert list(a["arch"]) == list(b["arch"])


def test_derive_uses_its_tag_and_advances_nothing():
    r = Rngs(3)
    state = r.py.getstate()
    assert r.derive("train", "k1") == Rngs(3).derive("train", "k1") != r.derive("train", "k2")
    assert r.derive("x") != Rngs(4).derive("x") and r.py.getstate() == state


def test_a_network_with_dropout_gets_the_same_fitness_in_any_order():
    import torch
    from torch import nn
    from gptnas.evaluators.training import TrainingEvaluator

    class DropoutSpace(CategoricalSequenceSpace):
        def __init__(self):
            super().__init__([["0.1", "0.5"]] * 2, name="drop")

        def to_module(self, arch, input_shape, num_classes):
            c = input_shape[0] * input_shape[1] * input_shape[2]
            return nn.Sequential(nn.Flatten(), nn.Linear(c, 32), nn.Dropout(float(self.options[0][arch[0]])),
                                 nn.ReLU(), nn.Dropout(float(self.options[1][arch[1]])), nn.Linear(32, 10))

    ev = TrainingEvaluator(DropoutSpace(), "digits", epochs=1, batch_size=64, device="cpu", report_test=False)
    archs = [[0, 0], [1, 0], [0, 1], [1, 1]]
    forward = [ev.evaluate(a).fitness for a in archs]
    torch.manual_seed(123)
    torch.rand(10)  # whatever the global generator's state
    backward = [ev.evaluate(a).fitness for a in reversed(archs)][::-1]
    assert forward == backward


def test_layer_gpt_settings_under_their_old_key_are_still_read():
    from gptnas.methods import GPTSettings
    old = GPTSettings(pretrain={"window": 6, "pretrain_cells": 10})
    assert old.layer_gpt == {"window": 6, "pretrain_cells": 10} and old.pretrain == {}
    token = GPTSettings(pretrain={"train": {"epochs": 1}})
    assert token.pretrain == {"train": {"epochs": 1}} and token.layer_gpt == {}
    with pytest.raises(ConfigError, match="unknown gptnas.pretrain section"):
        GPTSettings(pretrain={"epochs": 1, "train": {}}).validate()
