"""experiments/merge_proxy_tables.py joins per-dataset proxy tables, including a second table of the same dataset."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "merge_proxy_tables.py"


def load():
    spec = importlib.util.spec_from_file_location("merge_proxy_tables", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def table(dataset, rows):
    head = f"| proxy | N {dataset} | ρ {dataset} (published) | ρ vs NASLib {dataset} | ms/arch {dataset} |\n|---|---|---|---|---|\n"
    return "# t\n\n" + head + "".join(f"| {p} | {n} | {r} | {q} | {ms} |\n" for p, n, r, q, ms in rows)


def test_same_dataset_tables_join_into_one_column_group(tmp_path, capsys):
    a = tmp_path / "a.md"
    a.write_text(table("cifar10", [("synflow", "1000", "+0.779 (0.74)", "+0.999", "139")]))
    b = tmp_path / "b.md"
    b.write_text(table("cifar100", [("synflow", "1000", "+0.766 (0.76)", "+0.999", "76")]))
    g = tmp_path / "g.md"
    g.write_text(table("cifar10", [("grasp", "1000", "+0.5 (0.51)", "+0.6", "2500")]))
    load().main([str(a), str(b), str(g)])
    lines = capsys.readouterr().out.splitlines()
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head[1:3] == ["N cifar10", "N cifar100"]
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]}
    assert rows["grasp"][1:3] == ["1000", "–"]      # N cifar10 from the grasp table, none on cifar100
    assert rows["synflow"][1:3] == ["1000", "1000"]
    assert rows["grasp"][3] == "+0.5 (0.51)"
