"""Real fitness from the command line: zero-cost proxies and training write the same run directory layout."""
import json
from pathlib import Path

import h5py
import pytest

from gptnas.config import IMAGE_DATASETS
from gptnas.datasets import DATASETS
from gptnas.evaluators.factory import IMAGE_SHAPES
from gptnas.run import main

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def read(out):
    s = json.loads((out / "summary.json").read_text())
    with h5py.File(out / "archive.h5") as f:
        extras = [json.loads(e) for e in f["extras"][()]]
        fitness, test = f["fitness"][()], f["test"][()]
    return s, extras, fitness, test


def test_proxy_fitness_run(tmp_path, monkeypatch):
    monkeypatch.delenv("GPTNAS_DATA", raising=False)  # no benchmark data: nothing to report as test accuracy
    out = tmp_path / "px"
    assert main(["--space", "nb201", "--dataset", "cifar10", "--fitness", "proxy:synflow", "--method", "rea",
                 "--budget", "12", "--out", str(out), "--no-progress", "-q"]) == 0
    s, extras, fitness, _ = read(out)
    assert s["fitness_kind"] == "proxy:synflow" and s["evaluations"] == 12 and s["best"]["test"] is None
    # fitness is the synflow score, recorded with its cost and the network's size
    assert all(e["synflow"] == pytest.approx(f) for e, f in zip(extras, fitness))
    assert all(e["synflow_cost_s"] > 0 and e["params_mb"] > 0 for e in extras)
    assert (out / "convergence.png").exists()


def test_convergence_plot_labels_the_fitness_it_shows(tmp_path):
    from gptnas.reports.convergence import fitness_label, plot_convergence
    assert fitness_label("train") == fitness_label("benchmark") == "validation accuracy (%)"
    assert fitness_label("proxy:synflow+nwot") == "proxy:synflow+nwot score"
    rows = [{"failed": "", "fitness": f, "test": t} for f, t in [(80.0, 93.1), (114.2, 92.0), (90.0, 94.0)]]
    plot_convergence(rows, tmp_path / "c.png", fitness=fitness_label("proxy:synflow"))  # twin axes: must not fail
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_proxy_run_on_nb201_reports_the_benchmark_test_accuracy(tmp_path, nb201_dir, monkeypatch):
    """With --data, a proxy search on NAS-Bench-201 also records each cell's 200-epoch test accuracy (reported only:
    the search and its fitness are the same as without it)."""
    from gptnas.bench import open_table
    from gptnas.evaluators.tabular import TabularEvaluator
    from gptnas.spaces import NB201Space

    monkeypatch.delenv("GPTNAS_DATA", raising=False)
    args = ["--space", "nb201", "--dataset", "cifar10", "--fitness", "proxy:synflow", "--method", "rea",
            "--budget", "12", "--no-progress", "-q"]
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--data", str(nb201_dir), "--out", str(tmp_path / "rep")]) == 0
    s0, _, fit0, test0 = read(tmp_path / "plain")
    s, extras, fit, test = read(tmp_path / "rep")
    assert list(fit) == list(fit0) and all(t != t for t in test0)           # same search; no test without data
    table = TabularEvaluator(open_table(nb201_dir), "cifar10")
    with h5py.File(tmp_path / "rep" / "archive.h5") as f:
        archs = [a.decode() if isinstance(a, bytes) else a for a in f["arch"][()]]
    space = NB201Space()
    for a, t, e in zip(archs, test, extras):
        ref = table.evaluate(space.parse(a))
        assert t == pytest.approx(ref.test) and e["bench_val"] == pytest.approx(ref.fitness)
    assert s["best"]["test"] == pytest.approx(table.evaluate(space.parse(s["best"]["arch"])).test)


@pytest.mark.slow  # minutes on 2 cores: every candidate is also scored on 16,000 validation + test images
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_train_fitness_run_on_fashion_mnist(tmp_path):
    out = tmp_path / "tr"
    assert main(["--space", "nb201", "--dataset", "fashion-mnist", "--fitness", "train", "--epochs", "1",
                 "--set", "train.max_train=1024", "--set", "train.batch_size=64", "--set", "train.lr=0.05",
                 "--set", "train.warmup_epochs=0", "--method", "random",
                 "--budget", "3", "--set", "search.batch=3", "--out", str(out), "--no-progress", "-q"]) == 0
    s, extras, fitness, test = read(out)
    assert s["fitness_kind"] == "train" and s["evaluations"] == 3
    assert all(0 <= f <= 100 for f in fitness) and max(fitness) > 20  # learns in 16 steps at lr 0.05
    # (warming up over an epoch of only 4 batches, it stayed at chance, 10-11 %)
    assert all(e["train_time_s"] > 0 and e["epochs"] == 1 and e["device"] == "cpu" for e in extras)
    assert s["best"]["test"] is not None


def test_train_fitness_on_digits_needs_no_files(tmp_path):
    out = tmp_path / "dg"
    assert main(["--space", "nb201", "--dataset", "digits", "--fitness", "train", "--epochs", "2",
                 "--set", "train.batch_size=64", "--budget", "2", "--method", "random", "--set", "search.batch=2",
                 "--out", str(out), "--no-progress", "-q"]) == 0
    s, extras, fitness, test = read(out)
    assert s["fitness_kind"] == "train" and s["evaluations"] == 2
    assert all(0 <= f <= 100 for f in fitness) and max(fitness) > 15  # above chance (10 %) after 2 short epochs
    assert all(e["train_time_s"] > 0 and e["epochs"] == 2 and e["device"] == "cpu" for e in extras)
    assert s["best"]["test"] is not None


def test_dataset_lists_agree():
    assert set(IMAGE_DATASETS) == set(DATASETS) == set(IMAGE_SHAPES)


@pytest.mark.parametrize("args, message", [
    (["--fitness", "proxy:bogus"], "bogus"),
    (["--fitness", "train", "--dataset", "imagenet16-120"], "unknown dataset 'imagenet16-120' for fitness train"),
    (["--fitness", "train", "--dataset", "cifar10", "--dataset-dir", "/nonexistent"], "/nonexistent"),
])
def test_bad_fitness_input_exits_2(tmp_path, capsys, args, message):
    assert main(["--space", "nb201", "--method", "rea", "--out", str(tmp_path / "x"), "--no-progress", "-q", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:")
