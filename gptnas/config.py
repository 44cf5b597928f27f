"""One dataclass tree for a run: defaults here, YAML in (``--config``), command-line overrides, resolved YAML out.

Every value is validated in :func:`validate`, which raises :class:`~gptnas.errors.ConfigError` with one line naming
the bad value and what would be accepted.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: Datasets of the tabular benchmarks, per space (fitness "benchmark").
BENCHMARK_DATASETS = {"nb201": ("cifar10", "cifar100", "imagenet16-120")}
#: Datasets for real networks (fitness "train" and the data-dependent proxies).
IMAGE_DATASETS = ("cifar10", "cifar100", "fashion-mnist", "mnist", "digits", "imagenet")
FITNESSES = ("benchmark", "train", "proxy:NAME[+NAME...]")
#: Population defaults per method (REA's P = 10 as in the NAS-Bench-201 reference).
DEFAULT_POPULATION = {"random": 10, "rea": 10, "ga": 20, "gptnas": 10}
#: Budget when none is given: tables and proxies are cheap, training is not.
DEFAULT_BUDGET = {"benchmark": 100, "proxy": 100, "train": 30}
#: Training defaults when none are given: the paper's protocol (6 epochs, batch 512), except on the built-in
#: digits set (1,437 training images, where batch 512 would make 3 steps an epoch) and ImageNet (the paper: 128).
DEFAULT_TRAIN = {"digits": {"epochs": 4, "batch_size": 64}, "imagenet": {"epochs": 6, "batch_size": 128},
                 None: {"epochs": 6, "batch_size": 512}}
#: Space options when none are given: narrower chains for the 8×8 digits.
DEFAULT_SPACE_OPTIONS = {("macro", "digits"): {"width": 16}}


@dataclass
class SearchConfig:
    method: str = "gptnas"
    budget: int | None = None         # unique architectures evaluated (None: DEFAULT_BUDGET per fitness)
    population: int | None = None     # None: the method's default (DEFAULT_POPULATION)
    sample: int = 5                   # REA tournament size S
    rea_batch: int = 1                # REA children per generation (1 = the sequential original)
    batch: int = 10                   # random search: architectures per generation
    tournament: int = 3               # GA tournament size
    cxpb: float = 0.9                 # GA crossover probability (GPT-NAS paper)
    mutpb: float = 0.3                # GA mutation probability (GPT-NAS paper)
    elitism: int = 1                  # GA: best individuals carried over unchanged
    generations: int | None = None    # optional cap on generations
    stall_limit: int = 200            # stop after this many generations with nothing new


@dataclass
class TrainConfig:
    """Fitness ``train``: the GPT-NAS paper's search protocol by default (SGD 0.9, warm-up to 0.01, batch 512, 6 ep.)."""

    epochs: int | None = None         # None: DEFAULT_TRAIN (6, or 4 on digits)
    batch_size: int | None = None     # None: DEFAULT_TRAIN (512, or 64 on digits)
    lr: float = 0.01
    warmup_epochs: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    amp: bool = True                  # bf16 autocast on CUDA
    channels_last: bool = True
    compile: bool = False             # torch.compile each candidate
    time_limit_s: float | None = None  # per evaluation; over it the candidate fails
    max_train: int | None = None      # use only this many training images (quick runs)
    val_fraction: float = 0.1         # held out of the training split for fitness
    fraction: float = 1.0             # share of the training images used, imagenet only (the paper's search: 0.1)
    data_root: str | None = None      # dataset directory (default per dataset)
    download: bool = False            # CIFAR: download when absent
    report_test: bool = True          # also measure test accuracy (reported only, never fitness)
    num_workers: int = 0              # > 0: DataLoader workers gather batches from host memory or, for images
                                      #   too large for the device (ImageNet at 224 px), from the decoded file
    inherit: bool = False             # GPT-NAS acceleration: start from the parent's trained weights, train only
                                      #   the new blocks (or only BatchNorm when none is new); macro space


@dataclass
class GPTSettings:
    """Method ``gptnas``: the GPT proposal model and how the search uses it."""

    enabled: bool = True              # false: "NAS without GPT" (same GA, no reconstruction)
    level: str = "auto"               # token (GPT over the space's tokens) | layer (GPT-NAS's layer GPT + block
                                      #   classifier; macro space only) | auto (layer for macro, else token)
    loop: str = "ga"                  # ga (the paper's GA) | rea (regularised evolution, GPT reconstruction as mutation)
    rate: float = 0.4                 # elimination rate r at the start; decays linearly to rate_end (paper)
    rate_end: float = 0.0
    temperature: float = 1.0          # sampling temperature over candidate fillings
    top_k: int | None = None          # keep only the k most likely fillings
    init: str = "auto"                # initial population: random | gpt (sampled) | auto (gpt when transferring)
    crossover: str = "gpt"            # gpt (junction repaired by the GPT) | classic
    transfer_from: str | None = None  # source task: a dataset of the same benchmark table, or a run directory
    transfer_top: int = 50            # how many of the source's best architectures fine-tune the GPT
    online: bool = True               # re-fine-tune on this search's elites during the search
    finetune_every: int = 1           # online fine-tune after every this many populations' worth of new evaluations
    elites: int = 20                  # architectures in each online fine-tune
    finetune_epochs: int | None = None  # None: the proposer's default
    pretrain: dict = field(default_factory=dict)  # overrides of gptnas.gpt.cache.PretrainSettings
    cache_dir: str | None = None      # pre-trained models (default $GPTNAS_CACHE or ~/.cache/gptnas)


@dataclass
class RunConfig:
    # The defaults are the embedded default run: GPT-NAS's block-chain space on the built-in digits, real training.
    # Unset (None) values resolve in validate(): with nothing set, the embedded default run — GPT-NAS's block-chain
    # space, real training on the built-in digits; with space nb201 (or fitness benchmark), the NAS-Bench-201
    # table on CIFAR-10.
    space: str | None = None          # macro, or nb201 when fitness is benchmark
    space_options: dict | None = None  # passed to the space (macro: min_blocks, max_blocks, width)
    dataset: str | None = None        # digits, or cifar10 when fitness is benchmark
    fitness: str | None = None        # train, or benchmark when space is nb201
    data: str | None = None           # benchmark release folder or imported .h5 (default: $GPTNAS_DATA)
    seed: int = 0
    out: str | None = None            # run directory (default: runs/<method>-<dataset>-s<seed>)
    workers: int = 1                  # evaluation processes (1 = serial)
    parallel: str | None = None       # serial | process | ray (default: process when workers > 1)
    ray_address: str | None = None    # existing Ray cluster (default $RAY_ADDRESS, else a local one)
    gpus_per_task: float = 0.0        # Ray: GPUs each evaluation asks for
    threads: int | None = None        # torch CPU threads in this process (None: torch's default)
    search: SearchConfig = field(default_factory=SearchConfig)
    gpt: GPTSettings = field(default_factory=GPTSettings)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Build a config from nested plain data (e.g. YAML), rejecting unknown keys by name."""
    return _fill(RunConfig, d or {}, "")


def _fill(cls, d: dict, where: str):
    if not isinstance(d, dict):
        raise ConfigError(f"config section {where or 'top level'} must be a mapping, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in d.items():
        if k not in fields:
            raise ConfigError(f"unknown config key {where + k!r}: valid keys are {', '.join(fields)}")
        sub = _SECTIONS.get(fields[k].name)
        kwargs[k] = _fill(sub, v, f"{where}{k}.") if sub and cls is RunConfig else v
    return cls(**kwargs)


_SECTIONS = {"search": SearchConfig, "gpt": GPTSettings, "train": TrainConfig}


def load_yaml(path: str | os.PathLike) -> dict:
    try:
        d = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    return d or {}


def set_dotted(d: dict, dotted: str, value) -> None:
    """``set_dotted(d, "search.budget", 50)`` sets ``d["search"]["budget"]``."""
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def validate(cfg: RunConfig) -> RunConfig:
    """Check every value; fill method-dependent defaults. Returns ``cfg`` (modified in place)."""
    from .search.methods import METHODS
    from .spaces import SPACES

    s = cfg.search
    if cfg.fitness is None:
        cfg.fitness = "benchmark" if cfg.space in BENCHMARK_DATASETS else "train"
    if cfg.space is None:
        cfg.space = "nb201" if cfg.fitness == "benchmark" else "macro"
    if cfg.dataset is None:
        cfg.dataset = BENCHMARK_DATASETS[cfg.space][0] if cfg.fitness == "benchmark" and \
            cfg.space in BENCHMARK_DATASETS else "digits"
    if cfg.space not in SPACES:
        raise ConfigError(f"unknown search space {cfg.space!r}: choose one of {', '.join(sorted(SPACES))}")
    if cfg.space_options is None:
        cfg.space_options = dict(DEFAULT_SPACE_OPTIONS.get((cfg.space, cfg.dataset), {}))
    from .spaces import get_space
    get_space(cfg.space, cfg.space_options)  # bad options fail here, with the space's own message
    if s.method not in METHODS:
        raise ConfigError(f"unknown method {s.method!r}: choose one of {', '.join(sorted(METHODS))}")
    if cfg.fitness == "benchmark":
        allowed = BENCHMARK_DATASETS.get(cfg.space, ())
        if not allowed:
            raise ConfigError(f"space {cfg.space} has no tabular benchmark: use --fitness train or proxy:NAME")
    elif cfg.fitness == "train" or cfg.fitness.startswith("proxy:"):
        allowed = IMAGE_DATASETS
        if cfg.fitness.startswith("proxy:"):
            from .evaluators.proxy import parse_proxy_spec
            parse_proxy_spec(cfg.fitness)
    else:
        raise ConfigError(f"unknown fitness {cfg.fitness!r}: choose one of {', '.join(FITNESSES)}")
    if cfg.dataset not in allowed:
        raise ConfigError(f"unknown dataset {cfg.dataset!r} for fitness {cfg.fitness}: "
                          f"choose one of {', '.join(allowed)}")
    t = cfg.train
    for k, v in DEFAULT_TRAIN.get(cfg.dataset, DEFAULT_TRAIN[None]).items():
        if getattr(t, k) is None:
            setattr(t, k, v)
    if s.budget is None:
        s.budget = DEFAULT_BUDGET[cfg.fitness.split(":")[0]]
    _positive_int(cfg, "train.epochs", t.epochs)
    _positive_int(cfg, "train.batch_size", t.batch_size)
    if t.max_train is not None:
        _positive_int(cfg, "train.max_train", t.max_train)
    _positive_int(cfg, "train.num_workers", t.num_workers, allow_zero=True)
    if not 0 < t.val_fraction < 1:
        raise ConfigError(f"train.val_fraction must be in (0, 1), got {t.val_fraction!r}")
    if not (isinstance(t.fraction, (int, float)) and 0 < t.fraction <= 1
            and (t.fraction == 1 or cfg.dataset == "imagenet")):
        raise ConfigError(f"train.fraction must be in (0, 1], and 1 for datasets other than imagenet; "
                          f"got {t.fraction!r} for {cfg.dataset}")
    from .search.parallel import BACKENDS
    if cfg.parallel is None:
        cfg.parallel = "process" if cfg.workers > 1 else "serial"
    if cfg.parallel not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {cfg.parallel!r}: choose one of {', '.join(BACKENDS)}")
    if s.population is None:
        s.population = DEFAULT_POPULATION.get(s.method, 20)
    _positive_int(cfg, "seed", cfg.seed, allow_zero=True)
    _positive_int(cfg, "workers", cfg.workers)
    if cfg.threads is not None:
        _positive_int(cfg, "threads", cfg.threads)
    for name in ("budget", "population", "sample", "rea_batch", "batch", "tournament", "stall_limit"):
        _positive_int(cfg, f"search.{name}", getattr(s, name))
    _positive_int(cfg, "search.elitism", s.elitism, allow_zero=True)
    if s.generations is not None:
        _positive_int(cfg, "search.generations", s.generations)
    for name in ("cxpb", "mutpb"):
        v = getattr(s, name)
        if not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ConfigError(f"search.{name} must be a probability in [0, 1], got {v!r}")
    g = cfg.gpt
    if not (0 <= g.rate <= 1 and 0 <= g.rate_end <= 1):
        raise ConfigError(f"gpt.rate and gpt.rate_end must be in [0, 1], got {g.rate}, {g.rate_end}")
    if g.loop not in ("ga", "rea"):
        raise ConfigError(f"gpt.loop must be ga or rea, got {g.loop!r}")
    if g.level not in ("auto", "token", "layer"):
        raise ConfigError(f"gpt.level must be auto, token or layer, got {g.level!r}")
    if g.level == "layer" and cfg.space != "macro":
        raise ConfigError(f"gpt.level=layer needs the block-chain space (--space macro), not {cfg.space}")
    if g.init not in ("auto", "random", "gpt"):
        raise ConfigError(f"gpt.init must be auto, random or gpt, got {g.init!r}")
    if g.crossover not in ("gpt", "classic"):
        raise ConfigError(f"gpt.crossover must be gpt or classic, got {g.crossover!r}")
    if not isinstance(g.temperature, (int, float)) or g.temperature <= 0:
        raise ConfigError(f"gpt.temperature must be > 0, got {g.temperature!r}")
    if g.top_k is not None:
        _positive_int(cfg, "gpt.top_k", g.top_k)
    for name in ("transfer_top", "finetune_every", "elites"):
        _positive_int(cfg, f"gpt.{name}", getattr(g, name))
    if g.transfer_from is not None and g.transfer_from == cfg.dataset:
        raise ConfigError(f"--transfer-from {g.transfer_from} is the target dataset itself: transfer must come "
                          "from another task (e.g. --transfer-from cifar10 while searching imagenet16-120)")
    if s.elitism >= s.population:
        raise ConfigError(f"search.elitism ({s.elitism}) must be smaller than the population ({s.population})")
    return cfg


def _positive_int(cfg, name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
        raise ConfigError(f"{name} must be an integer ≥ {0 if allow_zero else 1}, got {v!r}")
