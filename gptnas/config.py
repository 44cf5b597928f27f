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

DATASETS = {"nb201": ("cifar10", "cifar100", "imagenet16-120")}
FITNESSES = ("benchmark",)
#: Population defaults per method (REA's P = 10 as in the NAS-Bench-201 reference).
DEFAULT_POPULATION = {"random": 10, "rea": 10, "ga": 20, "gptnas": 20}


@dataclass
class SearchConfig:
    method: str = "rea"
    budget: int = 100                 # unique architectures evaluated
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
class RunConfig:
    space: str = "nb201"
    dataset: str = "cifar10"
    fitness: str = "benchmark"
    data: str | None = None           # benchmark release folder or imported .h5 (default: $GPTNAS_DATA)
    seed: int = 0
    out: str | None = None            # run directory (default: runs/<method>-<dataset>-s<seed>)
    workers: int = 1                  # evaluation processes (1 = serial)
    parallel: str | None = None       # serial | process | ray (default: process when workers > 1)
    ray_address: str | None = None    # existing Ray cluster (default $RAY_ADDRESS, else a local one)
    gpus_per_task: float = 0.0        # Ray: GPUs each evaluation asks for
    search: SearchConfig = field(default_factory=SearchConfig)

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


_SECTIONS = {"search": SearchConfig}


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
    if cfg.space not in SPACES:
        raise ConfigError(f"unknown search space {cfg.space!r}: choose one of {', '.join(sorted(SPACES))}")
    if s.method not in METHODS:
        raise ConfigError(f"unknown method {s.method!r}: choose one of {', '.join(sorted(METHODS))}")
    if cfg.fitness not in FITNESSES:
        raise ConfigError(f"unknown fitness {cfg.fitness!r}: choose one of {', '.join(FITNESSES)}")
    allowed = DATASETS.get(cfg.space, ())
    if cfg.dataset not in allowed:
        raise ConfigError(f"unknown dataset {cfg.dataset!r} for space {cfg.space}: choose one of {', '.join(allowed)}")
    from .search.parallel import BACKENDS
    if cfg.parallel is None:
        cfg.parallel = "process" if cfg.workers > 1 else "serial"
    if cfg.parallel not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {cfg.parallel!r}: choose one of {', '.join(BACKENDS)}")
    if s.population is None:
        s.population = DEFAULT_POPULATION.get(s.method, 20)
    _positive_int(cfg, "seed", cfg.seed, allow_zero=True)
    _positive_int(cfg, "workers", cfg.workers)
    for name in ("budget", "population", "sample", "rea_batch", "batch", "tournament", "stall_limit"):
        _positive_int(cfg, f"search.{name}", getattr(s, name))
    _positive_int(cfg, "search.elitism", s.elitism, allow_zero=True)
    if s.generations is not None:
        _positive_int(cfg, "search.generations", s.generations)
    for name in ("cxpb", "mutpb"):
        v = getattr(s, name)
        if not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ConfigError(f"search.{name} must be a probability in [0, 1], got {v!r}")
    if s.elitism >= s.population:
        raise ConfigError(f"search.elitism ({s.elitism}) must be smaller than the population ({s.population})")
    return cfg


def _positive_int(cfg, name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
        raise ConfigError(f"{name} must be an integer ≥ {0 if allow_zero else 1}, got {v!r}")
