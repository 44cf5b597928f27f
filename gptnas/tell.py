"""``python -m gptnas.tell RUN_DIR TRIAL VALUE``: the result of a trial ``python -m gptnas.ask`` gave (by its number
or its key), for a search your own scheduler drives.

    python -m gptnas.tell runs/x 3 93.1
    python -m gptnas.tell runs/x 3 --failed "CUDA out of memory"
    python -m gptnas.tell runs/x 3 93.1 --seconds 3600      # the evaluation's own time (default: since asked)

Several processes may call it at once: each waits its turn for the run directory (its lock).
"""
from __future__ import annotations

import argparse
import logging
import sys

from .errors import GptnasError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.tell", description=__doc__.split("\n")[0])
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("trial", metavar="TRIAL", help="the trial's number (or its key)")
    p.add_argument("value", metavar="VALUE", nargs="?", type=float, help="its fitness (validation accuracy, ...)")
    p.add_argument("--failed", metavar="REASON", help="the evaluation failed (instead of VALUE)")
    p.add_argument("--seconds", type=float, help="the evaluation's own time (default: the time since it was asked)")
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for another process to release the run directory (default 600)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .search.study import open_search
    if (args.value is None) == (args.failed is None):
        print("error: give the trial's VALUE, or --failed REASON", file=sys.stderr)
        return 2
    try:
        with open_search(args.run, reask=False, wait=args.wait) as study:
            study.tell(args.trial, args.value, failed=args.failed or False, seconds=args.seconds)
            if study.done:
                print(f"the search is over ({study.state.status}, {study.state.evaluations} evaluations): "
                      f"summary.json in {args.run}", file=sys.stderr)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
