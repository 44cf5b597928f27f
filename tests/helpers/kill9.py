"""A search killed with SIGKILL mid-run and resumed, as a user's script would be: the harness the kill -9 tests share."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from . import TIMEOUT

TESTS = Path(__file__).resolve().parents[1]


def kill_and_resume(tmp_path: Path, imports: str, search: str, resume: str, kill_after: int) -> list[str]:
    """Run ``search`` to the end into ``tmp_path/ref``; run it again into ``tmp_path/run``, SIGKILL it once
    ``kill_after`` results are journaled, then ``resume`` it. ``imports``, ``search``, ``resume``: Python lines of the
    script (``out`` names the run directory). Returns the pids of the pool's workers at the kill (empty: serial)."""
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import gptnas
        {imports}
        if __name__ == "__main__":
            out, mode = sys.argv[1], sys.argv[2]
            if mode == "run":
                {search}
            else:
                {resume}
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(script), str(tmp_path / "ref"), "run"], check=True, env=env, timeout=300)
    # the run stops (sleeps) once kill_after results are recorded, so the kill lands on a live run, never a
    # finished one, however loaded the machine
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run"), "run"],
                            env={**env, "GPTNAS_FAULT_HOLD_AFTER_EVALS": str(kill_after)})
    journal = tmp_path / "run" / "pending.jsonl"
    t0 = time.time()
    while time.time() - t0 < 120:
        done = sum(len(p.read_text().splitlines()) for p in (journal, journal.with_name("evaluations.jsonl"))
                   if p.exists())
        if done >= kill_after:
            break
        time.sleep(0.05)
    assert done >= kill_after, f"only {done} of {kill_after} results journaled in 120 s: the kill would miss the run"
    assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before the kill: nothing would be resumed"
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)],
                             capture_output=True, text=True, timeout=TIMEOUT).stdout.split()
    proc.kill()
    assert proc.wait() == -9, "the run was not killed by the SIGKILL"
    t0 = time.time()  # give the pool's workers a moment to notice their parent is gone
    while time.time() - t0 < 10 and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    subprocess.run([sys.executable, str(script), str(tmp_path / "run"), "resume"], check=True, env=env, timeout=300)
    return workers
