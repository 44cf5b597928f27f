"""What a user's mistakes get: every bad input of issue 19, tried as a user types it, with its exit code and the
one line it prints. Writes ``experiments/results/bad_inputs.md`` (the table in BENCHMARKS.md).

    python experiments/bad_inputs.py --data ../shared/data [--out experiments/results/bad_inputs.md]

Each case runs in a fresh folder (``python -m gptnas.run ...`` or a Python snippet through the object API) and
passes when it exits as expected (2 for a CLI error, 0 where the input is now honoured) and prints at most one
line on stderr that is not a log record or a progress bar, with no traceback. The script exits 1 if any case
fails, so it doubles as a check.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "gptnas.run", "--no-progress", "-q"]
SPACE = ["--space", "tests.helpers.constrained:rules", "--fitness", "tests.helpers.constrained:evaluate"]


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", "import gptnas, sys\nsys.path.insert(0, '.')\n" + textwrap.dedent(code)]


def cases(data: str) -> list[dict]:
    """``{what, setup, cmd, rc}``: ``setup(folder)`` prepares files; ``cmd`` runs in ``folder``; ``rc`` expected."""
    def run_then(*extra):  # a finished rea run in folder/run, then something done to it
        def setup(d: Path):
            subprocess.run([*CLI, *SPACE, "--method", "rea", "--budget", "20", "--out", "run"], cwd=d, env=ENV,
                           check=True, capture_output=True)
            for f in extra:
                f(d)
        return setup

    def edit_method(d: Path):
        p = d / "run/config.yaml"
        p.write_text(p.read_text().replace("method: rea", "method: ga"))

    def truncate_checkpoint(d: Path):
        p = d / "run/checkpoint.pkl"
        p.write_bytes(p.read_bytes()[:40])

    def file_named(name: str, text: bytes = b"keep me\n"):
        return lambda d: (d / name).write_bytes(text)

    def principles_high(d: Path):
        (d / "p.json").write_text('{"space": "nb201", "positions": [{"name": "e01", "allowed": ["nor_conv_3x3"], '
                                  '"evidence": [{"option": "nor_conv_3x3", "score": "high"}]}]}')

    def tnb_run(d: Path):
        subprocess.run([*CLI, "--space", "tnb101", "--dataset", "class_scene", "--data", data, "--method",
                        "random", "--budget", "20", "--out", "tnb"], cwd=d, env=ENV, check=True, capture_output=True)

    def read_only(d: Path):
        (d / "ro").mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(d / "ro")],
                          capture_output=True).returncode:
            raise RuntimeError("cannot mount a read-only file system here")

    nb = ["--space", "nb201", "--data", data]
    return [
        # §1 results that were wrong without a word
        dict(what="evaluate returns NaN on some architectures", rc=0, setup=None, cmd=_python("""
            space = gptnas.spaces.CategoricalSequenceSpace([["a", "b", "c"]] * 6, name="six")
            r = gptnas.search(space, lambda a: float("nan") if a[:2] == [1, 1] else float(sum(a)), method="rea",
                              budget=30, progress=False)
            assert r.best.fitness == max(e.fitness for e in r.history if not e.failed), r.best
            print(r.status, "best", r.best.fitness, file=sys.stderr)""")),
        dict(what="evaluate returns (accuracy, latency)", rc=1, setup=None, cmd=_python("""
            space = gptnas.spaces.CategoricalSequenceSpace([["a", "b"]] * 4, name="four")
            try:
                gptnas.search(space, lambda a: (0.9, 12.0), method="rea", budget=10, progress=False)
            except TypeError as e:
                print(f"{type(e).__name__}: {e}", file=sys.stderr); sys.exit(1)""")),
        dict(what="a position with the same option twice", rc=1, setup=None, cmd=_python("""
            try:
                gptnas.spaces.CategoricalSequenceSpace([["conv", "conv", "pool"]] * 4)
            except ValueError as e:
                print(f"{type(e).__name__}: {e}", file=sys.stderr); sys.exit(1)""")),
        # §3 data lost or runs silently changed
        dict(what="--out FILE --overwrite (a regular file)", rc=2, setup=file_named("notes.txt"),
             cmd=[*CLI, *SPACE, "--method", "rea", "--budget", "5", "--out", "notes.txt", "--overwrite"]),
        dict(what="--out FILE (a regular file)", rc=2, setup=file_named("notes.txt"),
             cmd=[*CLI, *SPACE, "--method", "rea", "--budget", "5", "--out", "notes.txt"]),
        dict(what="config.yaml edited (method: rea -> ga), then --resume", rc=2, setup=run_then(edit_method),
             cmd=[*CLI, "--resume", "run"]),
        dict(what="--resume DIR --method ga", rc=2, setup=run_then(), cmd=[*CLI, "--resume", "run", "--method", "ga"]),
        dict(what="--resume DIR --budget 40 (a finished run of 20)", rc=0, setup=run_then(),
             cmd=[*CLI, "--resume", "run", "--budget", "40"]),
        dict(what="--resume DIR --budget 10 (below the 20 made)", rc=2, setup=run_then(),
             cmd=[*CLI, "--resume", "run", "--budget", "10"]),
        dict(what="--seed 2**64", rc=2, setup=None, cmd=[*CLI, *SPACE, "--seed", str(2 ** 64), "--out", "r"]),
        dict(what="a truncated checkpoint.pkl, then --resume", rc=0, setup=run_then(truncate_checkpoint),
             cmd=[*CLI, "--resume", "run"]),
        dict(what="--principles-from a TransNAS-Bench-101 run while searching NAS-Bench-201", rc=2, setup=tnb_run,
             cmd=[*CLI, *nb, "--method", "lapt", "--principles-from", "tnb", "--out", "r"]),
        # §4 tracebacks where one line is promised
        dict(what="--out on a read-only file system", rc=2, setup=read_only,
             cmd=[*CLI, *SPACE, "--out", "ro/run"]),
        dict(what="--config holding a YAML list", rc=2, setup=file_named("c.yaml", b"- a\n- b\n"),
             cmd=[*CLI, "--config", "c.yaml"]),
        dict(what="--config holding a bare scalar", rc=2, setup=file_named("c.yaml", b"42\n"),
             cmd=[*CLI, "--config", "c.yaml"]),
        dict(what="--config holding non-UTF-8 bytes", rc=2, setup=file_named("c.yaml", b"space: \xff\xfe\n"),
             cmd=[*CLI, "--config", "c.yaml"]),
        dict(what="--set search.budget.x=3", rc=2, setup=None, cmd=[*CLI, "--set", "search.budget.x=3"]),
        dict(what="--set 'search.budget=[1,'", rc=2, setup=None, cmd=[*CLI, "--set", "search.budget=[1,"]),
        dict(what="--set out=[1,2]", rc=2, setup=None, cmd=[*CLI, "--set", "out=[1,2]"]),
        dict(what="--set data=[1,2]", rc=2, setup=None, cmd=[*CLI, "--set", "data=[1,2]"]),
        dict(what='a principles file with "score": "high"', rc=2, setup=principles_high,
             cmd=[*CLI, *nb, "--method", "lapt", "--principles-file", "p.json", "--out", "r"]),
        dict(what="--set llm.timeout_s=-1", rc=2, setup=None, cmd=[*CLI, "--set", "llm.timeout_s=-1"]),
        dict(what="--set llm.retries=abc", rc=2, setup=None, cmd=[*CLI, "--set", "llm.retries=abc"]),
        *[dict(what=f"gptnas.search(..., {arg})", rc=1, setup=None, cmd=_python(f"""
            space = gptnas.spaces.CategoricalSequenceSpace([["a", "b"]] * 4, name="four")
            try:
                gptnas.search({call}, progress=False)
            except {catch} as e:
                assert isinstance(e, gptnas.errors.GptnasError)
                print(f"{{type(e).__name__}}: {{e}}", file=sys.stderr); sys.exit(1)"""))
          for arg, call, catch in [
              ('workers="two"', 'space, sum, method="rea", budget=5, workers="two"', "TypeError"),
              ("gpt=[1]", 'space, sum, method="rea", budget=5, gpt=[1]', "TypeError"),
              ("space=[1, 2]", '[1, 2], sum, method="rea", budget=5', "TypeError"),
              ("evaluate=5", 'space, 5, method="rea", budget=5', "TypeError"),
              ("foo=1", 'space, sum, method="rea", budget=5, foo=1', "TypeError")]],
        dict(what="CategoricalSequenceSpace(5)", rc=1, setup=None, cmd=_python("""
            try:
                gptnas.spaces.CategoricalSequenceSpace(5)
            except TypeError as e:
                assert isinstance(e, gptnas.errors.GptnasError)
                print(f"{type(e).__name__}: {e}", file=sys.stderr); sys.exit(1)""")),
        dict(what="--budget abc", rc=2, setup=None, cmd=[*CLI, "--budget", "abc"]),
        # §5 waiting and advice
        dict(what="--set search=null", rc=2, setup=None, cmd=[*CLI, "--method", "rea", "--set", "search=null"]),
        dict(what='--rank-from ""', rc=2, setup=None, cmd=[*CLI, *nb, "--method", "lmsearcher", "--rank-from", ""]),
        # issue 36: the engine under faults
        dict(what="--eval-timeout soon", rc=2, setup=None, cmd=[*CLI, *SPACE, "--eval-timeout", "soon"]),
        dict(what="an evaluation that never returns, --eval-timeout 1s --workers 2", rc=0, setup=userfit,
             cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:hang_some", "--method", "rea", "--budget", "12",
                  "--eval-timeout", "1s", "--workers", "2", "--set", "search.max_failed_share=0.9", "--out", "r"]),
        dict(what="an evaluation that never returns, --budget-time 6s --set search.on_time=cancel --workers 2",
             rc=0, setup=userfit, cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:hang_some", "--method", "rea",
                                       "--budget", "100", "--budget-time", "6s", "--set", "search.on_time=cancel",
                                       "--workers", "2", "--seed", "3", "--out", "r"]),
        dict(what="an evaluation stuck where no signal reaches it (SIGALRM blocked), --eval-timeout 1s --workers 2",
             rc=0, setup=userfit, cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:stuck_in_c", "--method", "rea",
                                       "--budget", "12", "--eval-timeout", "1s", "--workers", "2",
                                       "--set", "search.max_failed_share=0.9", "--out", "r"]),
        dict(what="the same with one worker (--eval-timeout 1s)", rc=0, setup=userfit,
             cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:stuck_in_c", "--method", "rea", "--budget", "12",
                  "--eval-timeout", "1s", "--set", "search.max_failed_share=0.9", "--out", "r"]),
        dict(what="an evaluation that never returns, one worker, --budget-time 6s --set search.on_time=cancel",
             rc=0, setup=userfit, cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:hang_some", "--method", "rea",
                                       "--budget", "100", "--budget-time", "6s", "--set", "search.on_time=cancel",
                                       "--seed", "3", "--out", "r"]),
        dict(what="--workers 10000 --budget 4", rc=0, setup=None,
             cmd=[*CLI, *SPACE, "--method", "rea", "--workers", "10000", "--budget", "4", "--out", "r"]),
        dict(what="--set search.max_tasks_per_worker=0", rc=2, setup=None,
             cmd=[*CLI, *SPACE, "--set", "search.max_tasks_per_worker=0"]),
        dict(what="extras a worker cannot send back (a lambda), --workers 2", rc=0, setup=userfit,
             cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:lambda_extras", "--method", "rea", "--budget",
                  "12", "--workers", "2", "--set", "search.max_failed_share=0.9", "--out", "r"]),
        dict(what='extras={"test": "high"}, --workers 2', rc=0, setup=userfit,
             cmd=[*CLI, "--space", "nb201", "--fitness", "userfit:test_high", "--method", "rea", "--budget", "12",
                  "--workers", "2", "--set", "search.max_failed_share=0.9", "--out", "r"]),
    ]


def userfit(d: Path) -> None:
    """A user's fitness module with the faults of issue 36."""
    (d / "userfit.py").write_text(textwrap.dedent("""\
        import time
        from gptnas.evaluators import EvalResult

        def hang_some(arch):
            if arch[0] == 3:
                time.sleep(3600)
            return float(sum(arch))

        def stuck_in_c(arch):
            if arch[0] == 3:  # as a C call that never checks for signals: the timer's signal is blocked
                import signal
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
                time.sleep(3600)
            return float(sum(arch))

        def lambda_extras(arch):
            return EvalResult(float(sum(arch)), {"f": (lambda: 1)} if arch[0] == 3 else {})

        def test_high(arch):
            return EvalResult(float(sum(arch)), {"test": "high"} if arch[0] == 3 else {})
        """))


ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def message_lines(stderr: str) -> list[str]:
    """What the user reads: stderr without log records (``INFO ...``/``WARNING ...``) and progress bars."""
    out = []
    for line in stderr.splitlines():
        line = line.rstrip()
        if not line or line.split(" ", 1)[0] in ("INFO", "WARNING", "DEBUG") or "\r" in line or "it/s]" in line:
            continue
        out.append(line)
    return out


def run_case(case: dict, root: Path) -> dict:
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        if case["setup"]:
            case["setup"](folder)
        r = subprocess.run(case["cmd"], cwd=folder, env=ENV, capture_output=True, text=True, timeout=600)
        lines = [ln.replace(str(folder), ".") for ln in message_lines(r.stderr)]
        if not lines and r.returncode == 0:  # a run that went on: what it printed of its end
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith("status:")][:1]
        # an error is one line; a run that goes on may warn (each failed evaluation says why)
        ok = r.returncode == case["rc"] and (case["rc"] == 0 or len(lines) <= 1) and "Traceback" not in r.stderr
        return {"what": case["what"], "rc": r.returncode, "expected": case["rc"], "line": lines[-1] if lines else "",
                "ok": ok, "extra": lines[:-1]}
    except Exception as e:  # noqa: BLE001 - a setup this machine cannot do is reported, not fatal
        return {"what": case["what"], "rc": None, "expected": case["rc"], "line": f"(not run: {e})", "ok": None,
                "extra": []}
    finally:
        subprocess.run(["umount", str(folder / "ro")], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "experiments/results/bad_inputs.md"))
    args = ap.parse_args()
    data = str(Path(args.data).resolve())
    root = Path(tempfile.mkdtemp(prefix="gptnas-bad-inputs-"))
    results = [run_case(c, root) for c in cases(data)]
    shutil.rmtree(root, ignore_errors=True)
    lines = ["# Bad inputs and their answers", "",
             f"`python experiments/bad_inputs.py --data {args.data}` — each input as a user types it, in a fresh "
             "folder; the exit code and the one line printed (stderr, log records left out). Python cases exit 1 "
             "from the snippet that caught the error.", "",
             "| input | exit | what it prints |", "|---|---:|---|"]
    for r in results:
        mark = "" if r["ok"] else " **(unexpected)**" if r["ok"] is False else " (not run)"
        lines.append(f"| {r['what']} | {r['rc']}{mark} | {r['line'].replace('|', '/')} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    bad = [r for r in results if r["ok"] is False]
    for r in bad:
        print(f"UNEXPECTED: {r['what']}: exit {r['rc']} (expected {r['expected']}); extra lines: {r['extra']}",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
