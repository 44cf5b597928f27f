"""The one ``gptnas`` command: subcommands that are the ``python -m gptnas.X`` commands, --version, resume."""
import json
import shutil
import subprocess
import sys

import pytest

import gptnas
from helpers import TIMEOUT

USER = ["--space", "tests.helpers.constrained:rules", "--fitness", "tests.helpers.constrained:evaluate",
        "--method", "rea", "--no-progress", "-q"]


def gptnas_cmd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gptnas", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd)


def test_version_usage_and_an_unknown_command():
    assert gptnas_cmd("--version").stdout.strip() == f"gptnas {gptnas.__version__}"
    usage = gptnas_cmd("--help")
    assert usage.returncode == 0 and all(c in usage.stdout for c in ("run", "resume", "final", "bench", "rank"))
    bad = gptnas_cmd("serach")
    assert bad.returncode == 2 and "unknown command 'serach'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_run_then_resume_through_the_one_command(tmp_path):
    run = tmp_path / "r"
    first = gptnas_cmd("run", *USER, "--budget", "4", "--out", run)
    assert first.returncode == 0, first.stderr
    more = gptnas_cmd("resume", run, "--budget", "7")
    assert more.returncode == 0, more.stderr
    assert json.loads((run / "summary.json").read_text())["evaluations"] == 7
    assert gptnas_cmd("resume").returncode == 2


def test_every_subcommand_answers_help_as_its_module_does():
    for name in ("run", "final", "report", "bench", "principles", "rank"):
        r = gptnas_cmd(name, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout, (name, r.stderr)


@pytest.mark.skipif(shutil.which("gptnas") is None, reason="the console script is installed by pip install -e .")
def test_the_installed_console_script():
    r = subprocess.run(["gptnas", "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout.strip() == f"gptnas {gptnas.__version__}"


def test_a_key_of_a_method_the_run_does_not_use_is_refused_as_a_flag_is(tmp_path):
    # it was a warning nobody reads, and the key silently did nothing
    r = gptnas_cmd("run", *USER, "--set", "ga.cxpb=0.5", "--budget", "3", "--out", tmp_path / "r")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--set ga.cxpb: section ga holds options of method ga, which this run does not use (--method rea)" \
        in r.stderr
    assert not (tmp_path / "r").exists()
    ok = gptnas_cmd("run", *USER, "--set", "rea.population=4", "--budget", "3", "--out", tmp_path / "ok")
    assert ok.returncode == 0, ok.stderr


def test_run_help_lists_every_space_groups_its_flags_and_uses_todays_keys():
    text = gptnas_cmd("run", "--help").stdout
    assert "tnb101" in text and "room_layout" in text and "search.cxpb" not in text
    groups = [line for line in text.splitlines() if line and not line.startswith((" ", "usage", "Run"))]
    assert len(groups) >= 7 and "space and fitness:" in groups and "workers:" in groups


def test_final_names_its_loader_workers_and_the_old_flag_says_so(tmp_path):
    from gptnas.final import build_parser
    assert build_parser().parse_args(["r", "--loader-workers", "3"]).num_workers == 3
    r = gptnas_cmd("final", tmp_path / "nothing", "--workers", "2")
    assert r.returncode == 2 and "final --workers is now --loader-workers" in r.stderr
