"""``python -m gptnas.ask RUN_DIR [--n K]``: trials to evaluate, one JSON line each (``number``, ``key``,
``arch``), for a search your own scheduler drives (shell scripts, job arrays; see ``gptnas.open_search``).

    python -m gptnas.ask runs/x --new --space nb201 --method rea --budget 100 --seed 0   # start it
    python -m gptnas.ask runs/x --n 4        # four trials (fewer when the method needs results first)
    python -m gptnas.tell runs/x 3 93.1      # trial 3's result (python -m gptnas.tell --help)

Several processes may call it at once: each waits its turn for the run directory (its lock) and gets trials no
other call got. A trial asked and never told stays pending (``--pending`` lists them again). When nothing can be
asked it prints nothing and says why on stderr: the search is over (exit 0) or the method waits for a result
(exit 3).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from .errors import GptnasError

WAITING = 3  # exit status: nothing to ask until a result is told


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.ask", description=__doc__.split("\n")[0])
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--n", type=int, help="how many trials (default 1; with --new, none unless given)")
    p.add_argument("--pending", action="store_true", help="list the trials asked and not told, then stop")
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for another process to release the run directory (default 600)")
    new = p.add_argument_group("starting a new search in RUN_DIR (--new)")
    new.add_argument("--new", action="store_true", help="start the search (RUN_DIR must not hold one)")
    new.add_argument("--space", help="nb201, tnb101, a module:callable, ...")
    new.add_argument("--method", default=None, help="rea, random, ga, gptnas, ... (default: the default method)")
    new.add_argument("--budget", type=int, help="unique evaluations")
    new.add_argument("--seed", type=int, default=0)
    new.add_argument("--lag", type=int, default=1, help="trials out at once before the method must see a result")
    new.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any other config key, dotted (rea.population=20)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .search.study import NoTrial, open_search
    if args.n is not None and args.n < 1:
        print(f"error: --n must be at least 1, got {args.n}", file=sys.stderr)
        return 2
    n = args.n if args.n is not None else (0 if args.new else 1)
    try:
        if args.new:
            if not args.space:
                raise GptnasError("--new needs --space (and usually --method and --budget)")
            study = open_search(args.space, method=args.method, budget=args.budget, seed=args.seed, out=args.run,
                                lag=args.lag, **_settings(args.set))
        else:
            study = open_search(args.run, reask=False, wait=args.wait)
        with study:
            if args.pending:
                for t in study.pending():
                    print(json.dumps({"number": t.number, "key": t.key, "arch": t.arch}))
                return 0
            for _ in range(n):
                try:
                    t = study.ask()
                except NoTrial as e:
                    print(str(e), file=sys.stderr)
                    return WAITING if e.reason == "waiting" else 0
                print(json.dumps({"number": t.number, "key": t.key, "arch": t.arch}), flush=True)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _settings(pairs: list[str]) -> dict:
    """``--set a.b=v`` pairs as the nested keywords ``open_search`` takes (values read as YAML)."""
    import yaml
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise GptnasError(f"--set takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        *path, last = key.strip().split(".")
        d = out
        for part in path:
            d = d.setdefault(part, {})
        d[last] = yaml.safe_load(value)
    return out


if __name__ == "__main__":
    sys.exit(main())
