"""A user's own space and fitness through the front door, as the README shows them (chain8.py): every method, a
run directory, a SIGKILL mid-run and a resume from another working directory give the identical result."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from test_readme import readme_file
from helpers import TIMEOUT

KILL_AFTER = 23  # mid-run, mid-generation for every method


def _env(cache: Path, **extra) -> dict:
    env = {**os.environ, "GPTNAS_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra}
    env.pop("GPTNAS_FAULT_KILL_AFTER_EVALS", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gpt-cache")


def _script(folder: Path, method: str) -> Path:
    code = readme_file("chain8.py").replace('method="gptnas"', f'method="{method}"')
    assert f'method="{method}"' in code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chain8.py").write_text(code)
    return folder / "chain8.py"


def _archive(run: Path) -> list:
    from gptnas.storage.archive import read_archive
    a = read_archive(run / "archive.h5")
    return [(a["generation"][i], a["arch"][i], a["fitness"][i], a["origin"][i]) for i in range(len(a["arch"]))]


@pytest.mark.parametrize("method", ["rea", "ga", "gptnas"])
def test_readme_example_killed_and_resumed_elsewhere_gives_the_same_run(method, tmp_path, cache):
    plain, killed, elsewhere = tmp_path / "plain", tmp_path / "killed", tmp_path / "elsewhere"
    r = subprocess.run([sys.executable, str(_script(plain, method))], cwd=plain, env=_env(cache),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "complete" in r.stdout
    r = subprocess.run([sys.executable, str(_script(killed, method))], cwd=killed,
                       env=_env(cache, GPTNAS_FAULT_KILL_AFTER_EVALS=str(KILL_AFTER)), capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == -9, r.stderr[-2000:]
    assert len((killed / "runs/chain8/pending.jsonl").read_text().splitlines()) > 0  # killed mid-generation
    elsewhere.mkdir()
    resume = ("import sys; sys.path.insert(0, sys.argv[1]); import chain8, gptnas; "
              "r = gptnas.resume(sys.argv[2], space=chain8.space, evaluate=chain8.evaluate, progress=False); "
              "print(r.status, r.best.key)")
    r = subprocess.run([sys.executable, "-c", resume, str(killed), str(killed / "runs/chain8")], cwd=elsewhere,
                       env=_env(cache), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("complete")
    assert _archive(killed / "runs/chain8") == _archive(plain / "runs/chain8")
    summary = lambda p: {k: v for k, v in json.loads((p / "runs/chain8/summary.json").read_text()).items()
                         if k not in ("wall_time_s", "search_time_s")}
    assert summary(killed) == summary(plain)
    assert not (elsewhere / "runs").exists()  # nothing written where the resume was started


def test_cli_names_the_objects_and_resumes_them_from_another_folder(tmp_path, cache):
    work, other = tmp_path / "work", tmp_path / "other"
    _script(work, "rea")
    other.mkdir()
    args = [sys.executable, "-m", "gptnas.run", "--space", "chain8:space", "--fitness", "chain8:evaluate",
            "--method", "rea", "--budget", "40", "--no-progress", "-q"]
    r = subprocess.run([*args, "--out", "runs/a"], cwd=work, env=_env(cache),
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([*args, "--out", "runs/b"], cwd=work, env=_env(cache, GPTNAS_FAULT_KILL_AFTER_EVALS="17"),
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == -9
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--resume", str(work / "runs/b"), "--no-progress", "-q"],
                       cwd=other, env=_env(cache), capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _archive(work / "runs/b") == _archive(work / "runs/a")
    import yaml
    cfg = yaml.safe_load((work / "runs/b/config.yaml").read_text())
    assert cfg["space"] == "chain8:space" and cfg["fitness"] == "chain8:evaluate" and cfg["dataset"] is None
    assert Path(cfg["out"]).is_absolute() and str(work) in cfg["python_path"]


@pytest.mark.parametrize("args, message", [
    (["--space", "nosuchmodule:space"], "cannot import module 'nosuchmodule'"),
    (["--space", "chain8:nope"], "module 'chain8' has no attribute 'nope'"),
    (["--fitness", "chain8:nope"], "module 'chain8' has no attribute 'nope'"),
    (["--fitness", "chain8:OPS"], "is not callable"),
])
def test_bad_object_names_are_one_line_errors(tmp_path, cache, args, message):
    _script(tmp_path, "rea")
    base = {"--space": "chain8:space", "--fitness": "chain8:evaluate"}
    base.update(dict(zip(args[::2], args[1::2])))
    r = subprocess.run([sys.executable, "-m", "gptnas.run", *[x for kv in base.items() for x in kv], "--method",
                        "rea", "--budget", "5", "--out", str(tmp_path / "run"), "--no-progress"], cwd=tmp_path,
                       env=_env(cache), capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
