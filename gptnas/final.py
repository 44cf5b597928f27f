"""``python -m gptnas.final RUN_DIR``: train a finished run's best architecture from scratch, the long way.

GPT-NAS's final training (paper, section 4.1): SGD, learning rate 0.01 divided by 10 every 100 epochs for 350 epochs
on CIFAR; 120 epochs with a decay every 30 on ImageNet. Other datasets get the CIFAR schedule unless flags say
otherwise. The run's own space, dataset and seed are used; the held-out validation split stays held out (so the
validation accuracy is comparable with the search's) and the test accuracy is reported. The result is written
atomically to ``RUN_DIR/final.json``, the trained network to ``RUN_DIR/final.pt`` (its state dict and what rebuilds
the module: :func:`export` reads it) and, with ``--onnx``, to ``RUN_DIR/final.onnx``.

    python -m gptnas.final runs/gptnas-macro-cifar10-s0 --device cuda
    python -m gptnas.final runs/gptnas-macro-digits-s0 --epochs 30 --lr-step 10    # a quick CPU check
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from .errors import GptnasError

#: dataset → (epochs, decay every, batch size or None for the search's, loader workers or None for the search's)
SCHEDULES = {"imagenet": (120, 30, 128, 8)}
DEFAULT_SCHEDULE = (350, 100, None, None)
FINAL_WEIGHTS, FINAL_ONNX = "final.pt", "final.onnx"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptnas.final", description=__doc__.split("\n")[0])
    p.add_argument("run", metavar="RUN_DIR", help="a finished (or stopped) run directory")
    p.add_argument("--arch", help="train this architecture (a key as in summary.json) instead of the run's best")
    p.add_argument("--epochs", type=int, help="default 350 (120 on ImageNet)")
    p.add_argument("--lr-step", type=int, dest="lr_step", help="divide the lr by 10 every N epochs (100; ImageNet 30)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, dest="batch_size", help="default: the search's (ImageNet 128)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--loader-workers", type=int, dest="num_workers",
                   help="DataLoader workers reading batches (default: the run's; ImageNet: 8), for data streamed "
                        "from disk")
    p.add_argument("--workers", type=int, dest="old_workers", help=argparse.SUPPRESS)  # its old name
    p.add_argument("--seed", type=int, help="default: the run's")
    p.add_argument("--data-root", dest="data_root", metavar="DIR",
                   help="the image dataset's folder (default: the run's --dataset-dir)")
    p.add_argument("--dataset", help="train on this dataset (default: the run's; a run with your own fitness has "
                                     "none)")
    p.add_argument("--download", action="store_true", help="fetch the dataset when absent (CIFAR: checked archive)")
    p.add_argument("--onnx", action="store_true",
                   help="also write final.onnx (needs the onnx extra: pip install 'gptnas[onnx]')")
    p.add_argument("--progress", action="store_true", help="a progress bar over epochs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.old_workers is not None:
        logging.getLogger(__name__).warning("final --workers is now --loader-workers (DataLoader workers; "
                                            "the search's --workers are evaluation processes)")
        if args.num_workers is None:
            args.num_workers = args.old_workers
    try:
        result = final_train(args)
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"architecture: {result['arch']}")
    print(f"final training ({result['epochs']} epochs): validation accuracy {result['val']:.2f} %, "
          f"test accuracy {result['test']:.2f} %")
    print(f"written to {Path(args.run) / 'final.json'}, weights to {Path(args.run) / FINAL_WEIGHTS}"
          + (f", ONNX to {Path(args.run) / FINAL_ONNX}" if args.onnx else ""))
    return 0


def final_train(args) -> dict:
    from .config import from_recorded, validate
    from .evaluators.factory import build_evaluator
    from .spaces import get_space
    from .storage.atomic import atomic_write_text
    from .storage.rundir import RunDir

    rd = RunDir.open(args.run)
    cfg = validate(from_recorded(rd.read_config()))
    space = get_space(cfg.space, cfg.space_options, cfg.python_path)
    from .spaces.base import SearchSpace
    root = space
    while "parent" in vars(root):  # a sub-space builds with its parent's networks
        root = vars(root)["parent"]
    if type(root).to_module is SearchSpace.to_module:
        raise GptnasError(f"final trains the network with gptnas's own loop: space {cfg.space!r} has no "
                          "to_module(arch, input_shape, num_classes) -> torch.nn.Module to build it from; add one, or "
                          "train summary.json's best architecture with your own code")
    if args.dataset:
        cfg.dataset = args.dataset
    if cfg.dataset is None:
        raise GptnasError(f"final trains on an image dataset, and this run (fitness {cfg.fitness!r}, your own) "
                          "names none: pass --dataset NAME (fashion-mnist, mnist, digits, cifar10, cifar100, "
                          "imagenet), or train summary.json's best with your own code")
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
    if args.data_root:
        t.data_root = str(Path(args.data_root).expanduser().resolve())
    t.download = bool(args.download or t.download)
    ev = build_evaluator(cfg, space, lr_step=args.lr_step or step, progress=args.progress)
    with tempfile.TemporaryDirectory(dir=args.run, prefix=".final-") as tmp:
        ev.weights_dir = tmp  # the trained weights, kept as inheritance keeps them
        r = ev(arch)
        if r.failed:
            raise GptnasError(f"final training of {arch_key} failed: {r.failed}")
        from .evaluators.inherit import load_weights
        stored = load_weights(tmp, space.key(arch))
    import torch
    splits = ev.splits()
    payload = {"format": "gptnas-final-1", "arch": arch_key, "genome": [int(g) for g in arch], "space": cfg.space,
               "space_options": cfg.space_options, "input_shape": list(splits.input_shape),
               "num_classes": int(splits.num_classes), "dataset": cfg.dataset, "state_dict": stored["state"],
               "val": r.fitness, "test": r.test}
    with tempfile.NamedTemporaryFile(dir=args.run, prefix=".tmp-", suffix=".pt", delete=False) as f:
        tmp_pt = f.name
    try:
        torch.save(payload, tmp_pt)
        os.replace(tmp_pt, Path(args.run) / FINAL_WEIGHTS)
    finally:
        if os.path.exists(tmp_pt):
            os.unlink(tmp_pt)
    if args.onnx:
        write_onnx(export(args.run), tuple(splits.input_shape), Path(args.run) / FINAL_ONNX)
    result = {"arch": arch_key, "val": r.fitness, "test": r.test, "epochs": ev.epochs, "lr": ev.lr,
              "lr_step": ev.lr_step, "batch_size": ev.batch_size, "num_workers": ev.num_workers, "seed": ev.seed,
              **r.extras}
    atomic_write_text(Path(args.run) / "final.json", json.dumps(result, indent=1, default=str))
    return result


def export(run_or_arch, space=None, input_shape=None, num_classes=None):
    """The network as a ``torch.nn.Module`` (eval mode, on the CPU).

    ``run_or_arch``: a run directory whose ``final.pt`` (from ``python -m gptnas.final``) gives the trained
    weights; or an architecture (a key as in ``summary.json``, or a genome) of ``space``, built untrained with
    ``input_shape`` (C, H, W) and ``num_classes``."""
    import torch
    from .spaces import get_space
    path = Path(str(run_or_arch))
    if space is None and path.is_dir():
        weights = path / FINAL_WEIGHTS
        if not weights.is_file():
            raise GptnasError(f"{path} has no {FINAL_WEIGHTS}: run `python -m gptnas.final {path}` first (it trains "
                              "the best architecture and saves its weights)")
        d = torch.load(weights, map_location="cpu", weights_only=True)
        sp = get_space(d["space"], d.get("space_options"))
        model = sp.to_module(list(d["genome"]), tuple(d["input_shape"]), int(d["num_classes"]))
        model.load_state_dict(d["state_dict"])
        return model.eval()
    if space is None or input_shape is None or num_classes is None:
        raise GptnasError("export of an architecture needs space=, input_shape=(C, H, W) and num_classes= (or a run "
                          "directory with final.pt)")
    sp = get_space(space) if isinstance(space, str) else space
    genome = sp.parse(run_or_arch) if isinstance(run_or_arch, str) else list(run_or_arch)
    return sp.to_module(list(genome), tuple(input_shape), int(num_classes)).eval()


def write_onnx(model, input_shape: tuple, path: Path) -> None:
    """``model`` as ONNX at ``path`` (a batch of one ``input_shape`` image; the batch size stays free), checked by
    running it in onnxruntime against torch where onnxruntime is installed."""
    import torch
    try:
        import onnx
        del onnx  # torch's exporter needs it
    except ImportError:
        raise GptnasError("--onnx needs the onnx extra: pip install 'gptnas[onnx]'") from None
    x = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    tmp = path.with_name(".tmp-" + path.name)
    torch.onnx.export(model, (x,), str(tmp), input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
    if onnxruntime is not None:
        import numpy as np
        got = onnxruntime.InferenceSession(str(tmp)).run(None, {"image": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
            tmp.unlink()
            raise GptnasError(f"the ONNX export of this network computes other outputs than torch (max difference "
                              f"{float(np.abs(got - want).max()):.3g}): not written")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
