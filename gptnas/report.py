"""``python -m gptnas.report RUN_DIR [RUN_DIR ...] [--out DIR]``: compare runs (mean ± std over seeds, one plot)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import GptnasError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gptnas.report", description=__doc__)
    p.add_argument("runs", nargs="+", help="run directories (each made by python -m gptnas.run)")
    p.add_argument("--out", metavar="DIR", help="write report.md and comparison.png here")
    args = p.parse_args(argv)
    from .reports.compare import compare_table, load_runs, plot_comparison
    try:
        runs = load_runs(args.runs)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = compare_table(runs)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(table + "\n")
        plot_comparison(runs, out / "comparison.png")
        print(f"wrote {out / 'report.md'} and {out / 'comparison.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
