"""The README's shell commands run as written (issue 37 part 4), so none can rot.

The one variable: ``$GPTNAS_DATA``. The README's commands carry no ``--data``: they read the benchmark tables from
``$GPTNAS_DATA``, which these tests point at the reference data (``../shared/data``), as a user points it at theirs.
The README's ``# file: NAME`` blocks are written into the working folder first, as a reader saves them.

- In the default suite, every ``python -m gptnas.run`` command is checked whole with ``--dry-run`` (flags, config
  keys, run directory, data: what a run checks before any work), and every other command's subcommand and flags
  against its ``--help``, as are the ``python experiments/...`` lines of the Experiments list.
- ``-m slow`` runs every command, in the README's order, in one folder (so ``--resume runs/demo`` resumes the run
  made above it), but for those in :data:`CANNOT`, each with what it needs that this machine has not.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text()
FENCED = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)
QUICKSTART = re.search(r"<!-- quickstart:begin -->(.*?)<!-- quickstart:end -->", README, flags=re.S).group(1)

#: What cannot run here, and why: a command matching the pattern is left out (it is tested elsewhere, or needs what
#: no test machine has).
CANNOT = {
    r"^(vllm|ollama) ": "an LLM server (gptnas's LLM paths run against a server the tests start: test_llm_scripted)",
    r"--llm-url http://localhost|--llm-replay runs/|^python -m gptnas\.run \.\.\.":
        "that LLM server, or its recording (test_llm_scripted.py runs both)",
    r"--device cuda|gptnas_cifar10\.yaml": "a GPU and hours (the paper's CIFAR-10 search)",
    r"--dataset fashion-mnist": "a GPU: training 40-60 networks on Fashion-MNIST's 60,000 images takes hours on 2 "
                                "cores (the first took over 5 minutes); the same path runs on digits above",
    r"--download|--url URL_OF": "the internet (tested against a server on 127.0.0.1: test_bench_download.py)",
    r"^pip |^python -m pytest": "CI's own commands (.ci/run runs them, taken from this README)",
    r"^python experiments/": "an experiment: run from the repository root, it writes experiments/results/ and takes "
                             "tens of minutes (its flags are checked in the default suite)",
}


def _lines(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comment-only and empty lines dropped."""
    out, cur = [], ""
    for raw in block.splitlines():
        cur += raw.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        if cur.strip() and not cur.lstrip().startswith("#"):
            out.append(cur.strip())
        cur = ""
    return out


def commands() -> list[str]:
    """Every command of the README's shell blocks, in order (``# file:`` blocks are files, run by their tests)."""
    return [c for lang, b in FENCED if lang == "bash" and not b.startswith("# file:") and b.strip() not in
            QUICKSTART for c in _lines(b)]


def cannot(cmd: str) -> str | None:
    return next((why for pat, why in CANNOT.items() if re.search(pat, cmd)), None)


def files() -> dict[str, str]:
    """The README's ``# file: NAME`` blocks."""
    return {m.group(1): b for _, b in FENCED for m in [re.match(r"# file: (\S+)\n", b)] if m}


def _env(tmp_path, data) -> dict:
    return {**os.environ, "GPTNAS_DATA": str(data), "GPTNAS_CACHE": str(tmp_path / "cache"),
            "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)]), "OMP_NUM_THREADS": "1"}


def _folder(tmp_path):
    for name, text in files().items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _words(cmd: str) -> list[str]:
    return shlex.split(cmd.split(" #")[0].split("   #")[0])


RUNS = [c for c in commands() if c.startswith("python -m gptnas.run ") and "--resume" not in c and not cannot(c)]
OTHERS = [c for c in commands() if c.startswith("python -m gptnas.") and c not in RUNS and not cannot(c)]
EXPERIMENTS = sorted(set(re.findall(r"`(python experiments/\S+\.py[^`]*)`", README))
                     | {c for c in commands() if c.startswith("python experiments/")})


def test_the_readme_has_the_commands_these_tests_read():
    assert len(RUNS) >= 12 and len(OTHERS) >= 10 and len(EXPERIMENTS) >= 8
    assert "--data ../shared" not in " ".join(commands()) and "--data PATH" not in " ".join(commands())


#: Runs each command in one Python process (one interpreter start-up for all, not one per command): the
#: README's run commands with --dry-run from the folder the README's files are in, the other commands' --help.
#: Prints {command: [exit code, stdout]} as JSON.
_CHECK = r"""
import contextlib, io, json, os, runpy, sys
todo, folder, repo = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
for cmd, words, dry in todo:
    buf = io.StringIO()
    os.chdir(folder if dry or words[1] == "-m" else repo)
    sys.argv = [words[2] if words[1] == "-m" else words[1]] + words[3 if words[1] == "-m" else 2:]
    try:
        with contextlib.redirect_stdout(buf):
            if words[1] == "-m":
                runpy.run_module(words[2], run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(os.path.join(repo, words[1]), run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:
        code, buf = 1, io.StringIO(f"{type(e).__name__}: {e}")
    out[cmd] = [code, buf.getvalue()]
print(json.dumps(out))
"""


def _help_words(words: list[str]) -> list[str]:
    """``COMMAND [SUBCOMMAND] --help`` for a README command."""
    n = 3 if words[1] == "-m" else 2  # python -m gptnas.X | python experiments/X.py
    sub = [w for w in words[n:n + 1] if not w.startswith("-") and words[1] == "-m" and words[2] != "gptnas.run"]
    return words[:n] + sub + ["--help"]


@pytest.fixture(scope="module")
def checked(shared_data, tmp_path_factory):
    folder = _folder(tmp_path_factory.mktemp("readme"))
    todo = [(c, _words(c) + ["--dry-run"], True) for c in RUNS] + \
        [(c, _help_words(_words(c)), False) for c in OTHERS + EXPERIMENTS]
    r = subprocess.run([sys.executable, "-c", _CHECK, json.dumps(todo), str(folder), str(REPO)], cwd=folder,
                       env=_env(folder, shared_data), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1]), folder


@pytest.mark.parametrize("cmd", RUNS)
def test_each_run_command_checks_out_as_written(cmd, checked):
    results, folder = checked
    code, out = results[cmd]
    assert code == 0 and "would run:" in out, (cmd, out[-1500:])
    assert not (folder / "runs").exists()  # a dry run writes nothing


@pytest.mark.parametrize("cmd", OTHERS + EXPERIMENTS)
def test_each_other_command_names_a_subcommand_and_flags_that_exist(cmd, checked):
    code, out = checked[0][cmd]
    assert code == 0, (cmd, out[-1500:])
    for flag in (w.split("=")[0] for w in _words(cmd) if w.startswith("--")):
        assert flag in out, (flag, cmd)


@pytest.mark.slow
def test_every_readme_command_runs_as_written(shared_data, tmp_path):
    """Every command, in order, in one folder (what one needs the one above made); about 7 minutes on 2 cores."""
    cwd, env = _folder(tmp_path), _env(tmp_path, shared_data)
    left_out = []
    for cmd in commands():
        why = cannot(cmd)
        if why:
            left_out.append((cmd, why))
            continue
        t0 = time.monotonic()
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=3600)
        assert r.returncode == 0, (cmd, r.stderr[-3000:])
        print(f"{time.monotonic() - t0:7.1f} s  {cmd}", flush=True)
    assert len(left_out) <= 12, left_out  # the exceptions stay few


def test_the_contents_list_every_heading_with_its_anchor():
    heads = re.findall(r"^(##+) (.+)$", README, flags=re.M)
    listed = re.findall(r"^( *)- \[(.+?)\]\(#(.+?)\)$", README.split("## Contents", 1)[1].split("\n## ", 1)[0],
                        flags=re.M)
    slug = lambda t: re.sub(r"[^\w\- ]", "", t.strip().lower()).replace(" ", "-")  # GitHub's anchors
    want = [(len(h) - 2, t.replace("`", ""), slug(t)) for h, t in heads if t not in ("Quick start", "Contents")]
    assert [(len(i) // 2, t, a) for i, t, a in listed] == want


def test_what_a_run_leaves_behind_names_every_file_a_run_writes(nb201_dir, tmp_path):
    from gptnas.run import main
    out = tmp_path / "run"
    assert main(["--space", "nb201", "--dataset", "imagenet16-120", "--data", str(nb201_dir), "--method", "lapt",
                 "--principles-from", "cifar10", "--budget", "12", "--out", str(out), "-q", "--no-progress"]) == 0
    listed = README.split("### What a run leaves behind", 1)[1].split("```", 2)[1]
    for f in out.iterdir():
        assert f.name in listed, f.name
