"""TransNAS-Bench-101 micro: encodings, the table, the evaluator, and a search on it from the command line."""
from __future__ import annotations

import json

import pytest

from gptnas.encodings import tnb101 as enc
from gptnas.errors import DataError, InvalidArchitecture
from gptnas.spaces import TNB101Space
from helpers import no_data


@pytest.fixture(scope="module")
def tnb_dir(shared_data):
    d = shared_data / "transnas101"
    if not (d / "tnb101_micro.csv").is_file():
        no_data("TransNAS-Bench-101 table not found")
    return d


def test_encodings_round_trip_all_4096_cells():
    space = TNB101Space()
    import itertools
    codes = set()
    for cell in itertools.product(range(4), repeat=6):
        g = list(cell)
        assert space.parse(space.key(g)) == g == space.parse(space.ncode(g)) == space.from_ncode(space.ncode(g))
        codes.add(enc.ops_to_int(g))
    assert len(codes) == 4096 == enc.NUM_ARCHS
    assert space.key([3, 1, 1, 1, 3, 3]) == "(3, 1, 1, 1, 3, 3)" and space.names == ["e01", "e02", "e03", "e12",
                                                                                       "e13", "e23"]
    with pytest.raises(InvalidArchitecture, match="NASLib order"):
        space.parse("(4, 0, 0, 0, 0, 0)")


def test_table_and_evaluator_give_the_csv_values_and_no_test(tnb_dir):
    import csv
    from gptnas.bench.tnb101 import TNB101Table
    from gptnas.evaluators.tabular import TNB101Evaluator
    rows = list(csv.DictReader(open(tnb_dir / "tnb101_micro.csv")))
    table = TNB101Table.load(tnb_dir)
    for task in ("room_layout", "jigsaw"):
        ev = TNB101Evaluator(table, task)
        for r in rows[:200]:
            res = ev(list(enc.parse_any(r["arch"])))
            assert res.fitness == pytest.approx(float(r[task])) and res.test is None
    assert len(table.scored("class_scene")) == 4096
    with pytest.raises(DataError, match="no TransNAS-Bench-101 micro table"):
        TNB101Table.load(tnb_dir / "nope")


def test_every_method_runs_on_it_and_the_summary_says_the_value_is_validation(tnb_dir, tmp_path):
    from gptnas.run import main
    data = str(tnb_dir.parent)
    for method in ("random", "rea", "ga"):
        out = tmp_path / method
        assert main(["--space", "tnb101", "--dataset", "room_layout", "--data", data, "--method", method,
                     "--budget", "30", "--out", str(out), "--no-progress", "-q"]) == 0
        s = json.loads((out / "summary.json").read_text())
        assert s["best"]["test"] is None and s["fitness_name"] == "validation negative L2 loss"
        assert "validation split" in s["note"] and s["best"]["fitness"] < 0
