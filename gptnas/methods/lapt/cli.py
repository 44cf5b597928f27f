"""``python -m gptnas.principles show|export|extract``: read, export or learn design principles.

    python -m gptnas.principles show runs/lapt-nb201-cifar10-s0             # the principles.md of a run
    python -m gptnas.principles export runs/lapt-nb201-cifar10-s0 --out p.json
    python -m gptnas.run --space nb201 --dataset cifar100 --method rea --principles-file p.json   # reuse them
    python -m gptnas.principles extract --space nb201 --from cifar10 --data ../shared/data --out p.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...errors import GptnasError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.principles", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show", help="print a run's principles (principles.md)")
    s.add_argument("run", metavar="RUN_DIR")
    e = sub.add_parser("export", help="write a run's final principles as a file --principles-file reads")
    e.add_argument("run", metavar="RUN_DIR")
    e.add_argument("--out", required=True, metavar="FILE")
    x = sub.add_parser("extract", help="learn principles from a source without searching")
    x.add_argument("--space", required=True, help="nb201 | tnb101 | module:callable")
    x.add_argument("--from", dest="source", required=True, metavar="SOURCE[,SOURCE]",
                   help="datasets/tasks of the table, or run directories")
    x.add_argument("--data", help="benchmark data (default $GPTNAS_DATA)")
    x.add_argument("--principles", default="stats", help="stats | frequency | gpt | llm")
    x.add_argument("--max-options", type=int, dest="max_options")
    x.add_argument("--out", metavar="FILE", help="principles.json to write (the .md beside it)")
    return p


def _run_principles(run: str) -> Path:
    from ...storage.rundir import RunDir
    rd = RunDir.open(run)
    f = rd.path / "principles.json"
    if not f.is_file():
        raise GptnasError(f"{rd.path} has no principles (it did not use --method lapt or --principles-from)")
    return f


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "show":
            print((_run_principles(args.run).parent / "principles.md").read_text(), end="")
        elif args.cmd == "export":
            d = json.loads(_run_principles(args.run).read_text())
            Path(args.out).write_text(json.dumps(d, indent=1) + "\n")
            print(f"wrote {args.out}: reuse with --principles-file {args.out}")
        else:
            extract(args)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def extract(args) -> None:
    from ...config import RunConfig, validate
    from ...core.rng import Rngs
    from ..base import SearchContext
    from .learn import learn_principles
    from .options import PrinciplesSettings
    from ...spaces import get_space

    cfg = validate(RunConfig(space=args.space, fitness="benchmark", data=args.data))
    space = get_space(cfg.space, cfg.space_options)
    settings = PrinciplesSettings(source=args.source, extractor=args.principles, max_options=args.max_options)
    settings.validate()
    ctx = SearchContext(space, Rngs(0), progress=False, dataset=None, fitness="benchmark", data=cfg.data,
                        space_name=cfg.space, llm=cfg.llm)
    principles, _ = learn_principles(settings, space, ctx)
    print(principles.markdown(), end="")
    if args.out:
        out = Path(args.out)
        out.write_text(json.dumps(principles.to_dict(), indent=1) + "\n")
        out.with_suffix(".md").write_text(principles.markdown())
        print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    sys.exit(main())
