"""``python -m gptnas.rank trajectories|train``: ranking data and the built-in ranker, outside a search.

    python -m gptnas.rank trajectories --space nb201 --from cifar10,cifar100 --data ../shared/data --out traj.jsonl
        # LM-Searcher's text (traj.jsonl: prompt / completion) and chat messages (traj.chat.jsonl), for fine-tuning
        # your own LLM with the usual tools; sources are tables' datasets/tasks or run directories
    python -m gptnas.rank train --space nb201 --target cifar10 --data ../shared/data
        # the built-in ranker a cifar10 search would use (trained on every other table), into the cache
    python -m gptnas.rank train --synthetic --space mymodule:space
        # the ranker a search on your own space uses when it has no table (synthetic problems), into the cache
"""
from __future__ import annotations

import argparse
import random
import sys

from ...errors import ConfigError, GptnasError
from ...core.terminal import progress_wanted


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.rank", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trajectories", help="write ranking samples as JSON lines")
    t.add_argument("--space", required=True, help="nb201 | tnb101 | module:callable")
    t.add_argument("--from", dest="source", required=True, metavar="SOURCE[,SOURCE]")
    t.add_argument("--data", help="benchmark data (default $GPTNAS_DATA)")
    t.add_argument("--subspaces", type=int, default=200, help="pruned sub-spaces per source")
    t.add_argument("--uniform", action="store_true", help="no pruning (the paper's ablation)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, metavar="FILE.jsonl")
    r = sub.add_parser("train", help="build (or load) the built-in ranker of a target")
    r.add_argument("--space", required=True, help="nb201 | tnb101 | module:callable")
    r.add_argument("--target", help="the target dataset/task (never trained on); not with --synthetic alone")
    r.add_argument("--from", dest="source", help="sources instead of every other table")
    r.add_argument("--synthetic", action="store_true", help="train on synthetic problems on the space's own "
                   "decisions (with --from: both), as a search without tables does")
    r.add_argument("--prior", metavar="YAML", help="the synthetic prior's settings, as lmsearcher.synthetic "
                   "(e.g. '{problems: 32}'); a search finds this ranker when it sets the same")
    r.add_argument("--epochs", type=int, help="training epochs, as lmsearcher.epochs (default 6)")
    r.add_argument("--data")
    return p


def _space(name: str):
    """A built-in space by name, or a user's ``module:callable`` (imported from the working directory too)."""
    import os
    from ...spaces import get_space
    return get_space(name, search_path=[os.getcwd()])


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ...config import RunConfig, validate
    from ...core.rng import Rngs
    from ..base import SearchContext
    from .options import RankSettings
    from ...spaces import get_space
    synthetic = getattr(args, "synthetic", False)
    try:
        if args.cmd == "train" and not args.target and not synthetic:
            raise ConfigError("rank train needs --target DATASET (the task a search will run on) or --synthetic "
                              "(a ranker for a space without tables)")
        if synthetic and not args.source:  # no tables read: the space alone
            space = _space(args.space)
            ctx = SearchContext(space, Rngs(0), progress=progress_wanted(), space_name=space.name)
        else:
            cfg = validate(RunConfig(space=args.space, fitness="benchmark", data=args.data,
                                     dataset=getattr(args, "target", None)))
            space = get_space(cfg.space, cfg.space_options)
            ctx = SearchContext(space, Rngs(0), progress=progress_wanted(), dataset=getattr(args, "target", None),
                                fitness="benchmark", data=cfg.data, space_name=cfg.space)
        if args.cmd == "trajectories":
            from .rankers import training_sources
            from .trajectories import samples_from, write_jsonl
            settings = RankSettings(source=args.source)
            rng = random.Random(args.seed)
            samples = []
            for label, sp, scored in training_sources(settings, ctx):
                samples += samples_from(scored, sp, rng, n_subspaces=args.subspaces, uniform=args.uniform,
                                        source=label)
            text, chat = write_jsonl(samples, args.out)
            print(f"wrote {len(samples):,} samples to {text} (LM-Searcher's text) and {chat} (chat messages)")
        else:
            from .rankers import builtin_ranker
            import yaml
            prior = ("both" if args.source else "synthetic") if synthetic else "auto"
            extra = {"synthetic": yaml.safe_load(args.prior)} if args.prior else {}
            if args.epochs is not None:
                extra["epochs"] = args.epochs
            settings = RankSettings.from_dict({"source": args.source, "prior": prior, **extra})
            settings.validate()
            r = builtin_ranker(settings, ctx)
            log = r.train_log[-1] if r.train_log else {}
            print(f"ranker {r.key}: {'loaded from the cache' if getattr(r, 'loaded_from_cache', False) else 'trained'}"
                  + (f", {log.get('samples', 0):,} samples, loss {log['losses'][-1]:.3f}" if log else "")
                  + (f", learned from {', '.join(log['sources'])}" if log.get("sources") else ""))
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
