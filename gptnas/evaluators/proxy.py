"""Fitness from zero-cost proxies: score an untrained network instead of training it.

>>> ev = ProxyEvaluator(NB201Space(), ["synflow", "nwot"], batch=my_batch_fn)   # name "proxy:synflow+nwot"
>>> ev.evaluate([3, 3, 1, 3, 0, 3]).extras["synflow"]

Every architecture is scored on a network built with the same seed (so equal architectures get equal scores) and
on the same data batch (drawn once from the batch provider and kept). One proxy: the fitness is its score. Several:
the fitness is their ensemble — the mean robust z-score against a fixed, seeded reference sample of the space (see
:mod:`gptnas.evaluators.proxies.ensemble` for why not a raw sum or a rank within the population).

Runs on the CPU in float32 (synflow in float64).
"""
from __future__ import annotations

import logging
import math
import random
import time
from typing import Callable, Optional, Sequence, Union

import torch

from ..core.rng import seeded
from ..errors import ConfigError, GptnasError
from .cost import measure_cost
from .base import EvalResult, Evaluator
from .proxies import PROXIES, ReferenceScale, get_proxy, reference_ensemble, score_proxy
from .proxies.ensemble import ensemble_scale

log = logging.getLogger(__name__)

#: Other names the literature uses for the same proxies.
ALIASES = {"jacov": "jacob_cov", "naswot": "nwot", "grad-norm": "grad_norm", "jacob-cov": "jacob_cov"}

Batch = tuple[torch.Tensor, torch.Tensor]
BatchSource = Union[None, Batch, Callable[[], Batch]]


def parse_proxy_spec(spec: str) -> list[str]:
    """``"proxy:synflow+nwot"`` (the ``proxy:`` prefix is optional) → ``["synflow", "nwot"]``.

    Raises :class:`ConfigError` naming the valid proxies for an unknown or empty name.
    """
    text = spec.strip()
    if text.startswith("proxy:"):
        text = text[len("proxy:"):]
    names = [ALIASES.get(n.strip().lower(), n.strip().lower()) for n in text.split("+")]
    if not text or any(not n for n in names):
        raise ConfigError(f"empty proxy name in {spec!r}: write e.g. 'proxy:synflow+nwot'; "
                          f"proxies are {', '.join(PROXIES)}")
    for n in names:
        get_proxy(n)  # raises ConfigError listing the valid names
    return list(dict.fromkeys(names))  # drop repeats, keep order


def random_batch(batch_size: int, input_shape: Sequence[int], num_classes: int, seed: int) -> Batch:
    """A seeded stand-in batch: standard-normal images ``(B, *input_shape)`` and uniform labels ``(B,)``.

    Only for smoke tests: proxies computed on noise do not predict accuracy; give real images for that.
    """
    g = torch.Generator().manual_seed(seed)
    return (torch.randn((batch_size, *input_shape), generator=g),
            torch.randint(0, num_classes, (batch_size,), generator=g))


class ProxyEvaluator(Evaluator):
    """Zero-cost proxy fitness.

    Args:
        space: a search space with ``to_module(arch, input_shape, num_classes)`` and ``sample(rng)``.
        proxies: proxy names (see :data:`gptnas.evaluators.proxies.PROXIES`) or a spec ``"proxy:synflow+nwot"``.
        input_shape: (C, H, W) of one image, e.g. (3, 32, 32) for CIFAR, (3, 16, 16) for ImageNet16-120.
        num_classes: logits of the network.
        batch: data for data-dependent proxies: a callable returning ``(x, y)`` (x float ``(B, *input_shape)``,
            y int64 ``(B,)``), or such a tuple, or None for a seeded random batch (smoke tests only). It is
            drawn once and kept, so that every architecture sees the same images.
        seed: seeds every network's initialisation (the same for every architecture), the random batch and the
            ensemble's reference sample.
        batch_size: size of the random batch when ``batch`` is None.
        reference_size: architectures in the ensemble's reference sample (only used with several proxies).

    ``evaluate(arch)`` returns fitness = the proxy score (or the ensemble) and extras = every proxy score, its
    ``<proxy>_cost_s`` (seconds, network construction included), ``params_mb``, ``flops_m`` and ``cost_s``.
    Instances pickle with their batch drawn (call :meth:`prepare` first to also ship the reference).
    """

    def __init__(self, space, proxies: Union[str, Sequence[str]], input_shape: Sequence[int] = (3, 32, 32),
                 num_classes: int = 10, batch: BatchSource = None, seed: int = 0, batch_size: int = 64,
                 reference_size: int = 32):
        names = parse_proxy_spec(proxies if isinstance(proxies, str) else "+".join(proxies))
        self.space = space
        self.proxies = names
        self.name = "proxy:" + "+".join(names)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.reference_size = int(reference_size)
        if len(self.input_shape) != 3:
            raise ConfigError(f"input_shape must be (C, H, W), got {tuple(input_shape)!r}")
        self._batch_source = batch
        self._batch: Optional[Batch] = None
        self._reference: Optional[dict[str, ReferenceScale]] = None

    # Data and networks ---------------------------------------------------------------------------------------
    @property
    def needs_data(self) -> bool:
        return any(get_proxy(p).needs_data for p in self.proxies)

    def batch(self) -> Batch:
        """The data batch every architecture is scored on (drawn on first use)."""
        if self._batch is None:
            src = self._batch_source
            if src is None:
                x, y = random_batch(self.batch_size, self.input_shape, self.num_classes, self.seed)
            else:
                x, y = src() if callable(src) else src
            x, y = torch.as_tensor(x).float().contiguous(), torch.as_tensor(y).long().reshape(-1)
            if tuple(x.shape[1:]) != self.input_shape or x.shape[0] != y.shape[0] or x.shape[0] < 2:
                raise ConfigError(f"proxy batch must be x (B, {', '.join(map(str, self.input_shape))}) and y (B,) "
                                  f"with B >= 2; got x {tuple(x.shape)}, y {tuple(y.shape)}")
            if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
                raise ConfigError(f"proxy batch labels must lie in 0..{self.num_classes - 1}")
            self._batch = (x, y)
        return self._batch

    def build(self, arch: Sequence[int]) -> torch.nn.Module:
        """The untrained network of ``arch``, initialised from ``seed`` (global RNG state left untouched)."""
        with seeded(self.seed):
            return self.space.to_module(list(arch), self.input_shape, self.num_classes)

    # Scores --------------------------------------------------------------------------------------------------
    def scores(self, arch: Sequence[int]) -> tuple[dict[str, float], dict[str, float]]:
        """``({proxy: score}, {proxy: seconds})`` for every requested proxy."""
        x, y = self.batch() if self.needs_data else (None, None)
        scores, costs = {}, {}
        for p in self.proxies:
            t0 = time.perf_counter()
            scores[p] = score_proxy(p, self.build(arch), x, y, self.input_shape)
            costs[p] = time.perf_counter() - t0
        return scores, costs

    def reference(self) -> dict[str, ReferenceScale]:
        """Per-proxy median and spread over ``reference_size`` seeded random architectures (computed once)."""
        if self._reference is None:
            rng = random.Random(self.seed)
            archs = [self.space.sample(rng) for _ in range(self.reference_size)]
            log.info("scoring %d reference architectures for the %s ensemble", len(archs), self.name)
            values = {p: [] for p in self.proxies}
            for a in archs:
                s, _ = self.scores(a)
                for p in self.proxies:
                    values[p].append(ensemble_scale(s[p], get_proxy(p).log_in_ensemble))
            self._reference = {p: ReferenceScale.fit(v) for p, v in values.items()}
        return self._reference

    def prepare(self) -> "ProxyEvaluator":
        """Draw the batch and score the reference now (before shipping copies to workers)."""
        if self.needs_data:
            self.batch()
        if len(self.proxies) > 1:
            self.reference()
        return self

    def evaluate(self, arch: Sequence[int]) -> EvalResult:
        t0 = time.perf_counter()
        try:
            scores, costs = self.scores(arch)
            if "params" in scores and "flops" in scores:
                params_mb, flops_m = scores["params"], scores["flops"]
            else:
                cost = measure_cost(self.build(arch), self.input_shape)
                params_mb, flops_m = cost.params_mb, cost.flops_m
            if len(self.proxies) == 1:
                fitness = scores[self.proxies[0]]
            else:
                fitness = reference_ensemble(scores, self.reference(),
                                             {p: get_proxy(p).log_in_ensemble for p in self.proxies})
        except GptnasError:
            raise  # bad configuration or data: the user must fix it, not every candidate fail
        except Exception as e:  # noqa: BLE001 - any numerical/torch failure of one candidate is recorded, not fatal
            log.warning("proxy evaluation of %s failed: %s", list(arch), e)
            return EvalResult.failure(f"{type(e).__name__}: {e}", cost_s=time.perf_counter() - t0)
        extras: dict = dict(scores)
        extras.update({f"{p}_cost_s": c for p, c in costs.items()})
        extras.update(params_mb=params_mb, flops_m=flops_m, cost_s=time.perf_counter() - t0)
        if len(self.proxies) > 1:
            extras["ensemble"] = fitness
        if not math.isfinite(fitness):
            return EvalResult.failure(f"non-finite proxy score {fitness}", **extras)
        return EvalResult(float(fitness), extras)

    # Pickling: ship the drawn batch, not the provider (which may be a lambda) --------------------------------
    def __getstate__(self):
        if self.needs_data and self._batch is None:
            self.batch()
        state = dict(self.__dict__)
        state["_batch_source"] = None
        return state


__all__ = ["ALIASES", "ProxyEvaluator", "parse_proxy_spec", "random_batch"]
