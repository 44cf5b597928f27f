"""Spearman ρ of NASLib's own reference zero-cost scores with NAS-Bench-201 test accuracy, on NASLib's cells.

    python experiments/naslib_reference_rho.py [--data ../shared/data] [--scores experiments/results/proxy_scores/*.json]

NASLib computed its scores (``zc_nasbench201.json``) with each dataset's own images. Their ρ on the same ~725 cells
tells what the proxies give with real data on this sample, next to ours (Fashion-MNIST inputs) in
``proxy_correlation.py``'s table. With ``--scores`` (files written by ``proxy_correlation.py --scores-out``) a second
table compares ours and NASLib's on exactly the cells both scored. Prints markdown; takes seconds.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gptnas.encodings import nb201 as enc  # noqa: E402

#: dataset → accuracy table file
TABLES = {"cifar10": "nb201_cifar10.json", "cifar100": "nb201_cifar100.json",
          "ImageNet16-120": "nb201_imagenet16-120.json"}
#: our proxy name → NASLib's
PROXIES = {"synflow": "synflow", "snip": "snip", "grad_norm": "grad_norm", "grasp": "grasp", "fisher": "fisher",
           "jacob_cov": "jacov", "nwot": "nwot", "params": "params", "flops": "flops"}


def load(data: Path) -> tuple[dict, dict]:
    """(NASLib's reference scores, dataset → accuracy table), each file read once."""
    zc = json.loads((data / "nb201" / "zc_nasbench201.json").read_text())
    return zc, {ds: json.loads((data / "nb201" / table).read_text()) for ds, table in TABLES.items()}


def reference_rho(zc: dict, accs: dict) -> dict[str, dict[str, tuple[float, int]]]:
    """proxy → dataset → (ρ of NASLib's score with 200-epoch test accuracy, cells)."""
    out: dict[str, dict[str, tuple[float, int]]] = {p: {} for p in PROXIES}
    for ds, acc in accs.items():
        for ours, theirs in PROXIES.items():
            pairs = [(v[theirs]["score"], acc[enc.ops_to_string(enc.naslib_to_ops(ast.literal_eval(k)))]["test_acc_200"])
                     for k, v in zc[ds].items() if theirs in v]
            out[ours][ds] = (float(spearmanr(*zip(*pairs))[0]), len(pairs))
    return out


def paired_rho(zc: dict, accs: dict, score_files: list[str]) -> list[tuple[str, str, float, float, int]]:
    """``(proxy, dataset, ρ ours, ρ NASLib's, cells)`` on the cells of each score file that NASLib also scored."""
    rows = []
    for f in score_files:
        for ds, raw in json.loads(Path(f).read_text()).items():
            acc = accs[ds]
            for key, cells in raw.items():
                if not key.startswith("cells_"):
                    continue
                for p in key.removeprefix("cells_").split("+"):
                    theirs = PROXIES[p]
                    shared = [(s, c) for s, c in zip(raw[p], cells)
                              if theirs in zc[ds].get(str(enc.ops_to_naslib(c)), {})]
                    a = [acc[enc.ops_to_string(c)]["test_acc_200"] for _, c in shared]
                    ref = [zc[ds][str(enc.ops_to_naslib(c))][theirs]["score"] for _, c in shared]
                    rows.append((p, ds, float(spearmanr([s for s, _ in shared], a)[0]), float(spearmanr(ref, a)[0]),
                                 len(shared)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--scores", nargs="*", default=[], help="score files of proxy_correlation.py --scores-out")
    args = ap.parse_args(argv)
    zc, accs = load(Path(args.data))
    rho = reference_rho(zc, accs)
    print("| proxy | " + " | ".join(f"NASLib ρ {d}" for d in TABLES) + " |")
    print("|---" * (len(TABLES) + 1) + "|")
    for p, by_ds in rho.items():
        print(f"| {p} | " + " | ".join(f"{r:+.3f} (n={n})" for r, n in by_ds.values()) + " |")
    if args.scores:
        print("\nOn the cells both scored (ours: Fashion-MNIST batch; NASLib: the dataset's own images):\n")
        print("| proxy | dataset | ρ ours | ρ NASLib | cells |\n|---|---|---|---|---|")
        for p, ds, ours, theirs, n in paired_rho(zc, accs, args.scores):
            print(f"| {p} | {ds} | {ours:+.3f} | {theirs:+.3f} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
