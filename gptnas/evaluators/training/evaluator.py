"""Fitness by training (the evaluator; :mod:`.placement` puts the data on the device, :mod:`.loop` trains): build the candidate's network, train it briefly, score it on held-out validation images.

>>> ev = TrainingEvaluator(NB201Space(), dataset="fashion-mnist")     # name "train"
>>> r = ev.evaluate([3, 3, 1, 3, 0, 3]); r.fitness, r.extras["test"]   # validation and test accuracy in %

Defaults follow the GPT-NAS paper's search protocol: SGD with momentum 0.9, the learning rate warmed up linearly
to 0.01 (over ``warmup_epochs``, then held), batch 512, 6 epochs. Fitness is validation accuracy (a seeded hold-out
of the training set); test accuracy is only reported in ``extras``.

Data path: the whole split lives on the device as uint8 (CIFAR-10's training set is 150 MB), copied once per
process from pinned memory; each step gathers a batch on the device, augments it there (CIFAR: random crop with
padding 4 and horizontal flip, as one batched gather), normalises it and, on CUDA, converts it to channels-last.
No host-device copy per step. With ``num_workers > 0`` batches are gathered by DataLoader workers from host memory
instead (pinned, copied with ``non_blocking``), for data that should not sit on the device. Memory-mapped images
(decoded ImageNet, :class:`~gptnas.datasets.mapped.MappedImages`) sit on the device only when they take at most
half of its free memory (host memory for the CPU); larger ones (all of ImageNet at 224 px, 193 GB) are streamed
from the file a batch at a time, in ``num_workers`` DataLoader workers (0: in the training process).

One code path on CPU and CUDA; on CUDA it adds bf16 autocast, channels-last and cuDNN autotuning. On CPU the result
is deterministic for a given ``seed``: each architecture's seed is derived from ``seed`` and a hash of the genome,
so the same architecture gets the same fitness in any process and in any order.
"""
from __future__ import annotations

import gc
import hashlib
import logging
import os
import re
import time
from typing import Optional, Sequence, Union

import torch

from ...core.devices import local_device
from ...core.rng import seeded
from ...datasets import Splits, canonical_name, load_dataset
from ...errors import ConfigError, DataError
from ..base import EvalResult, Evaluator
from ..cost import count_params
from . import placement
from .loop import CandidateFailed, TrainingLoop
from .placement import DeviceData

log = logging.getLogger(__name__)

# Per-process caches: the evaluator pickles small and loads its data on first use in each worker.
_SPLITS: dict[tuple, Splits] = {}
_ON_DEVICE: dict[tuple, DeviceData] = {}


def resolve_device(device: Union[str, torch.device] = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` when available, else ``cpu``; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` as given — except in
    a worker pinned to one GPU, where any ``cuda[:N]`` is that GPU (see :mod:`gptnas.core.devices`).

    Raises :class:`ConfigError` for another string or a CUDA device this machine does not have.
    """
    text = local_device(str(device))
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", text)
    if not m:
        raise ConfigError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available here: use device='auto' or 'cpu'")
    if m.group(1) is not None and int(m.group(1)) >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} "
                          f"CUDA device(s), cuda:0..cuda:{torch.cuda.device_count() - 1}")
    return torch.device(text)


def arch_seed(seed: int, arch: Sequence[int]) -> int:
    """A 63-bit seed from ``seed`` and the genome, stable across processes (hashlib, not ``hash()``)."""
    text = f"{int(seed)}|{','.join(str(int(v)) for v in arch)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


class TrainingEvaluator(TrainingLoop, Evaluator):
    """Validation accuracy (%) after a short training run.

    Args:
        space: search space with ``to_module(arch, input_shape, num_classes)``.
        dataset: a name of :data:`gptnas.datasets.DATASETS` (loaded once per process), or a ready
            :class:`~gptnas.datasets.Splits` (then pickled along with the evaluator).
        root: dataset folder (see :func:`gptnas.datasets.load_dataset`); download: CIFAR only.
        epochs: training epochs over the training split (or its first ``max_train`` images).
        batch_size: images per SGD step; lr: peak learning rate, reached linearly over ``warmup_epochs`` (0: none).
        momentum, weight_decay: SGD settings.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, resolved when evaluating (in the worker).
        amp: bf16 autocast on CUDA (ignored on CPU); channels_last: channels-last tensors on CUDA;
        compile: ``torch.compile`` each network (pays off for long runs only).
        time_limit_s: a candidate whose evaluation runs longer fails (None: no limit).
        seed: seeds the validation split and, with the genome's hash, each network's init and batch order.
        max_train: train on only the first ``max_train`` images of the (shuffled) training split.
        report_test: also measure test accuracy (``extras["test"]``); never used as fitness.
        num_workers: 0 keeps the data on the device (unless memory-mapped images do not fit there, see above);
            > 0 gathers batches in DataLoader workers instead.
        val_fraction, resize, channels: how the dataset is split and shaped (see ``load_dataset``).
        fraction: share of the training images used, ImageNet only (the GPT-NAS search: 0.1; see ``load_dataset``).
        lr_step, lr_gamma: multiply the learning rate by ``lr_gamma`` every ``lr_step`` epochs (final training:
            GPT-NAS divides by 10 every 100 epochs on CIFAR); ``None``: constant after the warm-up (search).
        weights_dir: where trained weights are kept for inheritance (GPT-NAS's acceleration, see
            :mod:`gptnas.evaluators.inherit`): a candidate whose ``parent`` attribute names an architecture stored
            there starts from its weights and trains only what is new. ``None``: every candidate trains in full.
        progress: show a tqdm bar over epochs.

    ``evaluate(arch)`` → ``EvalResult(fitness=val %, extras={"test", "train_time_s", "params_mb", "epochs",
    "train_loss", "device", "cost_s"})``; a candidate that raises, produces NaN/inf, runs out of memory or over time
    gets ``EvalResult.failure(reason)``. Missing data raises :class:`~gptnas.errors.DataError`.
    """

    name = "train"

    def __init__(self, space, dataset: Union[str, Splits] = "fashion-mnist", root: Optional[str] = None,
                 epochs: int = 6, batch_size: int = 512, lr: float = 0.01, warmup_epochs: float = 1.0,
                 momentum: float = 0.9, weight_decay: float = 5e-4, device: str = "auto", amp: bool = True,
                 channels_last: bool = True, compile: bool = False, time_limit_s: Optional[float] = None,
                 seed: int = 0, max_train: Optional[int] = None, report_test: bool = True, num_workers: int = 0,
                 val_fraction: float = 0.1, resize=None, channels: Optional[int] = None, download: bool = False,
                 progress: bool = False, fraction: float = 1.0, weights_dir: Optional[str] = None,
                 lr_step: Optional[int] = None, lr_gamma: float = 0.1):
        self.space = space
        self._splits = dataset if isinstance(dataset, Splits) else None
        self.dataset = dataset.name if isinstance(dataset, Splits) else canonical_name(dataset)
        self.root = None if root is None else os.fspath(root)
        self.epochs, self.batch_size, self.num_workers = int(epochs), int(batch_size), int(num_workers)
        self.lr, self.warmup_epochs = float(lr), float(warmup_epochs)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.device = str(device)
        self.amp, self.channels_last, self.compile = bool(amp), bool(channels_last), bool(compile)
        self.time_limit_s = None if time_limit_s is None else float(time_limit_s)
        self.seed = int(seed)
        self.max_train = None if max_train is None else int(max_train)
        self.report_test, self.progress, self.download = bool(report_test), bool(progress), bool(download)
        self.val_fraction, self.fraction = float(val_fraction), float(fraction)
        self.weights_dir = None if weights_dir is None else os.fspath(weights_dir)
        self.lr_step, self.lr_gamma = (None if not lr_step else int(lr_step)), float(lr_gamma)
        self.resize = None if resize is None else (tuple(int(v) for v in resize) if isinstance(resize, (tuple, list))
                                                   else int(resize))
        self.channels = None if channels is None else int(channels)
        self._check()
        resolve_device(self.device)  # fail now, not in every worker, for a device this machine lacks
        self._device_data: Optional[tuple[tuple, DeviceData]] = None  # ((device, num_workers), placed data)

    def _check(self) -> None:
        bad = [(self.epochs < 1, f"epochs must be >= 1, got {self.epochs}"),
               (self.batch_size < 2, f"batch_size must be >= 2 (batch norm needs 2 images), got {self.batch_size}"),
               (not self.lr > 0, f"lr must be > 0, got {self.lr}"),
               (self.warmup_epochs < 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}"),
               (self.time_limit_s is not None and not self.time_limit_s > 0,
                f"time_limit_s must be > 0 or None, got {self.time_limit_s}"),
               (self.max_train is not None and self.max_train < 2, f"max_train must be >= 2, got {self.max_train}"),
               (self.num_workers < 0, f"num_workers must be >= 0, got {self.num_workers}")]
        for cond, msg in bad:
            if cond:
                raise ConfigError(msg)

    # Data ----------------------------------------------------------------------------------------------------
    def _key(self) -> tuple:
        return (self.dataset, self.root, self.val_fraction, self.seed, self.resize, self.channels, self.fraction)

    def splits(self) -> Splits:
        """The dataset's splits, loaded on first use in this process (raises DataError if missing)."""
        if self._splits is not None:
            return self._splits
        key = self._key()
        if key not in _SPLITS:
            _SPLITS[key] = load_dataset(self.dataset, self.root, val_fraction=self.val_fraction, seed=self.seed,
                                        download=self.download, resize=self.resize, channels=self.channels,
                                        fraction=self.fraction)
        return _SPLITS[key]

    def data(self, device: Optional[torch.device] = None) -> DeviceData:
        """The splits placed on ``device`` (default: the evaluator's), once per process."""
        device = device or resolve_device(self.device)
        where = (str(device), self.num_workers, self.report_test)  # the test split is placed only when reported
        if self._splits is not None:  # a Splits given directly: cache on the instance (not pickled)
            if self._device_data is None or self._device_data[0] != where:
                self._device_data = (where, self._place(self._splits, device))
            return self._device_data[1]
        key = self._key() + where
        if key not in _ON_DEVICE:
            _ON_DEVICE[key] = self._place(self.splits(), device)
        return _ON_DEVICE[key]

    def _place(self, splits: Splits, device: torch.device) -> DeviceData:
        """Put ``splits`` on ``device``, or leave them for loader workers. Decided once per placement: memory-mapped
        images that would take over half the free memory are streamed (asking again later, with the data already
        placed, would see less free memory and place them a second time)."""
        resident = self.num_workers == 0 and (not splits.mapped or placement.fits(splits.nbytes(), device))
        if splits.mapped and not resident:
            log.info("%s: %.1f GB of memory-mapped images streamed from disk (%d loader workers)",
                     splits.name, splits.nbytes() / 1e9, self.num_workers)
        return DeviceData.place(splits, device, resident, test=self.report_test)

    def prepare(self) -> "TrainingEvaluator":
        """Load the data now (e.g. before timing, or to fail early with a DataError)."""
        self.data()
        return self

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.splits().input_shape

    @property
    def num_classes(self) -> int:
        return self.splits().num_classes

    def build(self, arch: Sequence[int], seed: Optional[int] = None) -> torch.nn.Module:
        """The untrained network of ``arch`` on the CPU, initialised from ``seed`` (default: the arch's seed)."""
        s = self.splits()
        with seeded(arch_seed(self.seed, arch) if seed is None else seed):  # the caller's generators are restored
            return self.space.to_module(list(arch), s.input_shape, s.num_classes)

    # Evaluation ----------------------------------------------------------------------------------------------
    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        parent = getattr(arch, "parent", None)  # a search Candidate says which individual it was bred from
        arch = [int(v) for v in arch]
        device = resolve_device(self.device)
        data = self.data(device)  # DataError propagates: the user must fix the data, not every candidate fail
        t0 = time.perf_counter()
        info: dict = {"device": str(device), "epochs": 0}
        try:
            # The global generators too (dropout draws from them): the same fitness in any evaluation order.
            with seeded(arch_seed(self.seed, arch), cuda=device.type == "cuda"):
                result = self._run(arch, data, info, t0, parent)
        except (ConfigError, DataError):
            raise
        except CandidateFailed as e:
            result = self._failed(arch, str(e), info, t0)
        except torch.cuda.OutOfMemoryError as e:
            result = self._failed(arch, f"CUDA out of memory at batch {self.batch_size}: {e}", info, t0)
        except Exception as e:  # noqa: BLE001 - one candidate's error is recorded, the search goes on
            result = self._failed(arch, f"{type(e).__name__}: {e}", info, t0)
        # The model and optimiser died with _run's frame (or with the traceback, just dropped); a failure may have
        # left reference cycles, so collect them before handing the GPU memory back to other workers.
        if result.failed:
            gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return result

    def _failed(self, arch, reason: str, info: dict, t0: float) -> EvalResult:
        log.warning("training %s failed: %s", self._describe(arch), reason.splitlines()[0] if reason else reason)
        return EvalResult.failure(reason, **info, cost_s=time.perf_counter() - t0)

    def _describe(self, arch) -> str:
        try:
            return self.space.key(arch)
        except Exception:  # noqa: BLE001 - only for a log line
            return str(list(arch))

    def _run(self, arch: list[int], data: DeviceData, info: dict, t0: float,
             parent: Optional[str] = None) -> EvalResult:
        device, seed = data.device, arch_seed(self.seed, arch)
        model = self.build(arch, seed)
        info["params_mb"] = count_params(model) / 1e6
        if self.weights_dir and parent is not None and hasattr(self.space, "inheritable_blocks"):
            from ..inherit import inherit, load_weights
            stored = load_weights(self.weights_dir, parent)
            if stored is not None:
                info.update(inherit(model, self.space, arch, stored, data.splits.input_shape))
        model = model.to(device, memory_format=self._memory_format(device))
        net = torch.compile(model) if self.compile else model
        t_train = time.perf_counter()
        info["train_loss"] = self.train_model(net, data, seed, t0, info)
        info["train_time_s"] = time.perf_counter() - t_train
        val = self.accuracy(net, data, data.val, t0)
        if self.report_test:
            info["test"] = self.accuracy(net, data, data.test, t0)
        if self.weights_dir:
            from ..inherit import save_weights
            save_weights(self.weights_dir, self.space.key(arch), arch, model)
        info["cost_s"] = time.perf_counter() - t0
        log.debug("trained %s: val %.2f%%%s in %.1f s on %s", self._describe(arch), val,
                 f", test {info['test']:.2f}%" if "test" in info else "", info["cost_s"], device)
        return EvalResult(val, dict(info))

    # Pickling: settings only (data is reloaded per process), unless a Splits was given directly --------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_device_data"] = None
        return state

    def __repr__(self) -> str:
        return (f"TrainingEvaluator(dataset={self.dataset!r}, epochs={self.epochs}, batch_size={self.batch_size}, "
                f"lr={self.lr}, device={self.device!r}, seed={self.seed})")

