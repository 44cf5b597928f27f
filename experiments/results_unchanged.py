"""Do search results survive a change of the code? Record archives at one commit, compare them at another.

Runs, through the command line a user types (``python -m gptnas.run``), the searches whose results a refactor must
not change: seeds 0-4 of random, rea, ga, gptnas and gptnas with transfer (from CIFAR-100) on NAS-Bench-201
CIFAR-10 at budget 100, and the embedded default run (GPT-NAS on digits, real training). Each archive is reduced
to what a search decides — generation, architecture, fitness, test accuracy, origin, failure, extras — leaving out
wall-clock times, which no two runs share.

    # at the commit before the change (e.g. a git worktree of it):
    python experiments/results_unchanged.py record --out /tmp/reference
    # at the commit after it:
    python experiments/results_unchanged.py compare --reference /tmp/reference
    # after a change of gptnas's default (issue 13), the paper's settings must still give the same runs:
    python experiments/results_unchanged.py compare --reference experiments/results/reference_archives \
        --gptnas-flags="--preset paper"

``compare`` prints one line per run (identical, or the first row that differs) and exits 1 if any run differs.
Both use one torch thread (``--threads 1``): floating-point sums in GPT training depend on the thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METHODS = ("random", "rea", "ga", "gptnas", "gptnas+transfer")
TIMING = ("eval_time_s", "elapsed_s")


def jobs(data: str, seeds: int, default_run: bool, methods=METHODS, gptnas_flags=()) -> dict[str, list[str]]:
    """``{name: command-line arguments}`` of every run compared; ``gptnas_flags`` go to the gptnas runs (e.g.
    ``--preset paper`` when the default changed on purpose and the paper's settings must not)."""
    out = {}
    for m in methods:
        name, *flags = m.split("+")
        for s in range(seeds):
            args = ["--space", "nb201", "--dataset", "cifar10", "--fitness", "benchmark", "--data", data,
                    "--method", name, "--budget", "100", "--seed", str(s)]
            if "transfer" in flags:
                args += ["--transfer-from", "cifar100"]
            if name == "gptnas":
                args += list(gptnas_flags)
            out[f"{m}-s{s}"] = args
    if default_run:
        out["default-run"] = []
    return out


def _timeless(extras: str) -> dict:
    """Extras without the keys that measure time (``*_s``, ``*time*``)."""
    d = json.loads(extras)
    return {k: v for k, v in d.items() if not (k.endswith("_s") or "time" in k)}


def run_one(args: list[str]) -> dict:
    """Run one search in a fresh directory; returns its archive without timings, and its summary's best."""
    sys.path.insert(0, str(REPO))
    from gptnas.storage.archive import read_archive
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "gptnas.run", *args, "--threads", "1", "--out", str(out), "--no-progress", "-q"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        a = read_archive(out / "archive.h5")
        rows = []
        for i in range(len(a["arch"])):
            row = {c: (a[c][i].item() if hasattr(a[c][i], "item") else a[c][i])
                   for c in a if c not in TIMING and c not in ("attrs", "extras")}
            row["extras"] = _timeless(a["extras"][i])
            rows.append(row)
        best = json.loads((out / "summary.json").read_text())["best"]
        return {"rows": rows, "best": {"arch": best["arch"], "fitness": best["fitness"]}}


def _same(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float) and x != x and y != y:  # NaN == NaN here
        return True
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    return x == y


def diff(ref: dict, new: dict) -> str | None:
    """None when identical, else where they first differ."""
    if not _same(ref["best"], new["best"]):
        return f"best differs: {ref['best']} vs {new['best']}"
    if len(ref["rows"]) != len(new["rows"]):
        return f"{len(ref['rows'])} rows vs {len(new['rows'])}"
    for i, (a, b) in enumerate(zip(ref["rows"], new["rows"])):
        b = {c: b.get(c) for c in a}  # a column added since the reference was recorded (parent) is not a change
        if not _same(a, b):
            cols = [c for c in a if not _same(a[c], b.get(c))]
            return f"row {i} differs in {', '.join(cols)}: {[a[c] for c in cols]} vs {[b.get(c) for c in cols]}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("record", "compare"))
    ap.add_argument("--out", help="record: folder for the reference archives")
    ap.add_argument("--reference", help="compare: folder written by record")
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", str(REPO.parent / "shared" / "data" / "nb201")))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--no-default-run", action="store_true", help="leave out the embedded default run")
    ap.add_argument("--gptnas-flags", default="", help='extra flags of the gptnas runs, e.g. "--preset paper"')
    args = ap.parse_args(argv)
    todo = jobs(args.data, args.seeds, not args.no_default_run, args.methods.split(","), args.gptnas_flags.split())
    folder = Path(args.out if args.mode == "record" else args.reference)
    if folder is None:
        ap.error("record needs --out, compare needs --reference")
    folder.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, a in todo.items():
        res = run_one(a)
        if args.mode == "record":
            (folder / f"{name}.json").write_text(json.dumps(res))
            print(f"{name}: recorded {len(res['rows'])} rows, best {res['best']['fitness']:.4f}", flush=True)
            continue
        ref_file = folder / f"{name}.json"
        if not ref_file.exists():
            print(f"{name}: no reference recorded", flush=True)
            bad += 1
            continue
        d = diff(json.loads(ref_file.read_text()), json.loads(json.dumps(res)))
        bad += d is not None
        print(f"{name}: {'identical' if d is None else d} ({len(res['rows'])} rows)", flush=True)
    if args.mode == "compare":
        print(f"{len(todo) - bad} of {len(todo)} runs identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
