"""Mutation testing of the modules that carry the science (issue 34 §2), with **mutmut** 3: each module group is
mutated in its own copy of the repository and tested only by the test files that exercise it (mutmut runs, for each
mutant, just the tests that reach the mutated function). Writes the score per group and every surviving mutant's
diff.

    pip install mutmut
    nohup python experiments/mutation.py --data ../shared/data > experiments/results/tmp/mutation.log 2>&1 &
    python experiments/mutation.py --groups proxies,bananas      # a subset
    python experiments/mutation.py --sample 0 --timeout 1800     # every mutant, not a sample (hours)

By default each group tests a seeded random sample of its selected mutants (``--sample 60 --seed 0``), so the six
groups fit in 20 minutes on 2 cores; the score is then an estimate, given with its 95 % Wilson interval.

Writes ``experiments/results/mutation.md`` (the scores) and ``experiments/results/mutation_survivors.md`` (each
survivor's diff); the copies live under ``--work`` (default ``experiments/results/tmp/mutation``), and a rerun
continues where mutmut left off. Score = killed / (killed + survived + timed out); mutants no selected test reaches
("no tests") are counted apart: they say where the selection, not the tests, has a hole.
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: group → (files to mutate, as mutmut's only_mutate globs; the tests that exercise them, as pytest arguments)
GROUPS = {
    "proxies": (["gptnas/evaluators/proxies/*"], ["tests/test_proxies.py"]),
    "bananas": (["gptnas/methods/bananas/*"], ["tests/test_bananas.py"]),
    "gptnas-learner-operators": (["gptnas/methods/gptnas/learner.py", "gptnas/methods/gptnas/operators/*"],
                                 ["tests/test_gpt_operators.py", "tests/test_gpt_local.py",
                                  "tests/test_gpt_method.py"]),
    "lapt-principles-adaptation": (["gptnas/methods/lapt/principles.py", "gptnas/methods/lapt/stats.py"],
                                   ["tests/test_lapt.py"]),
    "lmsearcher-loop-ranker": (["gptnas/methods/lmsearcher/method.py", "gptnas/methods/lmsearcher/ranker.py"],
                               ["tests/test_lmsearcher.py", "tests/test_synthetic_ranker.py",
                                "tests/test_llm_scripted.py"]),
    "engine-tell": (["gptnas/search/engine.py"],
                    ["tests/test_engine.py", "tests/test_async.py"]),
}
#: the functions that carry each group's science (mutmut's mutant-name globs); the rest of a file (state dicts,
#: validation, reprs) is left out so a whole run fits in 20 minutes on 2 cores (issue 34 §2)
ONLY = {
    "proxies": ["gptnas.evaluators.proxies.*"],
    "bananas": ["gptnas.methods.bananas.method.*acquire*", "gptnas.methods.bananas.method.*candidate_pool*",
                "gptnas.methods.bananas.encodings.*", "gptnas.methods.bananas.predictor.*"],
    "gptnas-learner-operators": ["gptnas.methods.gptnas.learner.*generation*", "gptnas.methods.gptnas.learner.*finetune*",
                                 "gptnas.methods.gptnas.operators.reconstruct.*",
                                 "gptnas.methods.gptnas.operators.crossover.*",
                                 "gptnas.methods.gptnas.operators.local.*",
                                 "gptnas.methods.gptnas.operators.init.*",
                                 "gptnas.methods.gptnas.operators.adaptive.*probabilities*",
                                 "gptnas.methods.gptnas.operators.adaptive.*update*",
                                 "gptnas.methods.gptnas.operators.adaptive.*__call__*"],
    "lapt-principles-adaptation": ["gptnas.methods.lapt.stats.*", "gptnas.methods.lapt.principles.*allowed*",
                                   "gptnas.methods.lapt.principles.*scores*",
                                   "gptnas.methods.lapt.principles.*refine*"],
    "lmsearcher-loop-ranker": ["gptnas.methods.lmsearcher.method.*offspring*",
                               "gptnas.methods.lmsearcher.method.*initial*",
                               "gptnas.methods.lmsearcher.method.*candidate_pool*",
                               "gptnas.methods.lmsearcher.method.*codes_and_scores*",
                               "gptnas.methods.lmsearcher.ranker.*evidence*", "gptnas.methods.lmsearcher.ranker.*encode*",
                               "gptnas.methods.lmsearcher.ranker.*scores*", "gptnas.methods.lmsearcher.ranker.*choose*",
                               "gptnas.methods.lmsearcher.ranker.*forward*"],
    "engine-tell": ["gptnas.search.engine.*ǁtell*", "gptnas.search.engine.*ǁrecord*",
                    "gptnas.search.engine.*ǁadd_unit*", "gptnas.search.engine.*ǁwait_one*",
                    "gptnas.search.engine.*ǁnext_done*", "gptnas.search.engine.*ǁnext_status*"],
}


#: tests left out of a group, and why: they start processes of their own (a Ray cluster, a pool killed with -9),
#: which takes tens of seconds per mutant, and mutmut cannot see which functions those processes reach anyway
DESELECT = {"engine-tell": ["tests/test_async.py::test_kill_9_on_the_process_pool_resumes_to_the_identical_run",
                            "tests/test_async.py::test_ray_keeps_its_workers_busy_and_gives_the_same_archive"]}
#: a smaller sample where each mutant costs most (every engine test reaches the tell path), so all groups fit in
#: 20 minutes with every sampled mutant checked (a time-boxed run would check the fastest ones first: a biased sample)
SAMPLE_SIZE = {"engine-tell": 30}


def selected(name: str, group: str) -> bool:
    """Whether mutant ``name`` is in ``group``'s science functions."""
    from fnmatch import fnmatch
    return any(fnmatch(name, g) for g in ONLY[group])


def spawning(tests: list[str]) -> list[str]:
    """``--deselect`` arguments for the tests that run a child Python process (the CLI, a script, a kill -9): under
    mutmut a child started elsewhere cannot find its configuration and fails, and mutmut could not see which
    functions it reaches anyway."""
    import ast
    out = []
    for t in tests:
        src = (REPO / t).read_text()
        funcs = [n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)]
        words = ["subprocess", "kill_and_resume", "readme_file", "Popen"]
        words += [f.name + "(" for f in funcs if not f.name.startswith("test_") and
                  any(w in (ast.get_source_segment(src, f) or "") for w in words)]  # helpers that spawn
        for f in funcs:
            if f.name.startswith("test_") and any(w in (ast.get_source_segment(src, f) or "") for w in words):
                out += ["--deselect", f"{t}::{f.name}"]
    return out


def prepare(work: Path, mutate: list[str], tests: list[str]) -> None:
    """A copy of the package, the tests and setup.cfg in ``work``, with a ``[mutmut]`` section for this group."""
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("gptnas", "tests"):
        if not (work / d).exists():
            shutil.copytree(REPO / d, work / d, ignore=ignore)
    shutil.copy(REPO / "README.md", work / "README.md")  # tests run the README's examples
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "setup.cfg")
    if cfg.has_section("mutmut"):
        cfg.remove_section("mutmut")
    off = [a for t in DESELECT.get(work.name, []) for a in ("--deselect", t)]
    cfg["mutmut"] = {"source_paths": "gptnas/", "only_mutate": "\n".join([""] + mutate),
                     "pytest_add_cli_args_test_selection": "\n".join([""] + tests + spawning(tests) + off),
                     "also_copy": "\nREADME.md"}
    with open(work / "setup.cfg", "w") as fh:
        cfg.write(fh)


READ = r"""
import json, sys
from pathlib import Path
from mutmut.stats import status_by_exit_code
out = {}
for meta in Path("mutants").rglob("*.py.meta"):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        out[name] = status_by_exit_code.get(code, str(code))
print(json.dumps(out))
"""


NOTHING = "gptnas.__no_such_mutant__"


def statuses(work: Path, env: dict) -> dict:
    """``{mutant name: status}`` of every mutant mutmut generated in ``work`` (``not checked`` until tested)."""
    return json.loads(subprocess.run([sys.executable, "-c", READ], cwd=work, env=env, capture_output=True,
                                     text=True, check=True, timeout=120).stdout)


def sample_names(name: str, work: Path, env: dict, children: int, n: int, seed: int) -> list[str]:
    """The group's mutants to test: a seeded sample of ``n`` of its selected mutants (the same on a rerun), less
    those an earlier run already tested. mutmut generates the mutants, and records which tests reach which function,
    on its first run; a filter that matches nothing stops it right after that, before any mutant is tested."""
    import random
    if not list((work / "mutants").rglob("*.py.meta")):
        mutmut(["run", "--max-children", str(children), NOTHING], work, env, 1800)
    status = {k: v for k, v in statuses(work, env).items() if selected(k, name)}
    chosen = sorted(status) if n <= 0 or n >= len(status) else sorted(random.Random(seed).sample(sorted(status), n))
    (work / "sample.json").write_text(json.dumps(chosen))
    return [k for k in chosen if status[k] == "not checked"]


def mutmut(args: list[str], work: Path, env: dict, timeout: float):
    """``python -m mutmut ARGS`` in ``work``, logged to its mutmut.log: the exit code, or "timeout" (its process
    group stopped; what was tested so far is kept: mutmut saves as it goes)."""
    with open(work / "mutmut.log", "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return "timeout"


def run_group(name: str, work: Path, children: int, data: str, timeout: int, sample: int = 0,
              seed: int = 0) -> dict:
    """Run mutmut on one group (continuing an earlier run in ``work``), on every selected mutant or on a seeded
    sample of ``sample`` of them: ``{status: count}``, survivors, seconds, whether every chosen mutant was tested."""
    env = {**os.environ, "GPTNAS_DATA": str(Path(data).resolve()), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    t0 = time.time()
    names = sample_names(name, work, env, children, sample, seed) if sample > 0 else ONLY[name]
    rc = mutmut(["run", "--max-children", str(children), *(names or [NOTHING])], work, env,
                max(1.0, timeout - (time.time() - t0)))  # the group's time counts its mutant generation too
    seconds = time.time() - t0
    status = {k: v for k, v in statuses(work, env).items() if selected(k, name)}  # the rest is not ours
    if sample > 0:
        chosen = set(json.loads((work / "sample.json").read_text()))
        status = {k: v for k, v in status.items() if k in chosen}
    counts = {s: sum(v == s for v in status.values()) for s in sorted(set(status.values()))}
    survivors = sorted(k for k, v in status.items() if v == "survived")
    diffs = {}
    for k in survivors:
        d = subprocess.run([sys.executable, "-m", "mutmut", "show", k], cwd=work, env=env, capture_output=True,
                           text=True, timeout=120).stdout
        diffs[k] = "\n".join(ln for ln in d.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++",
                                                                                                            "---")))
    complete = "not checked" not in counts
    return {"rc": rc, "counts": counts, "survivors": diffs, "seconds": seconds, "complete": complete,
            "sample": sample, "seed": seed}


def score(counts: dict) -> float:
    k, s, t = counts.get("killed", 0), counts.get("survived", 0), counts.get("timeout", 0)
    return k / (k + s + t) if k + s + t else float("nan")


def wilson(counts: dict, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of the score, for a score measured on a sample of the mutants."""
    k = counts.get("killed", 0)
    n = k + counts.get("survived", 0) + counts.get("timeout", 0)
    if not n:
        return float("nan"), float("nan")
    p = k / n
    mid, half = (p + z * z / (2 * n)), z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5)
    return (mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GPTNAS_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--groups", default=",".join(GROUPS), help="comma-separated, of: " + ", ".join(GROUPS))
    ap.add_argument("--children", type=int, default=2, help="mutants tested at once (mutmut --max-children)")
    ap.add_argument("--work", default=str(REPO / "experiments/results/tmp/mutation"))
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per group; the mutants not tested by then "
                                                              "count as \"not checked\"")
    ap.add_argument("--out", default=str(REPO / "experiments/results/mutation"))
    ap.add_argument("--redo", action="store_true", help="test again the groups a finished run holds")
    ap.add_argument("--sample", type=int, default=60, help="mutants tested per group, drawn at random from its "
                                                           "selected ones (0: every one)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample")
    args = ap.parse_args(argv)
    try:
        import mutmut  # noqa: F401
    except ImportError:
        print("error: mutmut is not installed: pip install mutmut", file=sys.stderr)
        return 2
    names = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        print(f"error: unknown group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    results_file = Path(args.work) / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for g in names:
        before = results.get(g, {})
        if before.get("complete") and before.get("sample", 0) == SAMPLE_SIZE.get(g, args.sample) * (args.sample > 0) \
                and before.get("seed", 0) == args.seed and not args.redo:
            print(f"{g}: done before (--redo runs it again)")
            continue
        mutate, tests = GROUPS[g]
        work = Path(args.work) / g
        prepare(work, mutate, tests)
        print(f"{g}: mutating {', '.join(mutate)}; tests {', '.join(tests)}", flush=True)
        if args.redo or before.get("sample", 0) != SAMPLE_SIZE.get(g, args.sample) * (args.sample > 0) \
                or before.get("seed", 0) != args.seed:
            shutil.rmtree(work / "mutants", ignore_errors=True)  # mutmut would keep the other run's results
        n = SAMPLE_SIZE.get(g, args.sample) if args.sample > 0 else 0
        results[g] = run_group(g, work, args.children, args.data, args.timeout, n, args.seed)
        print(f"  {results[g]['counts']} score {score(results[g]['counts']):.3f} in {results[g]['seconds']:.0f} s",
              flush=True)
        results_file.write_text(json.dumps(results, indent=1))
    how = f"a seeded sample of {args.sample} mutants per group ({', '.join(f'{g}: {n}' for g, n in SAMPLE_SIZE.items())}; " \
          f"seed {args.seed})" if args.sample > 0 else \
        "every selected mutant"
    lines = [f"Mutation score per module group (mutmut {mutmut.__version__ if hasattr(mutmut, '__version__') else ''},"
             f" `python experiments/mutation.py --sample {args.sample} --seed {args.seed} --timeout {args.timeout} "
             f"--children {args.children}`: {how}, a run per group; "
             "a rerun continues where mutmut stopped). Score = killed /"
             " (killed + survived + timed out), with its 95 % Wilson interval; a mutant no selected test reaches "
             "counts as \"no tests\"; left out of a group: "
             + "; ".join(f"{g}: {', '.join(t.split('::')[1] for t in ts)}" for g, ts in DESELECT.items())
             + " (they start processes of their own).", "",
             "| group | mutated | tests | mutants | killed | survived | timed out | no tests | not checked | score "
             "(95 % interval) | seconds |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g, r in results.items():
        c = r["counts"]
        mutate, tests = GROUPS.get(g, ([], []))
        lines.append(f"| {g} | {', '.join(mutate)} | {', '.join(t.replace('tests/', '') for t in tests)} | "
                     f"{sum(c.values())} | {c.get('killed', 0)} | {c.get('survived', 0)} | {c.get('timeout', 0)} | "
                     f"{c.get('no tests', 0)} | {c.get('not checked', 0)} | {score(c):.3f} "
                     f"({wilson(c)[0]:.2f}–{wilson(c)[1]:.2f}) | {r['seconds']:.0f} |")
    lines += ["", f"All groups: {sum(r['seconds'] for r in results.values()) / 60:.1f} minutes."]
    out = Path(args.out)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    surv = ["Surviving mutants per group (`mutmut show NAME` in the group's copy gives the whole diff).", ""]
    for g, r in results.items():
        surv += [f"## {g}: {len(r['survivors'])} survivors", ""]
        for k, d in r["survivors"].items():
            surv += [f"- `{k}`", "", "  ```diff", *["  " + ln for ln in d.splitlines()], "  ```", ""]
    out.with_name(out.name + "_survivors.md").write_text("\n".join(surv) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
