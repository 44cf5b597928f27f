"""What each count of summary.json means (issue 37 part 5): generations and the ones that proposed nothing new, the
best's row and when it was found, real time against the search's clock, the top 10 with their rank and regret in
the benchmark table."""
import json
import time

import numpy as np

import gptnas
from gptnas.run import main
from gptnas.spaces import CategoricalSequenceSpace

BASE = ["--space", "nb201", "--dataset", "cifar10", "--fitness", "benchmark", "--no-progress", "-q"]


def test_counts_of_a_tabular_run_agree_with_its_files(nb201_dir, tmp_path, capsys):
    out = tmp_path / "rea"
    assert main(BASE + ["--data", str(nb201_dir), "--method", "rea", "--budget", "60", "--seed", "2",
                        "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    records = (out / "generations.jsonl").read_text().splitlines()
    assert s["evaluations"] == len(rows) == 60
    # every generation either evaluated something (a logbook line) or proposed only what was evaluated before
    assert s["generations"] == len(records) + s["generations_without_new"]
    assert s["generations_without_new"] > 0  # REA's children repeat on a 15,625-cell space within 60
    first = json.loads(records[0])  # the logbook's statistics are the population's: REA's first 10
    initial = [r["fitness"] for r in rows[:10]]
    assert (first["nevals"], first["evals"]) == (10, 10)
    assert abs(first["avg"] - sum(initial) / 10) < 1e-9 and first["max"] == max(initial)
    assert f"{s['generations_without_new']} of them proposed only" in printed
    best = s["best"]
    assert rows[best["evaluation"]]["arch"] == best["arch"] and best["found_after"] == best["evaluation"] + 1
    assert f"found after {best['found_after']} evaluations" in printed
    # the top 10: best first, each from the archive, ranked against the whole table
    from gptnas.bench import scored_table
    table = np.array([v for _, v in scored_table("nb201", str(nb201_dir.parent), "cifar10")])
    top = s["top"]
    fitness = sorted((r["fitness"] for r in rows), reverse=True)[:10]
    assert [t["fitness"] for t in top] == fitness and top[0]["arch"] == best["arch"]
    for t in top:
        assert rows[t["evaluation"]]["arch"] == t["arch"]
        assert t["rank"] == 1 + int((table > t["fitness"]).sum())
        assert abs(t["regret"] - (table.max() - t["fitness"])) < 1e-9
    assert s["table"] == {"architectures": len(table), "best_fitness": float(table.max())}
    assert (best["rank"], best["regret"]) == (top[0]["rank"], top[0]["regret"])


def test_wall_time_is_real_and_summed_over_sessions_and_the_search_clock_apart(tmp_path):
    space = CategoricalSequenceSpace([["a", "b", "c", "d"]] * 4)

    def slow(arch):
        time.sleep(0.05)
        return float(sum(arch))

    out = tmp_path / "r"
    t0 = time.perf_counter()
    gptnas.search(space, slow, method="random", budget=6, seed=0, progress=False, out=out)
    took = time.perf_counter() - t0
    first = json.loads((out / "summary.json").read_text())
    assert 6 * 0.05 <= first["wall_time_s"] <= took and first["search_time_s"] <= first["wall_time_s"]
    assert "top" in first and "table" not in first and "rank" not in first["best"]  # no table knows this space
    gptnas.resume(out, space=space, evaluate=slow, progress=False, budget=10)
    second = json.loads((out / "summary.json").read_text())
    assert second["wall_time_s"] >= first["wall_time_s"] + 4 * 0.05  # the first session's time kept


def test_the_simulated_clock_is_said_so(nb201_dir, tmp_path):
    out = tmp_path / "sim"
    assert main(BASE + ["--data", str(nb201_dir), "--method", "rea", "--budget", "30", "--workers", "4",
                        "--parallel", "simulated", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    # virtual seconds of training the table records: far more than the real time the lookups took
    assert s["clock"] == "simulated" and s["search_time_s"] > 100 * s["wall_time_s"]


def test_the_archive_names_each_childs_parent(nb201_dir, tmp_path):
    from gptnas.spaces import NB201Space
    from gptnas.storage.archive import read_archive
    space = NB201Space()
    for method in ("rea", "ga"):
        out = tmp_path / method
        assert main(BASE + ["--data", str(nb201_dir), "--method", method, "--budget", "50", "--out", str(out)]) == 0
        a = read_archive(out / "archive.h5")
        parent, origin, arch = a["parent"], a["origin"], a["arch"]
        assert all((parent[i] == -1) == (origin[i] == "random") for i in range(len(arch)))
        assert all(parent[i] < i for i in range(len(arch)))  # a parent was evaluated before its child
        if method == "rea":  # REA's mutation changes one operation of its parent
            for i in range(len(arch)):
                if origin[i] == "mutation":
                    child, mother = space.parse(arch[i]), space.parse(arch[parent[i]])
                    assert sum(x != y for x, y in zip(child, mother)) == 1, (arch[i], arch[parent[i]])
        journal = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
        assert [r["parent"] for r in journal] == [arch[p] if p >= 0 else "" for p in parent]
