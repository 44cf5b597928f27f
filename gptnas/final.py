"""``python -m gptnas.final RUN_DIR``: train a finished run's best architecture from scratch, the long way.

GPT-NAS's final training (paper, section 4.1): SGD, learning rate 0.01 divided by 10 every 100 epochs for 350 epochs
on CIFAR; 120 epochs with a decay every 30 on ImageNet. Other datasets get the CIFAR schedule unless flags say
otherwise. The run's own space, dataset and seed are used; the held-out validation split stays held out (so the
validation accuracy is comparable with the search's) and the test accuracy is reported. The result is written
atomically to ``RUN_DIR/final.json``.

    python -m gptnas.final runs/gptnas-macro-cifar10-s0 --device cuda
    python -m gptnas.final runs/gptnas-macro-digits-s0 --epochs 30 --lr-step 10    # a quick CPU check
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import GptnasError

#: dataset → (epochs, decay every, batch size or None for the search's, loader workers or None for the search's)
SCHEDULES = {"imagenet": (120, 30, 128, 8)}
DEFAULT_SCHEDULE = (350, 100, None, None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.final", description=__doc__.split("\n")[0])
    p.add_argument("run", metavar="RUN_DIR", help="a finished (or stopped) run directory")
    p.add_argument("--arch", help="train this architecture (a key as in summary.json) instead of the run's best")
    p.add_argument("--epochs", type=int, help="default 350 (120 on ImageNet)")
    p.add_argument("--lr-step", type=int, dest="lr_step", help="divide the lr by 10 every N epochs (100; ImageNet 30)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, dest="batch_size", help="default: the search's (ImageNet 128)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=int, dest="num_workers",
                   help="DataLoader workers reading batches (default: the run's; ImageNet: 8), for data streamed "
                        "from disk")
    p.add_argument("--seed", type=int, help="default: the run's")
    p.add_argument("--progress", action="store_true", help="a progress bar over epochs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = final_train(args)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"architecture: {result['arch']}")
    print(f"final training ({result['epochs']} epochs): validation accuracy {result['val']:.2f} %, "
          f"test accuracy {result['test']:.2f} %")
    print(f"written to {Path(args.run) / 'final.json'}")
    return 0


def final_train(args) -> dict:
    from .config import from_recorded, validate
    from .evaluators.factory import build_evaluator
    from .spaces import get_space
    from .storage.atomic import atomic_write_text
    from .storage.rundir import RunDir

    rd = RunDir.open(args.run)
    cfg = validate(from_recorded(rd.read_config()))
    space = get_space(cfg.space, cfg.space_options)
    if args.arch:
        arch_key = args.arch
    else:
        best = rd.read_summary().get("best")
        if not best:
            raise GptnasError(f"{args.run} has no evaluated architecture yet: nothing to train (or pass --arch)")
        arch_key = best["arch"]
    arch = space.parse(arch_key)
    epochs, step, batch, workers = SCHEDULES.get(cfg.dataset, DEFAULT_SCHEDULE)
    t = cfg.train
    # The search's training settings, with the final schedule on all of the training split.
    t.epochs, t.lr, t.device = args.epochs or epochs, args.lr, args.device
    t.batch_size = args.batch_size or batch or t.batch_size
    # All of ImageNet (193 GB at 224 px) is streamed from its decoded file: workers keep the GPU fed.
    t.num_workers = next(v for v in (args.num_workers, workers, t.num_workers) if v is not None)
    t.max_train, t.time_limit_s, t.fraction, t.inherit = None, None, 1.0, False
    cfg.fitness = "train"  # also for a run that searched with a proxy
    if args.seed is not None:
        cfg.seed = args.seed
    ev = build_evaluator(cfg, space, lr_step=args.lr_step or step, progress=args.progress)
    r = ev(arch)
    if r.failed:
        raise GptnasError(f"final training of {arch_key} failed: {r.failed}")
    result = {"arch": arch_key, "val": r.fitness, "test": r.test, "epochs": ev.epochs, "lr": ev.lr,
              "lr_step": ev.lr_step, "batch_size": ev.batch_size, "num_workers": ev.num_workers, "seed": ev.seed,
              **r.extras}
    atomic_write_text(Path(args.run) / "final.json", json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    sys.exit(main())
