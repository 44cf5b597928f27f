"""A method is a room of its own: its options in a section named after it, its flags, wrappers a user composes,
older keys still read."""
import json
import subprocess
import sys

import pytest
import yaml

import gptnas
from gptnas.errors import ConfigError
from gptnas.methods import REA, Prescreened, Principled
from test_async import SPACE, Timed, keys
from helpers import TIMEOUT

def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gptnas.run", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT)


# Sections, aliases, flags ------------------------------------------------------------------------------------------
def test_a_methods_options_live_in_its_section_and_the_old_keys_still_work(tmp_path):
    new = gptnas.search(SPACE, Timed(), method="rea", budget=30, progress=False, rea={"population": 4, "batch": 2})
    old = gptnas.search(SPACE, Timed(), method="rea", budget=30, progress=False,
                        search={"population": 4, "rea_batch": 2})
    assert keys(new) == keys(old)
    assert new.config.sections == {"rea": {"population": 4, "sample": 5, "batch": 2}}
    d = new.config.to_dict()
    assert d["rea"]["batch"] == 2 and "population" not in d["search"] and "gpt" not in d and "gptnas" not in d
    with pytest.raises(ConfigError, match="unknown config key 'rea.popsize'"):
        gptnas.search(SPACE, Timed(), method="rea", budget=5, progress=False, rea={"popsize": 4})


def test_an_older_run_directory_resumes_from_its_old_shaped_config(tmp_path):
    """A run recorded before sections were named after methods (search.population, gpt:, rank: ...)."""
    gptnas.search(SPACE, Timed(), method="rea", budget=40, progress=False, out=tmp_path / "ref",
                        rea={"population": 6})
    cfg = yaml.safe_load((tmp_path / "ref" / "config.yaml").read_text())
    old = {k: v for k, v in cfg.items() if k != "rea"}
    old["search"] = {**old["search"], "population": 6, "sample": 5, "rea_batch": 1}
    old.update(gpt={"loop": None, "rate": 0.4}, principles={"source": None}, rank={"prescreen": 1, "ranker": "builtin"})
    from gptnas.config import from_recorded, validate
    c = validate(from_recorded(old), space=SPACE, evaluate=Timed())
    assert c.sections == {"rea": {"population": 6, "sample": 5, "batch": 1}}  # the other methods' keys left out


def test_wrappers_are_objects_a_user_composes_and_what_the_flags_build(tmp_path, nb201_dir):
    space = "nb201"
    kw = dict(budget=30, seed=2, dataset="cifar10", data=str(nb201_dir), progress=False)
    obj = gptnas.search(space, "benchmark", method=Prescreened(REA(), prescreen=3, ranker="random"), **kw)
    old = gptnas.search(space, "benchmark", method="rea", rank={"prescreen": 3, "ranker": "random"}, **kw)
    assert keys(obj) == keys(old) and all(r["origin"].endswith("+ranked") for r in obj.archive[10:])
    assert obj.config.sections["prescreened"]["prescreen"] == 3
    out = tmp_path / "cli"
    r = cli("--space", "nb201", "--data", str(nb201_dir), "--method", "rea", "--budget", "30", "--seed", "2",
            "--prescreen", "3", "--ranker", "random", "--out", str(out), "--no-progress", "-q")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in (out / "evaluations.jsonl").read_text().splitlines()]
    assert [x["arch"] for x in rows] == [x["arch"] for x in obj.archive]
    p = gptnas.search(space, "benchmark", method=Principled(REA(), source="cifar100", extractor="frequency"), **kw)
    ops = [{e.genome[i] for e in p.history} for i in range(6)]
    assert p.config.sections["principled"]["source"] == "cifar100" and max(map(len, ops)) <= 2  # the refined space
    with pytest.raises(ConfigError, match="--principles-from cifar10 is the target"):
        gptnas.search(space, "benchmark", method=Principled(REA(), source="cifar10"), **kw)


def test_a_method_flag_goes_to_the_method_that_has_it_or_says_which_do(tmp_path, nb201_dir):
    r = cli("--space", "nb201", "--data", str(nb201_dir), "--method", "random", "--transfer-from", "cifar100",
            "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--transfer-from is an option of gptnas, and --method random has none" in r.stderr
    r = cli("--space", "nb201", "--data", str(nb201_dir), "--method", "rea", "--ranker", "random",
            "--out", str(tmp_path / "y"))
    assert r.returncode == 2 and "--ranker with --method rea needs --prescreen K" in r.stderr
    assert "--prescreen" in cli("--help").stdout


def test_an_in_memory_search_keeps_inherited_weights_like_a_run_directory_does(monkeypatch):
    """Without ``out`` the weights folder reaches the evaluator (it was opened and never passed on)."""
    from gptnas.search import driver
    seen = []
    real = driver.build_evaluator
    monkeypatch.setattr(driver, "build_evaluator", lambda cfg, space, w: seen.append(w) or real(cfg, space, w))
    gptnas.search("macro", "train", method="random", budget=1, dataset="digits", progress=False,
                  space_options={"width": 8, "min_blocks": 2, "max_blocks": 3}, train={"epochs": 1, "max_train": 64, "inherit": True},
                  random={"batch": 1})
    assert seen and seen[0] is not None
