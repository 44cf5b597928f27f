"""TabularEvaluator: validation accuracy is the fitness, test accuracy is only reported."""
from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from gptnas.bench import BenchTable, import_json_tables, import_nats, merge_tables, read_nats_meta
from gptnas.encodings import nb201 as enc
from gptnas.errors import ConfigError, DataError, InvalidArchitecture
from gptnas.evaluators.base import EvalResult, Evaluator
from gptnas.evaluators.tabular import TabularEvaluator

NATS = "NATS-tss-v1_0-3ffb9-simple"


@pytest.fixture(scope="module")
def table(nb201_dir) -> BenchTable:
    """JSON val/test for all cells (order from the NATS meta) + the NATS fixture's params/FLOPs for 3 cells."""
    strings = read_nats_meta(nb201_dir / NATS)
    return merge_tables([import_json_tables(nb201_dir, strings), import_nats(nb201_dir / NATS)])


@pytest.fixture(scope="module")
def ev(table) -> TabularEvaluator:
    return TabularEvaluator(table, "cifar10")


def test_fitness_is_validation_and_test_only_in_extras(ev, table):
    best_test = table.best("cifar10", "test_acc")[0]
    arch = table.index_map.ops(best_test)
    r = ev.evaluate(arch)
    assert isinstance(r, EvalResult) and r.failed is None
    assert r.fitness == table.column("cifar10", "val_acc")[best_test]
    assert r.extras["test"] == table.column("cifar10", "test_acc")[best_test] == r.test
    assert round(r.test, 4) == 94.3733 and r.fitness < 92  # the fitness is not the test accuracy
    rng = random.Random(0)
    for _ in range(200):
        a = tuple(rng.randrange(5) for _ in range(6))
        q = table.query("cifar10", a)
        r = ev(a)
        assert (r.fitness, r.extras["test"]) == (q["val_acc"], q["test_acc"])


def test_extras_carry_cost_columns_when_present(ev, table):
    r = ev.evaluate(table.index_map.ops(11))  # in the NATS fixture: params, FLOPs, time, latency known
    assert set(r.extras) == {"test", "params_mb", "flops_m", "train_time_s", "latency_ms"}
    assert r.extras["params_mb"] == pytest.approx(0.802426) and r.extras["flops_m"] == pytest.approx(113.95137)
    assert set(ev.evaluate(table.index_map.ops(1)).extras) == {"test"}  # NaN columns are left out


def test_pickle_roundtrip(ev):
    blob = pickle.dumps(ev)
    assert len(blob) < 1_000_000  # only the needed columns travel to workers
    clone = pickle.loads(blob)
    rng = random.Random(3)
    for _ in range(100):
        a = [rng.randrange(5) for _ in range(6)]
        assert clone.evaluate(a) == ev.evaluate(a)
    assert clone.name == "benchmark" and isinstance(clone, Evaluator)


def test_other_datasets_and_aliases(table):
    ev = TabularEvaluator(table, "ImageNet16-120")
    arch = table.index_map.ops(table.best("imagenet16-120", "test_acc")[0])
    assert round(ev.evaluate(arch).test, 4) == 47.3111
    assert ev.evaluate(arch).fitness == pytest.approx(46.3778, abs=1e-4)


def test_unknown_dataset_lists_the_available_ones(table):
    with pytest.raises(ConfigError) as info:
        TabularEvaluator(table, "svhn")
    assert "cifar10, cifar100, imagenet16-120" in str(info.value)


def test_table_without_validation_accuracy(table):
    only_params = BenchTable(table.arch_strings, {"cifar10": {"params_mb": np.ones(enc.NUM_ARCHS)}})
    with pytest.raises(ConfigError, match="val_acc"):
        TabularEvaluator(only_params, "cifar10")


def test_partial_table_and_bad_arch(nb201_dir):
    partial = import_nats(nb201_dir / NATS)
    ev = TabularEvaluator(partial, "cifar100")
    arch11 = partial.index_map.ops(11)
    assert ev.evaluate(arch11).fitness == partial.query("cifar100", arch11)["val_acc"]  # a present arch works ...
    with pytest.raises(DataError, match="3 of 15,625"):
        ev.evaluate(enc.ncode_to_ops("333103"))  # ... a missing one is a clear error
    with pytest.raises(InvalidArchitecture):
        ev.evaluate([0, 1, 2])


def test_evaluator_from_a_path(table, tmp_path):
    path = table.save(tmp_path / "t.h5")
    ev = TabularEvaluator(str(path), "cifar100")
    arch = table.index_map.ops(42)
    assert ev.evaluate(arch).fitness == table.column("cifar100", "val_acc")[42]
