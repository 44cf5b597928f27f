"""Determinism with several workers: the same config and seed give the same archive on the process pool (twice), on
Ray and on the simulated clock, and a run killed with SIGKILL mid-search and resumed gives it too; in
``search.order=arrival`` a resume replays the arrivals the journal recorded (the resumed archive begins with the
journaled results, in their order, and none of them is evaluated again).

Each evaluation sleeps its NAS-Bench-201 cell's training time scaled to a mean of 0.05 s (the CIFAR-10 table's
validation accuracy is the fitness).

    python experiments/parallel_determinism.py --data ../shared/data/nb201

Writes experiments/results/parallel_determinism.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET, WORKERS, SEED, MEAN = 100, 4, 7, 0.05


def search(method: str, out: str | None, data: str, parallel: str, order: str = "lag", resume: bool = False):
    """One search (or its resume) with the sleeping table evaluator; returns the archive's (arch, fitness) rows."""
    from parallel_efficiency import Sleeping
    from gptnas.config import from_dict
    from gptnas.search import driver
    if resume:
        rd, state = driver.resume(out, progress=False, evaluator=Sleeping(data, MEAN))
        return [(r["arch"], r["fitness"]) for r in state.archive.rows]
    d = {"space": "nb201", "fitness": "benchmark", "dataset": "cifar10", "data": data, "seed": SEED,
         "workers": WORKERS, "parallel": parallel, "out": out,
         "search": {"method": method, "budget": BUDGET, "order": order}}
    cfg = from_dict(d)
    if out:
        rd, state = driver.start(cfg, progress=False, evaluator=Sleeping(data, MEAN))
    else:
        state = driver.run_in_memory(cfg, evaluator=Sleeping(data, MEAN))
    return [(r["arch"], r["fitness"]) for r in state.archive.rows]


def killed_and_resumed(method: str, data: str, order: str, tmp: Path, after: int) -> tuple[list, list, int]:
    """Start a run in a child process, SIGKILL it once ``after`` results are journaled, resume it here. Returns
    (the journal's arrival order at the kill, the resumed archive, evaluations the resume made)."""
    out = tmp / f"{method}-{order}"
    shutil.rmtree(out, ignore_errors=True)
    code = (f"import sys; sys.path[:0] = {[str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]!r}\n"
            f"from parallel_determinism import search\n"
            f"if __name__ == '__main__':\n"
            f"    search({method!r}, {str(out)!r}, {data!r}, 'process', {order!r})\n")
    script = tmp / "child.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)])
    journals = [out / "pending.jsonl", out / "evaluations.jsonl"]
    t0 = time.time()
    while time.time() - t0 < 600:
        n = sum(len(p.read_text().splitlines()) for p in journals if p.exists())
        if n >= after or proc.poll() is not None:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    journaled = [json.loads(line)["arch"] for p in reversed(journals) if p.exists()
                 for line in p.read_text().splitlines() if line.strip()]
    from gptnas.search import parallel
    calls = {"n": 0}
    submit = parallel.ProcessMap.submit

    def counting(self, fn, item):  # evaluations the resume starts (the workers' own calls are not seen here)
        calls["n"] += 1
        return submit(self, fn, item)
    parallel.ProcessMap.submit = counting
    try:
        resumed = search(method, str(out), data, "process", order, resume=True)
    finally:
        parallel.ProcessMap.submit = submit
    return journaled, resumed, calls["n"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", "../shared/data/nb201"))
    ap.add_argument("--methods", default="rea,gptnas,lmsearcher")
    ap.add_argument("--out", default=str(RESULTS / "parallel_determinism.md"))
    args = ap.parse_args(argv)
    data = str(Path(args.data).resolve())
    lines = ["# Determinism with several workers (issue 20)", "",
             f"`python experiments/parallel_determinism.py --data ../shared/data/nb201` — NAS-Bench-201 CIFAR-10, "
             f"budget {BUDGET}, {WORKERS} workers, seed {SEED}; each evaluation sleeps its cell's training time "
             f"scaled to a mean of {MEAN} s.", "",
             "| method | pool = pool again | pool = Ray | pool = simulated clock | SIGKILL + resume = pool | "
             "arrival: kill + resume replays the journal | arrival: journaled results evaluated again |",
             "|---|---|---|---|---|---|---|"]
    tmp = Path(tempfile.mkdtemp(prefix="gptnas-determinism-"))
    try:
        for m in args.methods.split(","):
            a = search(m, None, data, "process")
            b = search(m, None, data, "process")
            try:
                import ray  # noqa: F401
                r = search(m, None, data, "ray")
                import ray
                ray.shutdown()
                on_ray = "**identical**" if r == a else "different"
            except ImportError:
                on_ray = "Ray not installed"
            s = search(m, None, data, "simulated")
            _, resumed, _ = killed_and_resumed(m, data, "lag", tmp, after=BUDGET // 3)
            journaled, arrival, calls = killed_and_resumed(m, data, "arrival", tmp, after=BUDGET // 3)
            # evaluations.jsonl holds told rows, pending.jsonl arrivals not yet told: together the arrival order
            # up to the kill (told rows were told in arrival order)
            replays = [k for k, _ in arrival[:len(journaled)]] == journaled[:len(arrival)]
            again = calls - (len(arrival) - len(set(journaled)))  # started beyond the ones never journaled
            lines.append(f"| {m} | {'**identical**' if a == b else 'different'} | {on_ray} | "
                         f"{'**identical**' if s == a else 'different'} | "
                         f"{'**identical**' if resumed == a else 'different'} | "
                         f"{'**yes**' if replays else 'no'} ({len(journaled)} journaled at the kill) | {again} |")
            print(lines[-1], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
