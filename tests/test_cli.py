"""The command line as a user runs it: a run directory, resume after SIGKILL, clear errors with exit code 2."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from gptnas.run import main
from helpers import TIMEOUT

BASE = ["--space", "nb201", "--dataset", "cifar10", "--fitness", "benchmark", "--method", "rea", "--no-progress", "-q"]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gptnas.run", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def table(nb201_dir, tmp_path_factory):
    """The shared release imported once into an .h5 table (what --data may point at)."""
    from gptnas.bench import open_table
    path = tmp_path_factory.mktemp("bench") / "nb201.h5"
    open_table(nb201_dir, cache_dir=tmp_path_factory.mktemp("cache")).save(path)
    return str(path)


def test_run_writes_the_whole_run_directory(table, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(BASE + ["--data", table, "--method", "rea", "--budget", "40", "--seed", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert {"method", "space", "dataset", "seed", "budget", "evaluations", "best"} <= set(s)
    assert (s["method"], s["space"], s["dataset"], s["seed"], s["budget"], s["evaluations"]) == \
        ("rea", "nb201", "cifar10", 0, 40, 40)
    assert s["best"]["arch"] in printed and str(out) in printed
    # the archive has every evaluation in order, and the best is the max validation accuracy, with its test
    with h5py.File(out / "archive.h5") as f:
        fit, test = f["fitness"][()], f["test"][()]
        arch = [a.decode() for a in f["arch"][()]]
        assert len(fit) == 40 == len(set(arch)) and f["generation"][0] == 0 and f["elapsed_s"][-1] > 0
    i = int(np.argmax(fit))
    assert s["best"]["arch"] == arch[i] and s["best"]["fitness"] == fit[i] and s["best"]["test"] == test[i]
    # fitness is the validation accuracy from the table, the test accuracy is only reported
    from gptnas.bench import BenchTable
    from gptnas.spaces import NB201Space
    q = BenchTable.load(table).query("cifar10", NB201Space().parse(arch[i]))
    assert fit[i] == pytest.approx(q["val_acc"]) and test[i] == pytest.approx(q["test_acc"])
    assert (out / "convergence.png").stat().st_size > 10_000
    assert (out / "config.yaml").exists() and "gen" in (out / "log.txt").read_text()


def test_same_seed_same_summary_and_no_silent_overwrite(table, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        assert main(BASE + ["--data", table, "--method", "ga", "--budget", "30", "--seed", "5", "--out", str(d)]) == 0
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["best"] == sb["best"]
    r = run_cli(*BASE, "--data", table, "--method", "ga", "--budget", "30", "--out", str(a))
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(*BASE, "--data", table, "--method", "rea", "--budget", "20", "--out", str(a), "--overwrite")
    assert r.returncode == 0
    assert json.loads((a / "summary.json").read_text())["method"] == "rea"


@pytest.mark.parametrize("method", ["rea", "ga", "random"])
def test_sigkill_mid_run_then_resume_equals_uninterrupted(table, tmp_path, method):
    args = [*BASE, "--data", table, "--method", method, "--budget", "60", "--seed", "3"]
    ref = run_cli(*args, "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    # killed mid-generation after the 37th evaluation: the checkpoint is an earlier generation's (at most 1 s old)
    killed = run_cli(*args, "--out", str(tmp_path / "k"), env={"GPTNAS_FAULT_KILL_AFTER_EVALS": "37"})
    assert killed.returncode == -9
    assert (tmp_path / "k" / "checkpoint.pkl").exists()
    journal = (tmp_path / "k" / "evaluations.jsonl").read_text().splitlines()
    assert 0 < len(journal) <= 37  # rows past the checkpoint are dropped on resume
    res = run_cli("--resume", str(tmp_path / "k"), "--no-progress", "-q")
    assert res.returncode == 0, res.stderr
    s_ref, s_res = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("ref", "k"))
    for k in ("method", "space", "dataset", "seed", "budget", "evaluations", "generations", "status", "best"):
        assert s_ref[k] == s_res[k], k
    with h5py.File(tmp_path / "ref" / "archive.h5") as f1, h5py.File(tmp_path / "k" / "archive.h5") as f2:
        assert list(f1["arch"][()]) == list(f2["arch"][()])
        assert np.array_equal(f1["fitness"][()], f2["fitness"][()])


def test_resume_of_a_finished_run_changes_nothing(table, tmp_path):
    out = tmp_path / "done"
    assert main(BASE + ["--data", table, "--budget", "15", "--out", str(out)]) == 0
    before = (out / "summary.json").read_text()
    assert main(["--resume", str(out), "--no-progress", "-q"]) == 0
    assert json.loads((out / "summary.json").read_text())["best"] == json.loads(before)["best"]


@pytest.mark.parametrize("args, message", [
    (["--space", "nb999"], "unknown search space 'nb999'"),
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--method", "sa"], "unknown method 'sa'"),
    (["--budget", "0"], "search.budget must be an integer"),
    (["--data", "/nonexistent/nb201"], "benchmark data not found at /nonexistent/nb201"),
    (["--set", "search.nope=1"], "unknown config key 'search.nope'"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    r = run_cli("--no-progress", "--space", "nb201", "--dataset", "cifar10", "--fitness", "benchmark", "--method", "rea",
                "--data", "/nonexistent/nb201",
                "--out", str(tmp_path / "x"), *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_corrupt_benchmark_file_and_non_run_resume(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file")
    r = run_cli(*BASE, "--data", str(bad), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "bad.h5" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "notrun").mkdir()
    r = run_cli("--resume", str(tmp_path / "notrun"))
    assert r.returncode == 2 and "not a gptnas run directory" in r.stderr
    r = run_cli("--resume", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_report_compares_runs(table, tmp_path):
    runs = []
    for m in ("random", "rea"):
        for s in (0, 1):
            d = tmp_path / f"{m}{s}"
            assert main(BASE + ["--data", table, "--method", m, "--budget", "25", "--seed", str(s),
                                "--out", str(d)]) == 0
            runs.append(str(d))
    r = subprocess.run([sys.executable, "-m", "gptnas.report", *runs, "--out", str(tmp_path / "rep")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    rows = [l for l in r.stdout.splitlines() if l.startswith("| 2 |")]
    assert len(rows) == 2 and "random" in rows[0] and "rea" in rows[1]
    tests = [json.loads((tmp_path / f"rea{s}" / "summary.json").read_text())["best"]["test"] for s in (0, 1)]
    assert f"{np.mean(tests):.2f} ± {np.std(tests):.2f}" in rows[1]
    assert (tmp_path / "rep" / "comparison.png").stat().st_size > 10_000
    r = subprocess.run([sys.executable, "-m", "gptnas.report", str(tmp_path)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "not a gptnas run directory" in r.stderr


def test_bad_input_is_reported_before_torch_is_imported():
    """A typo costs a fraction of a second: the config and the error come before torch and transformers."""
    code = ("import runpy, sys\n"
            "sys.argv = ['gptnas.run', '--space', 'nb999']\n"
            "try:\n    runpy.run_module('gptnas.run', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
            "print(code, heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "2 []", r.stdout + r.stderr


def test_lazy_packages_still_give_every_name_and_submodule():
    import gptnas.lm as lm
    import gptnas.methods.lapt as lapt
    assert lm.proposer.GPTProposer is lm.GPTProposer and "GPTProposer" in dir(lm)
    assert lapt.stats.__name__ == "gptnas.methods.lapt.stats" and lapt.Principles is lapt.principles.Principles
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        lm.nope


def test_progress_bars_only_on_a_terminal_or_when_asked(table, tmp_path):
    args = ["--space", "nb201", "--dataset", "cifar10", "--method", "rea", "--budget", "20", "--data", table]
    piped = run_cli(*args, "--out", str(tmp_path / "a"))
    assert piped.returncode == 0, piped.stderr
    assert "eval/s" not in piped.stderr and "20/20" not in piped.stderr  # a redirected log holds no bar updates
    asked = run_cli(*args, "--progress", "--out", str(tmp_path / "b"))
    assert asked.returncode == 0 and "20/20" in asked.stderr
    both = run_cli(*args, "--progress", "--no-progress", "--out", str(tmp_path / "c"))
    assert both.returncode == 2 and "not allowed with" in both.stderr
