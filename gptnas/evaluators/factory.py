"""Build the evaluator a run's settings ask for (``--fitness``).

``cfg`` is any object with the run config's fields (``fitness``, ``dataset``, ``space``, ``data``, ``seed``,
``train``); this module does not import the config module, which sits above it.
"""
from __future__ import annotations

import logging
import os

from ..bench import BENCHMARK_DATASETS, DATA_ENV, resolve_benchmark_path
from ..datasets import DATASETS
from ..errors import DataError
from .base import Evaluator

log = logging.getLogger(__name__)


def build_evaluator(cfg, space, weights_dir=None, **train_options) -> Evaluator:
    """The evaluator for ``cfg.fitness`` on ``cfg.dataset``; ``weights_dir`` keeps trained weights for inheritance
    (used when ``cfg.train.inherit``); ``train_options`` are extra :class:`TrainingEvaluator` arguments (e.g. the
    final training's ``lr_step``)."""
    if cfg.fitness == "benchmark":
        return table_evaluator(cfg)
    t = cfg.train
    if cfg.fitness == "train":
        from .training import TrainingEvaluator
        return TrainingEvaluator(space, dataset=cfg.dataset, root=t.data_root, epochs=t.epochs,
                                 batch_size=t.batch_size, lr=t.lr, warmup_epochs=t.warmup_epochs,
                                 momentum=t.momentum, weight_decay=t.weight_decay, device=t.device, amp=t.amp,
                                 channels_last=t.channels_last, compile=t.compile, time_limit_s=t.time_limit_s,
                                 seed=cfg.seed, max_train=t.max_train, report_test=t.report_test,
                                 val_fraction=t.val_fraction, download=t.download, fraction=t.fraction,
                                 num_workers=t.num_workers,
                                 weights_dir=weights_dir if t.inherit else None, **train_options)
    if cfg.fitness.startswith("proxy:"):
        return with_benchmark_report(cfg, build_proxy_evaluator(cfg, space))
    raise DataError(f"fitness {cfg.fitness!r} is not available")


def with_benchmark_report(cfg, ev: Evaluator) -> Evaluator:
    """``ev``, reporting the benchmark's test accuracy of each architecture when the run's space and dataset have a
    table and benchmark data is given (``--data`` / ``$GPTNAS_DATA``); ``ev`` itself otherwise. Never fitness."""
    if cfg.dataset not in BENCHMARK_DATASETS.get(cfg.space, ()):
        return ev
    if not (cfg.data or os.environ.get(DATA_ENV)):
        log.info("pass --data PATH (the %s tables) to also report each architecture's benchmark test accuracy",
                 cfg.space)
        return ev
    from .reported import WithBenchmarkReport
    return WithBenchmarkReport(ev, table_evaluator(cfg))


def table_evaluator(cfg) -> Evaluator:
    """The benchmark table of ``cfg.space`` (from ``--data`` / ``$GPTNAS_DATA``) for ``cfg.dataset``."""
    if cfg.space == "tnb101":
        from .tabular import TNB101Evaluator
        return TNB101Evaluator(resolve_benchmark_path(cfg.data, cfg.space), cfg.dataset)
    from ..bench import open_table
    from .tabular import TabularEvaluator
    return TabularEvaluator(open_table(resolve_benchmark_path(cfg.data, cfg.space)), cfg.dataset)


def build_proxy_evaluator(cfg, space, batch_size: int = 64) -> Evaluator:
    """Zero-cost proxies on networks for ``cfg.dataset``'s input shape and classes; the data-dependent proxies
    score every architecture on the same seeded, normalised batch of training images."""
    import torch

    from ..datasets import load_dataset
    from .proxy import ProxyEvaluator

    t = cfg.train
    ev = ProxyEvaluator(space, cfg.fitness, input_shape=IMAGE_SHAPES[cfg.dataset][:3],
                        num_classes=IMAGE_SHAPES[cfg.dataset][3], seed=cfg.seed)
    if ev.needs_data:  # data-free proxies (synflow, params, flops) need only the shape: no files read
        splits = load_dataset(cfg.dataset, root=t.data_root, val_fraction=t.val_fraction, seed=cfg.seed,
                              download=t.download, fraction=t.fraction)
        x, y = splits.train
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.seed))[:batch_size]
        ev._batch_source = (splits.normalize(x[idx]), y[idx])
    return ev


#: (channels, height, width, classes) of each image dataset (from the one registry, gptnas.datasets.DATASETS).
IMAGE_SHAPES = {name: (*info.shape, info.classes) for name, info in DATASETS.items()}
