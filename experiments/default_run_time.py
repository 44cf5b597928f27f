"""Wall time of the embedded default (``python -m gptnas.run`` with no arguments), as a new user meets it.

Each repeat runs the command in a fresh directory with an empty GPT cache (cold: the layer GPT is built first),
then once more with the cache warm. Reports wall time, the GPT build time, and the best validation accuracy.

    python experiments/default_run_time.py --repeats 1

writes ``experiments/results/default_run_time.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(cache: str, cwd: str, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "gptnas.run", "--no-progress", *extra], cwd=cwd, capture_output=True,
                       text=True, env={**os.environ, "GPTNAS_CACHE": cache})
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"run failed:\n{r.stderr[-2000:]}")
    run = Path(cwd) / re.search(r"run directory: (.+)", r.stdout)[1].strip()
    s = json.loads((run / "summary.json").read_text())
    build = sum(float(x) for x in re.findall(r"layer gpt (?:pretrain|finetune hand)[^:]*:.*?, ([0-9.]+) s",
                                              r.stderr))  # the console log (the build precedes the run directory)
    return {"wall_s": wall, "best_val": s["best"]["fitness"], "best_test": s["best"]["test"],
            "evaluations": s["evaluations"], "gpt_build_s": build}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "default_run_time.md"))
    ap.add_argument("extra", nargs="*", help="extra flags for gptnas.run (none: the embedded default)")
    args = ap.parse_args(argv)
    rows = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cwd:
            cold = one(cache, cwd, args.extra)
            warm = one(cache, cwd, args.extra)
        rows += [("cold cache", cold), ("warm cache", warm)]
        print(rows[-2], rows[-1], flush=True)
    import torch
    lines = [f"`python -m gptnas.run` (embedded default) on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} torch threads.", "",
             "| cache | wall time (s) | GPT build (s) | evaluations | best val % | its test % |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['wall_s']:.0f} | {r['gpt_build_s']:.0f} | {r['evaluations']} | "
                     f"{r['best_val']:.2f} | {r['best_test']:.2f} |")
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
