"""The README's Python examples run as written (from the repository root, where ../shared/data sits beside it)."""
import re
import subprocess
import sys

import pytest

from conftest import REPO

ALL_BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
# Blocks that are files ("# file: NAME.py") are run by their own tests (tests/test_custom_space.py).
BLOCKS = [b for b in ALL_BLOCKS if not b.startswith("# file:")]


def readme_file(name: str) -> str:
    """The README block that starts with ``# file: name``."""
    return next(b for b in ALL_BLOCKS if b.startswith(f"# file: {name}"))


def _run(code: str, tmp_path, shared_data):
    """A block run as written, the benchmark tables in ``$GPTNAS_DATA`` (the README's one variable for them)."""
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={"GPTNAS_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path), "GPTNAS_DATA": str(shared_data)})


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_python_example_runs(i, nb201_dir, tmp_path):
    assert "shared/data" not in BLOCKS[i]  # no path to fill in: the tables come from $GPTNAS_DATA
    r = _run(BLOCKS[i], tmp_path, nb201_dir.parent)
    assert r.returncode == 0, r.stderr[-3000:]
    # every example prints at least one architecture: a NAS-Bench-201 string or a block chain
    from gptnas.spaces.macro.block_types import BLOCK_TYPES
    assert "|" in r.stdout or sum(b in r.stdout for b in BLOCK_TYPES) >= 3
    if "algorithms.ea" in BLOCKS[i]:  # a DEAP loop draws from Python's global random: the block seeds it
        again = _run(BLOCKS[i], tmp_path, nb201_dir.parent)
        assert again.returncode == 0 and again.stdout == r.stdout
