"""Training throughput: the training evaluator's loop vs a minimal PyTorch loop, same NB201 network, same device.

Both train the same network (same cell, same initialisation) on the same CIFAR-shaped data (random uint8 images
32x32x3, 10 classes) held on the device, with SGD (momentum 0.9, weight decay 5e-4), forward + backward, in the same
process. The evaluator's loop (``TrainingEvaluator.train_model``, what ``evaluate`` runs) also gathers each batch
from uint8, augments it (random crop + flip, as for CIFAR; ``--no-augment`` to leave that out), normalises it, warms
the learning rate up and watches the loss for NaN; the minimal loop indexes a pre-normalised float tensor. On CUDA
both use bf16 autocast and channels-last (``--no-amp`` for fp32), so only the loop machinery differs. Throughput is
training images per second, timed from a freshly built network on the device to a device synchronisation.

Runs alternate (minimal, evaluator, evaluator, minimal, ...) after one untimed warm-up of each; the script reports
the median and the best of ``--repeats`` runs, and the ratio evaluator / minimal of the medians (the evaluator must
not be more than 5 % slower). On a CPU it also reports process CPU time, which other programs sharing the machine
disturb far less than wall time (give ``--threads 1`` so that CPU time is compute time); the verdict then uses it.

    python experiments/training_throughput.py --device cpu --batch-size 256 --steps 3 --repeats 5
    python experiments/training_throughput.py --device cuda --batch-size 256 --steps 50 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gptnas.datasets import make_splits  # noqa: E402
from gptnas.evaluators.training import TrainingEvaluator, resolve_device  # noqa: E402
from gptnas.spaces import NB201Space  # noqa: E402

#: The best NAS-Bench-201 CIFAR-10 cell: five 3x3 convolutions and a skip, the costly end of the space.
DEFAULT_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def minimal_loop(ev: TrainingEvaluator, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 seed: int) -> None:
    """One epoch of plain SGD over (x float normalised (N, 3, 32, 32), y (N,)) already on the device."""
    device = x.device
    cuda = device.type == "cuda"
    opt = torch.optim.SGD(model.parameters(), lr=ev.lr, momentum=ev.momentum, weight_decay=ev.weight_decay)
    model.train()
    gen = torch.Generator(device=device).manual_seed(seed)
    perm = torch.randperm(len(y), device=device, generator=gen)
    for i in range(0, len(y), ev.batch_size):
        idx = perm[i:i + ev.batch_size]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda and ev.amp):
            loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def timed(fn, device: torch.device) -> tuple[float, float]:
    """``(wall seconds, process CPU seconds)`` of ``fn()``, up to a device synchronisation."""
    _sync(device)
    t, c = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - t, time.process_time() - c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--arch", default=DEFAULT_ARCH, help="NB201 cell (official string)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="SGD steps per timed run (one epoch of steps*batch images)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast on CUDA")
    ap.add_argument("--threads", type=int, default=None, help="CPU intra-op threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    space = NB201Space()
    arch = space.parse(args.arch)
    n, n_val = args.steps * args.batch_size, 64
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n + n_val, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, n + n_val)
    splits = make_splits("cifar-shaped", x, y, x[:n_val], y[:n_val], 10, val_fraction=n_val / (n + n_val),
                         augment=args.augment)
    ev = TrainingEvaluator(space, splits, epochs=1, batch_size=args.batch_size, lr=0.01, warmup_epochs=1,
                           device=str(device), amp=args.amp, report_test=False)
    data = ev.data(device)
    cuda = device.type == "cuda"
    fmt = torch.channels_last if cuda and ev.channels_last else torch.contiguous_format
    x_plain = splits.normalize(data.train[0]).contiguous(memory_format=fmt)  # pre-normalised, on the device
    y_plain = data.train[1]

    def run(which: str, rep: int) -> tuple[float, float]:
        model = ev.build(arch).to(device, memory_format=fmt)  # same cell, same initialisation
        if which == "minimal":
            return timed(lambda: minimal_loop(ev, model, x_plain, y_plain, seed=rep), device)
        return timed(lambda: ev.train_model(model, data, seed=rep), device)

    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}); torch {torch.__version__}; arch {space.key(arch)}")
    print(f"batch {args.batch_size}, {args.steps} steps per run ({n} images), {args.repeats} repeats, "
          f"augment={args.augment}, amp={args.amp and cuda}, channels_last={cuda}")
    run("minimal", -1), run("evaluator", -1)  # warm-up: allocator, kernel selection
    times: dict[str, list[tuple[float, float]]] = {"minimal": [], "evaluator": []}
    for rep in range(args.repeats):
        for which in (("minimal", "evaluator") if rep % 2 == 0 else ("evaluator", "minimal")):
            wall, cpu = run(which, rep)
            times[which].append((wall, cpu))
            print(f"  run {rep + 1} {which:9s}: {n / wall:8.1f} images/s wall ({wall:.2f} s), "
                  f"{n / cpu:8.1f} images/s CPU ({cpu:.2f} s)", flush=True)
    print("\n| loop | median images/s (wall) | best (wall) | median images/s (CPU time) | best (CPU time) |\n"
          "|---|---:|---:|---:|---:|")
    ips = {}
    for which, ts in times.items():
        walls, cpus = [t[0] for t in ts], [t[1] for t in ts]
        ips[which] = [n / statistics.median(walls), n / min(walls), n / statistics.median(cpus), n / min(cpus)]
        print(f"| {which} | " + " | ".join(f"{v:.1f}" for v in ips[which]) + " |")
    ratios = [e / m for e, m in zip(ips["evaluator"], ips["minimal"])]
    print(f"\nevaluator / minimal throughput: {ratios[0]:.3f} (median wall), {ratios[1]:.3f} (best wall), "
          f"{ratios[2]:.3f} (median CPU), {ratios[3]:.3f} (best CPU)")
    verdict = ratios[2] if device.type == "cpu" else ratios[0]
    ok = verdict >= 0.95
    print(f"verdict on the median {'CPU' if device.type == 'cpu' else 'wall'} time: ratio {verdict:.3f}, "
          + ("within 5 %" if ok else "evaluator more than 5 % slower"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
