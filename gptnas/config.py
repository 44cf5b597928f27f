"""One tree for a run: defaults here, YAML in (``--config``), command-line overrides, resolved YAML out.

The tree maps names to objects and nothing more: ``space`` names a search space (a registered one, or your own as
``module:callable``), ``fitness`` an evaluator, ``search.method`` a method. Each object validates its own options —
a method those in the section named after it (``rea: {population: 20}``, ``gptnas: {preset: paper}``), a wrapper
around it those in its own (``prescreened: {prescreen: 4}``), the training evaluator the ``train`` section — so
:func:`validate` raises :class:`~gptnas.errors.ConfigError` with one line naming the bad value and what would be
accepted, whoever owns it. This module names no method: it reads what it needs from the registered classes
(:mod:`gptnas.methods.registry`); old keys (``search.population``, the sections' old names) are translated by
:mod:`gptnas.compat`.

A value ``python:<name>`` records an object passed from Python (``gptnas.search(space, evaluate, ...)``): it
cannot be re-imported, so a resume must be handed the object again.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .bench import BENCHMARK_DATASETS
from .core.devices import BACKENDS
from .compat import MOVED, OldSearchOptions, translate
from .core.objects import PREFIX, import_object, is_import_name
from .datasets import DATASETS
from .errors import ConfigError, ConfigTypeError, ConfigValueError
from .lm.llm import LLMSettings
from .methods.registry import DEFAULT_METHOD, METHODS, WRAPPERS, get_method, get_wrapper, section_class

log = logging.getLogger(__name__)

#: Datasets for real networks (fitness "train" and the data-dependent proxies).
IMAGE_DATASETS = tuple(DATASETS)
FITNESSES = ("benchmark", "train", "proxy:NAME[+NAME...]", "module:callable")
#: The largest seed: archives store it as a 64-bit signed integer.
MAX_SEED = 2 ** 63 - 1
#: Budget when none is given: tables and proxies are cheap, training is not.
DEFAULT_BUDGET = {"benchmark": 100, "proxy": 100, "train": 30, "custom": 100}
#: Training defaults when none are given: the paper's protocol (6 epochs, batch 512), except on the built-in
#: digits set (1,437 training images, where batch 512 would make 3 steps an epoch) and ImageNet (the paper: 128).
DEFAULT_TRAIN = {"digits": {"epochs": 4, "batch_size": 64}, "imagenet": {"epochs": 6, "batch_size": 128},
                 None: {"epochs": 6, "batch_size": 512}}
#: Space options when none are given: narrower chains for the 8×8 digits.
DEFAULT_SPACE_OPTIONS = {("macro", "digits"): {"width": 16}}


class SearchConfig(OldSearchOptions):
    """The ``search`` section: what the engine needs (``method``, ``budget``, ``generations``, ``stall_limit``,
    ``max_failed_share``, ``budget_time``, ``on_time``, ``order``, ``lag``). A method's options go in its own
    section (given here as before methods had sections: :class:`gptnas.compat.OldSearchOptions`)."""

    ENGINE = ("method", "budget", "generations", "stall_limit", "max_failed_share", "budget_time", "on_time",
              "order", "lag", "eval_timeout", "max_tasks_per_worker")

    def __init__(self, method: str = DEFAULT_METHOD, budget: Optional[int] = None, generations: Optional[int] = None,
                 stall_limit: int = 200, max_failed_share: float = 0.5, budget_time=None, on_time: str = "finish",
                 order: str = "lag", lag: Optional[int] = None, eval_timeout=None,
                 max_tasks_per_worker: Optional[int] = None, **options):
        self.method, self.budget, self.generations = method, budget, generations
        self.stall_limit, self.max_failed_share = stall_limit, max_failed_share
        # With several workers (gptnas.search.engine): which results a proposal sees, and a time budget.
        self.budget_time, self.on_time, self.order, self.lag = budget_time, on_time, order, lag
        self.eval_timeout = eval_timeout  # seconds (or "2h") after which one evaluation is stopped and failed
        self.max_tasks_per_worker = max_tasks_per_worker  # a worker process is replaced after this many (leaks)
        object.__setattr__(self, "options", dict(options))

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.ENGINE}, **self.options}

    def __eq__(self, other) -> bool:
        return isinstance(other, SearchConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchConfig({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"


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
class RunConfig:
    # Unset (None) values resolve in validate(): with nothing set, the embedded default run — GPT-NAS's block-chain
    # space, real training on the built-in digits; with space nb201 (or fitness benchmark), the NAS-Bench-201
    # table on CIFAR-10.
    space: str | None = None          # macro, nb201, nb101, module:callable; nb201 when fitness is benchmark
    space_options: dict | None = None  # passed to the space (macro: min_blocks, max_blocks, width)
    dataset: str | None = None        # digits, or cifar10 when fitness is benchmark; none for your own fitness
    fitness: str | None = None        # train, benchmark, proxy:NAME, module:callable
    data: str | None = None           # benchmark release folder or imported .h5 (default: $GPTNAS_DATA)
    seed: int = 0
    out: str | None = None            # run directory (default: runs/<method>-<dataset>-s<seed>)
    workers: int = 1                  # evaluation processes (1 = serial)
    parallel: str | None = None       # serial | process | ray | simulated (default: process when workers > 1)
    ray_address: str | None = None    # existing Ray cluster (default $RAY_ADDRESS, else a local one)
    gpus_per_task: float | None = None  # Ray: GPUs each evaluation asks for (None: 1 for training on a GPU cluster)
    threads: int | None = None        # torch CPU threads in this process (None: 1, or torch's default when this
                                      #   process trains networks itself; evaluation workers get cores // workers)
    python_path: list = field(default_factory=list)  # folders that module:callable names were imported from
    cache_dir: str | None = None      # pre-trained models (GPTs, rankers); default $GPTNAS_CACHE or ~/.cache/gptnas
    search: SearchConfig = field(default_factory=SearchConfig)
    llm: LLMSettings = field(default_factory=LLMSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    #: The method's options and any wrapper's, each a mapping under its name (``{"rea": {"population": 20}}``);
    #: written at the top of the tree beside the others.
    sections: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "sections":
                d.update({k: dict(sec) for k, sec in v.items()})
                continue
            d[f.name] = v.to_dict() if isinstance(v, SearchConfig) else \
                dataclasses.asdict(v) if dataclasses.is_dataclass(v) else (list(v) if isinstance(v, list) else v)
        return d

    def __post_init__(self) -> None:
        if isinstance(self.search, SearchConfig):
            object.__setattr__(self.search, "_owner", self)  # so cfg.search.population still reads the option

    @property
    def method_options(self) -> dict:
        """The options of the run's method (its section; empty before :func:`validate`)."""
        name = self.search.method
        return self.sections.get(name[len(PREFIX):] if is_object(name) else name, {})

    @property
    def fitness_kind(self) -> str:
        """``benchmark``, ``train``, ``proxy`` or ``custom`` (a user's own evaluator)."""
        f = self.fitness or ""
        return "proxy" if f.startswith("proxy:") else f if f in ("benchmark", "train") else "custom"


#: Sections of the tree the framework reads itself (each method's and wrapper's are theirs: ``RunConfig.sections``).
_SECTIONS = {"search": SearchConfig, "llm": LLMSettings, "train": TrainConfig}
SECTIONS = tuple(_SECTIONS)
#: The top-level keys of the tree that are not sections.
FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "sections")
def is_section(name: str) -> bool:
    """Whether ``name`` is a section of the tree: the framework's, a method's or wrapper's, or an older name of one
    (``gpt``: :func:`gptnas.compat.is_old_section`)."""
    from .compat import is_old_section
    return name in _SECTIONS or section_class(name) is not None or is_old_section(name)


def from_dict(d: dict[str, Any], _recorded: bool = False) -> RunConfig:
    """Build a config from nested plain data (e.g. YAML), rejecting unknown keys by name."""
    if not isinstance(d, dict):
        raise ConfigError(f"a run configuration must be a mapping, got {type(d).__name__}")
    d = translate(d, FIELDS, SearchConfig.ENGINE)  # old keys to where they are now (gptnas.compat)
    kwargs, sections = {}, {}
    method = (d.get("search") or {}).get("method") if isinstance(d.get("search"), dict) else None
    own = method[len(PREFIX):] if is_object(method) else None
    for k, v in d.items():
        if k in FIELDS:
            kwargs[k] = make_section(k, v) if k in _SECTIONS else v
        elif section_class(k) is not None or k == own:
            if v is not None and not isinstance(v, dict):
                raise ConfigTypeError(f"config section {k} must be a mapping of its keys, got {type(v).__name__} "
                                      f"{v!r:.60}")
            sections[k] = dict(v or {})
        else:
            valid = sorted(set(FIELDS) | set(METHODS) | set(WRAPPERS))
            raise ConfigError(f"unknown config key {k!r}: valid keys are {', '.join(valid)}")
    if _recorded:  # keys added since the run was recorded (a run records every key it had): the values it had then
        for name in [n for n in sections if section_class(n) is not None]:
            for key, value in section_class(name).recorded_before.items():
                sections[name].setdefault(key, value)
    return RunConfig(**kwargs, sections=sections)


def from_recorded(d: dict[str, Any]) -> RunConfig:
    """:func:`from_dict` of a run directory's recorded config: options added since it was written take the value
    the run had then (each method's ``recorded_before``), so resuming an older run reproduces it."""
    return from_dict(d, _recorded=True)


#: Keys whose recorded value may differ on resume without changing what the run computes: where it runs and where
#: its files are (a moved folder, another machine, another LLM endpoint of the same model).
RESUMABLE_CHANGES = frozenset({
    "out", "workers", "parallel", "ray_address", "gpus_per_task", "threads", "python_path", "data", "cache_dir",
    "train.device", "train.num_workers", "train.data_root", *MOVED,  # (and old keys of these)
    "llm.url", "llm.timeout_s", "llm.retries", "llm.backoff_s", "llm.deadline_s", "search.max_tasks_per_worker"})
#: What ``--resume`` (and ``gptnas.resume``) may be given: a larger budget, and where the evaluations run.
RESUME_OVERRIDES = ("search.budget", "search.budget_time", "workers", "parallel", "ray_address", "threads",
                    "gpus_per_task")


def flatten(d: dict, prefix: str = "") -> dict:
    """``{"search": {"budget": 5}}`` -> ``{"search.budget": 5}`` (nested mappings only; lists stay values)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def changed_keys(started: dict, now: dict, ignore=RESUMABLE_CHANGES) -> list[tuple[str, Any, Any]]:
    """``(dotted key, value then, value now)`` for every key of two recorded configs that differs (missing: None),
    leaving out ``ignore``; in sorted order."""
    import json
    a, b = (json.loads(json.dumps(flatten(x), default=str)) for x in (started, now))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if k not in ignore and a.get(k) != b.get(k)]


def make_section(name: str, v):
    """The object of framework config section ``name`` (``search``, ``llm``, ``train``) from plain data."""
    if v is None:
        v = {}
    if dataclasses.is_dataclass(v) and not isinstance(v, type) or isinstance(v, SearchConfig):
        return v
    if not isinstance(v, dict):
        raise ConfigTypeError(f"config section {name} must be a mapping of its keys, got {type(v).__name__} "
                              f"{v!r:.60}")
    if name == "search":
        return SearchConfig(**v)
    cls = _SECTIONS[name]
    names = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(v) - names)
    if bad:
        raise ConfigError(f"unknown config key '{name}.{bad[0]}': valid keys are {', '.join(sorted(names))}")
    return cls(**v)  # the values are checked by validate()


def load_yaml(path: str | os.PathLike) -> dict:
    """A config file's mapping (empty for an empty file); one-line errors for what is not one."""
    try:
        d = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start}): save it as UTF-8 YAML") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"config file {path} holds a YAML {type(d).__name__}, not a mapping of config keys "
                          "(e.g. 'space: nb201'; the config.yaml of any run is one)")
    return d


def set_dotted(d: dict, dotted: str, value) -> None:
    """``set_dotted(d, "search.budget", 50)`` sets ``d["search"]["budget"]`` (a section that is null becomes one);
    one-line errors for an empty key or a key below a value."""
    *parents, last = dotted.split(".")
    if not all(part.strip() for part in (*parents, last)):
        raise ConfigError(f"config key {dotted!r} has an empty part: write it like search.budget")
    for i, part in enumerate(parents):
        node = d.get(part)
        if node is None:
            node = d[part] = {}
        elif not isinstance(node, dict):
            raise ConfigError(f"config key {dotted}: {'.'.join(parents[:i + 1])} is a value ({node!r}), not a "
                              "section with keys")
        d = node
    d[last] = value


#: Top-level keys that hold text (a name or a path), and the ones that hold whole numbers.
_TEXT_KEYS = ("space", "dataset", "fitness", "data", "out", "parallel", "ray_address", "cache_dir")


def check_types(cfg: RunConfig) -> None:
    """One line for a top-level value of the wrong type (``out: [1, 2]``, ``workers: two``), before any is used."""
    for k in _TEXT_KEYS:
        v = getattr(cfg, k)
        if v is not None and not isinstance(v, str):
            raise ConfigTypeError(f"{k} must be text (a name or a path), got {type(v).__name__} {v!r:.60}")
    for k in ("seed", "workers", "threads"):
        v = getattr(cfg, k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigTypeError(f"{k} must be an integer, got {type(v).__name__} {v!r:.60}")
    if cfg.space_options is not None and not isinstance(cfg.space_options, dict):
        raise ConfigTypeError(f"space_options must be a mapping of the space's keyword arguments, got "
                              f"{type(cfg.space_options).__name__}")
    if cfg.gpus_per_task is not None and (isinstance(cfg.gpus_per_task, bool)
                                          or not isinstance(cfg.gpus_per_task, (int, float)) or cfg.gpus_per_task < 0):
        raise ConfigValueError(f"gpus_per_task must be a number ≥ 0, got {cfg.gpus_per_task!r}")
    if not isinstance(cfg.python_path, list) or not all(isinstance(x, str) for x in cfg.python_path):
        raise ConfigTypeError(f"python_path must be a list of folders, got {cfg.python_path!r:.60}")


def is_object(value) -> bool:
    """Whether a config value stands for a Python object passed in directly (``python:<name>``)."""
    return isinstance(value, str) and value.startswith(PREFIX)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(v, what: str = "duration") -> float:
    """Seconds from a number (seconds) or text: ``"90"``, ``"90s"``, ``"30m"``, ``"8h"``, ``"1d"``, ``"1h30m"``."""
    import re
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        seconds = float(v)
    elif isinstance(v, str) and re.fullmatch(r"\s*(\d+(\.\d+)?\s*[smhd]?\s*)+", v) and \
            (re.fullmatch(r"\s*\d+(\.\d+)?\s*", v) or re.fullmatch(r"(\s*\d+(\.\d+)?\s*[smhd]\s*)+", v)):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd]?)", v)
        seconds = sum(float(n) * _UNITS[u or "s"] for n, u in parts)
    else:
        raise ConfigError(f"{what} must be seconds or a duration like 90s, 30m, 8h, 1d, got {v!r}")
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(f"{what} must be a positive duration (90s, 30m, 8h), got {v!r}")
    return seconds


def validate(cfg: RunConfig, space=None, evaluate=None, method=None, strict_sections=()) -> RunConfig:
    """Check every value; fill defaults that depend on others. Returns ``cfg`` (modified in place).

    ``space`` / ``evaluate`` / ``method``: objects passed from Python, which ``cfg.space`` / ``cfg.fitness`` /
    ``cfg.search.method`` stand for (a method object has validated its own options). ``strict_sections``: sections
    the user named on the command line (``--set ga.cxpb=0.5``): one of a method the run does not use is refused (a
    config file's is ignored with a warning: a file may hold several methods' sections).
    """
    check_types(cfg)
    s = cfg.search
    if s.options:  # SearchConfig(method="rea", population=20): the options go to the method's section
        tree = translate({"search": {"method": s.method, **s.options}}, FIELDS, SearchConfig.ENGINE)
        s.options = {}
        for name, section in tree.items():
            if name != "search":
                cfg.sections[name] = {**section, **cfg.sections.get(name, {})}
    if space is not None and not is_object(cfg.space):
        cfg.space = PREFIX + str(getattr(space, "name", type(space).__name__))
    if evaluate is not None and not is_object(cfg.fitness):
        cfg.fitness = PREFIX + str(getattr(evaluate, "__name__", type(evaluate).__name__))
    own_space = is_object(cfg.space) or is_import_name(cfg.space)
    if cfg.fitness is None:
        cfg.fitness = "benchmark" if cfg.space in BENCHMARK_DATASETS else "train"
    kind = cfg.fitness_kind
    if cfg.space is None:
        cfg.space = "nb201" if kind == "benchmark" else "macro"
    if cfg.dataset is None and kind != "custom":
        cfg.dataset = BENCHMARK_DATASETS[cfg.space][0] if kind == "benchmark" and \
            cfg.space in BENCHMARK_DATASETS else "digits"
    if is_object(cfg.space):
        if space is None:
            raise ConfigError(f"this run searched a space passed from Python ({cfg.space[len(PREFIX):]}): resume it "
                              "with gptnas.resume(DIR, space=...), or name the space as module:callable")
        if cfg.space_options:
            raise ConfigError("space_options are for named spaces: give the options to your space object itself")
    else:
        from .spaces import SPACES, get_space
        if not own_space and cfg.space not in SPACES:
            raise ConfigError(f"unknown search space {cfg.space!r}: choose one of {', '.join(sorted(SPACES))}, or "
                              "name your own as module:callable")
        if cfg.space_options is None:
            cfg.space_options = dict(DEFAULT_SPACE_OPTIONS.get((cfg.space, cfg.dataset), {}))
        get_space(cfg.space, cfg.space_options, cfg.python_path)  # bad options fail here, with the space's message
    if kind == "benchmark":
        allowed = BENCHMARK_DATASETS.get(cfg.space, ())
        if not allowed:
            raise ConfigError(f"space {cfg.space} has no tabular benchmark: use --fitness train or proxy:NAME")
    elif kind in ("train", "proxy"):
        allowed = IMAGE_DATASETS
        if kind == "proxy":
            from .evaluators.proxy import parse_proxy_spec
            parse_proxy_spec(cfg.fitness)
    elif is_import_name(cfg.fitness):
        import_object(cfg.fitness, "--fitness", cfg.python_path)
        allowed = None
    elif is_object(cfg.fitness):
        if evaluate is None:
            raise ConfigError(f"this run's fitness was a function passed from Python ({cfg.fitness[len(PREFIX):]}): "
                              "resume it with gptnas.resume(DIR, evaluate=...), or name it as module:callable")
        allowed = None
    else:
        raise ConfigError(f"unknown fitness {cfg.fitness!r}: choose one of {', '.join(FITNESSES)}")
    if allowed is not None and cfg.dataset not in allowed:
        raise ConfigError(f"unknown dataset {cfg.dataset!r} for fitness {cfg.fitness}: "
                          f"choose one of {', '.join(allowed)}")
    t = cfg.train
    for k, v in DEFAULT_TRAIN.get(cfg.dataset, DEFAULT_TRAIN[None]).items():
        if getattr(t, k) is None:
            setattr(t, k, v)
    budget_given = s.budget is not None
    if s.budget is None:
        s.budget = DEFAULT_BUDGET[kind]
    _check_train_types(t)
    _positive_int("train.epochs", t.epochs)
    _positive_int("train.batch_size", t.batch_size)
    if t.max_train is not None:
        _positive_int("train.max_train", t.max_train)
    _positive_int("train.num_workers", t.num_workers, allow_zero=True)
    if not 0 < t.val_fraction < 1:
        raise ConfigError(f"train.val_fraction must be in (0, 1), got {t.val_fraction!r}")
    if not (isinstance(t.fraction, (int, float)) and 0 < t.fraction <= 1
            and (t.fraction == 1 or cfg.dataset == "imagenet")):
        raise ConfigError(f"train.fraction must be in (0, 1], and 1 for datasets other than imagenet; "
                          f"got {t.fraction!r} for {cfg.dataset}")
    if cfg.parallel is None:
        # one worker: in this process, unless a time limit must stop an evaluation (only a process can be killed)
        limited = s.eval_timeout is not None or (s.budget_time is not None and s.on_time == "cancel")
        cfg.parallel = "process" if cfg.workers > 1 or limited else "serial"
    if cfg.parallel not in BACKENDS:
        raise ConfigError(f"unknown parallel backend {cfg.parallel!r}: choose one of {', '.join(BACKENDS)}")
    if cfg.parallel == "ray" and t.inherit and kind == "train" and (cfg.ray_address or os.environ.get("RAY_ADDRESS")):
        raise ConfigError("train.inherit keeps trained weights in the run directory, which the other machines of a "
                          "Ray cluster cannot read: use --parallel process (one machine), or no inheritance")
    _positive_int("seed", cfg.seed, allow_zero=True)
    if cfg.seed > MAX_SEED:  # the archive stores it as a 64-bit integer
        raise ConfigValueError(f"seed must be an integer in [0, 2**63 - 1], got {cfg.seed}")
    _positive_int("workers", cfg.workers)
    if cfg.threads is not None:
        _positive_int("threads", cfg.threads)
    if s.generations is not None:
        _positive_int("search.generations", s.generations)
    for name in ("budget", "stall_limit"):
        _positive_int(f"search.{name}", getattr(s, name))
    if isinstance(s.max_failed_share, bool) or not isinstance(s.max_failed_share, (int, float)) \
            or not 0 <= s.max_failed_share <= 1:
        raise ConfigError(f"search.max_failed_share must be in [0, 1], got {s.max_failed_share!r}")
    if s.budget_time is not None:
        s.budget_time = parse_duration(s.budget_time, "search.budget_time (--budget-time)")
    if s.eval_timeout is not None:
        s.eval_timeout = parse_duration(s.eval_timeout, "search.eval_timeout (--eval-timeout)")
    if s.order not in ("lag", "arrival"):
        raise ConfigError(f"search.order must be lag (the same result whatever the timing) or arrival (results as "
                          f"they come), got {s.order!r}")
    if s.on_time not in ("finish", "cancel"):
        raise ConfigError(f"search.on_time must be finish (evaluations in flight at the time budget finish) or "
                          f"cancel, got {s.on_time!r}")
    if s.lag is not None:
        _positive_int("search.lag", s.lag)
    if s.max_tasks_per_worker is not None:
        _positive_int("search.max_tasks_per_worker", s.max_tasks_per_worker)
    cfg.llm.validate()
    # The method (and the wrappers its config asks for) validates its own options; the resolved ones are what
    # config.yaml records.
    if method is not None:
        base = method.base_name
        s.method = base if base in METHODS and type(_innermost(method)) is get_method(base) else PREFIX + base
    elif is_object(s.method):
        raise ConfigError(f"this run used a method object ({s.method[len(PREFIX):]}): resume it with "
                          "gptnas.resume(DIR, method=...)")
    built = build_method(cfg, method)
    built.check_target(cfg.dataset)
    if not budget_given and built.default_budget() is not None:
        s.budget = built.default_budget()
    recorded = built.config_sections()
    for name in set(cfg.sections) - set(recorded):
        cls = section_class(name)
        if cls is not None and cls in (get_method(n) for n in METHODS):
            if name in strict_sections:
                key = strict_sections[name] if isinstance(strict_sections, dict) else name
                raise ConfigError(f"--set {key}: section {name} holds options of method {name}, which this run "
                                  f"does not use (--method {built.base_name}): pass --method {name}, or leave the "
                                  "key out")
            log.warning("config section %s holds options of method %s, which this run does not use (--method %s): "
                        "ignored", name, name, built.base_name)
    cfg.sections = recorded
    return cfg


def _innermost(method):
    while getattr(method, "inner", None) is not None:
        method = method.inner
    return method


def build_method(cfg: RunConfig, method=None):
    """The method object ``cfg`` describes: ``method`` (an object), or the class ``search.method`` names built from
    its section; inside every wrapper whose section asks for one (``prescreened: {prescreen: 4}``) and that it does
    not already hold."""
    if method is None:
        name = cfg.search.method
        method = get_method(name).from_section(cfg.sections.get(name))
    have = set(method.config_sections())
    for name in WRAPPERS:
        section = cfg.sections.get(name)
        cls = get_wrapper(name)
        if name not in have and section is not None and cls.active(section):
            method = cls.from_section(section, inner=method)
    return method


def resolve_paths(cfg: RunConfig, base: str | os.PathLike | None = None) -> RunConfig:
    """Make the run's relative paths absolute (against ``base``, default the working directory), so that a resume
    from another folder reads the same files: ``data``, ``out``, ``cache_dir``, ``train.data_root``, ``llm.replay``,
    and the options each method or wrapper declares as paths (its ``paths``: a ``"file"`` always, a ``"folder"``
    when it names one — a transfer source may be a dataset's name)."""
    base = Path(base or os.getcwd())

    def absolute(p):
        return p if p is None or Path(p).expanduser().is_absolute() else str((base / p).resolve())

    def folder(p):
        return absolute(p) if isinstance(p, str) and (base / p).is_dir() else p

    cfg.data, cfg.out, cfg.cache_dir = absolute(cfg.data), absolute(cfg.out), absolute(cfg.cache_dir)
    cfg.train.data_root = absolute(cfg.train.data_root)
    for name, section in cfg.sections.items():
        cls = section_class(name)
        for option, kind in (cls.paths if cls is not None else {}).items():
            v = section.get(option)
            if v is None:
                continue
            if kind == "file":
                section[option] = absolute(v)
            elif isinstance(v, list) or (isinstance(v, str) and "," in v):
                items = v if isinstance(v, list) else [x.strip() for x in v.split(",") if x.strip()]
                section[option] = [folder(x) for x in items]
            else:
                section[option] = folder(v)
    cfg.llm.replay = absolute(cfg.llm.replay)
    cfg.python_path = [absolute(p) for p in cfg.python_path]
    return cfg


def _check_train_types(t: TrainConfig) -> None:
    for k in ("lr", "warmup_epochs", "momentum", "weight_decay", "time_limit_s", "val_fraction", "fraction"):
        v = getattr(t, k)
        if v is None and k == "time_limit_s":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise ConfigTypeError(f"train.{k} must be a number, got {type(v).__name__} {v!r:.60}")
        if v < 0 or (k in ("lr", "time_limit_s") and v == 0):
            raise ConfigValueError(f"train.{k} must be a number {'>' if k in ('lr', 'time_limit_s') else '≥'} 0, "
                                   f"got {v!r}")
    for k in ("amp", "channels_last", "compile", "download", "report_test", "inherit"):
        if not isinstance(getattr(t, k), bool):
            raise ConfigTypeError(f"train.{k} must be true or false, got {getattr(t, k)!r:.60}")
    for k in ("device", "data_root"):
        v = getattr(t, k)
        if v is not None and not isinstance(v, str):
            raise ConfigTypeError(f"train.{k} must be text, got {type(v).__name__} {v!r:.60}")


def _positive_int(name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigTypeError(f"{name} must be an integer ≥ {0 if allow_zero else 1}, got {v!r}")
    if v < (0 if allow_zero else 1):
        raise ConfigValueError(f"{name} must be an integer ≥ {0 if allow_zero else 1}, got {v!r}")
