"""experiments/gptnas_children.py: per-operator statistics of a search's children (issue 13's small-budget question)."""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "gptnas_children.py"


def load():
    spec = importlib.util.spec_from_file_location("gptnas_children", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # the sweep's worker processes unpickle its functions by module name
    spec.loader.exec_module(mod)
    return mod


def test_children_stats_count_new_bests_and_gains_against_everything_before():
    rows = [("random", 1.0), ("random", 3.0),           # the initial population: best 3
            ("a", 2.0), ("b", 4.0), ("a", 3.5), ("a", 6.0), ("b", 5.0)]
    s = load().children_stats([rows], population=2)
    assert s["a"]["n"] == 3 and s["b"]["n"] == 2
    assert s["a"]["new_best"] == pytest.approx(1 / 3)  # 2 and 3.5 do not beat 3 and 4; 6 does (by 2)
    assert s["a"]["gain"] == pytest.approx(2 / 3)
    assert s["b"]["new_best"] == pytest.approx(1 / 2)  # 4 beats 3; 5 comes after 6
    assert s["b"]["gain"] == pytest.approx(1 / 2)
    assert s["a"]["mean"] == pytest.approx((2 + 3.5 + 6) / 3)
    assert "random" not in s


def test_script_reports_every_child_of_every_seed(capsys):
    load().main(["--tables", "chain8:synthetic", "--methods", "rea", "--seeds", "2", "--budget", "14",
                 "--workers", "1"])
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| rea | chain8:synthetic | mutation |"))
    assert row.split("|")[4].strip() == "8"  # 2 seeds x (14 - 10 initial) children, all REA's mutation
