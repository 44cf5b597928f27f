"""Options of the ``gptnas`` method: the ``gpt`` section of a run's config (:class:`GPTSettings`), and the
settings that determine GPT-NAS's layer GPT (:class:`LayerGPTSettings`, ``gpt.layer_gpt``).

Plain dataclasses, no torch: a config is validated before any model is loaded.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass, field
from typing import Optional

from ...errors import ConfigError
from ..base import check_choice, check_int, check_probability

log = logging.getLogger(__name__)
PRETRAIN_SECTIONS = ("model", "corpus", "train")  # gpt.pretrain: the token GPT's PretrainSettings


@dataclass(frozen=True)
class LayerGPTSettings:
    """Everything that determines a pre-trained layer GPT (and so its cache key).

    The paper trains 300 epochs at Adam lr 1e-4, batch 128, on 295,889 NAS-Bench-101 networks. The defaults here
    are a CPU budget (about a minute on one core): a sample of NAS-Bench-101 cells, a few epochs, a higher rate.
    ``experiments/configs/`` holds the paper's values.
    """

    window: int = 10              # preceding layers the GPT sees (paper: 10)
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.1
    pretrain_cells: int = 400     # NAS-Bench-101 cells in the pre-training corpus
    pretrain_epochs: int = 1
    finetune_epochs: int = 5      # on the 36 hand-designed networks
    lr: float = 1e-3
    batch_size: int = 128
    stride: int = 6               # window stride over pre-training sequences (they are very repetitive)
    finetune_stride: int = 2      # window stride over the hand-designed networks
    classifier_chains: int = 300  # sampled chains the block classifier learns from
    classifier_epochs: int = 40
    seed: int = 0
    device: str = "cpu"           # where the GPT trains: cpu | cuda | auto (proposing always runs on the CPU)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "LayerGPTSettings":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown layer-GPT settings {sorted(unknown)}: known are "
                             f"{', '.join(cls.__dataclass_fields__)}")
        return cls(**d)


@dataclass
class GPTSettings:
    """Method ``gptnas``: the GPT proposal model and how the search uses it."""

    enabled: bool = True              # false: "NAS without GPT" (same GA, no reconstruction)
    level: str = "auto"               # token (GPT over the space's tokens) | layer (GPT-NAS's layer GPT + block
                                      #   classifier; block-chain space only) | auto (layer for the block-chain
                                      #   space, else token)
    loop: str = "ga"                  # ga (the paper's GA) | rea (regularised evolution, GPT reconstruction as mutation)
    rate: float = 0.4                 # elimination rate r at the start; decays linearly to rate_end (paper)
    rate_end: float = 0.0
    temperature: float = 1.0          # sampling temperature over candidate fillings
    top_k: Optional[int] = None       # keep only the k most likely fillings
    init: str = "auto"                # initial population: random | gpt (sampled) | auto (gpt when transferring)
    crossover: str = "gpt"            # gpt (junction repaired by the GPT) | classic
    transfer_from: Optional[str] = None  # source task: a dataset of the same benchmark table, or a run directory
    transfer_top: int = 50            # how many of the source's best architectures fine-tune the GPT
    online: bool = True               # re-fine-tune on this search's elites during the search
    finetune_every: int = 1           # online fine-tune after every this many populations' worth of new evaluations
    elites: int = 20                  # architectures in each online fine-tune
    finetune_epochs: Optional[int] = None  # None: the proposer's default
    pretrain: dict = field(default_factory=dict)   # the token GPT: overrides of gptnas.lm.cache.PretrainSettings
                                                   #   ({model: {...}, corpus: {...}, train: {...}})
    layer_gpt: dict = field(default_factory=dict)  # the layer GPT: overrides of LayerGPTSettings (flat)
    cache_dir: Optional[str] = None   # pre-trained models (default $GPTNAS_CACHE or ~/.cache/gptnas)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "GPTSettings":
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config key 'gpt.{unknown[0]}': valid keys are {', '.join(sorted(names))}")
        return cls(**d)

    def __post_init__(self) -> None:
        # Before gpt.layer_gpt existed, the layer GPT's settings were written under gpt.pretrain.
        p = self.pretrain or {}
        if p and not self.layer_gpt and not set(p) & set(PRETRAIN_SECTIONS) \
                and set(p) <= set(LayerGPTSettings.__dataclass_fields__):
            log.info("gpt.pretrain holds layer-GPT settings: they are read as gpt.layer_gpt (the key that "
                     "replaced it for the layer GPT)")
            self.layer_gpt, self.pretrain = dict(p), {}

    def validate(self) -> None:
        w = "gptnas"
        for opt in ("rate", "rate_end"):
            check_probability(w, f"gpt.{opt}", getattr(self, opt))
        check_choice(w, "gpt.loop", self.loop, ("ga", "rea"))
        check_choice(w, "gpt.level", self.level, ("auto", "token", "layer"))
        check_choice(w, "gpt.init", self.init, ("auto", "random", "gpt"))
        check_choice(w, "gpt.crossover", self.crossover, ("gpt", "classic"))
        for opt in ("enabled", "online"):
            if not isinstance(getattr(self, opt), bool):
                raise ConfigError(f"gptnas option gpt.{opt} must be true or false, got {getattr(self, opt)!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or self.temperature <= 0:
            raise ConfigError(f"gptnas option gpt.temperature must be > 0, got {self.temperature!r}")
        if self.top_k is not None:
            check_int(w, "gpt.top_k", self.top_k)
        if self.finetune_epochs is not None:
            check_int(w, "gpt.finetune_epochs", self.finetune_epochs)
        for opt in ("transfer_top", "finetune_every", "elites"):
            check_int(w, f"gpt.{opt}", getattr(self, opt))
        for opt in ("pretrain", "layer_gpt"):
            if not isinstance(getattr(self, opt), dict):
                raise ConfigError(f"gptnas option gpt.{opt} must be a mapping, got {getattr(self, opt)!r}")
        unknown = set(self.pretrain) - set(PRETRAIN_SECTIONS)
        if unknown:
            raise ConfigError(f"unknown gpt.pretrain section {sorted(unknown)[0]!r}: the token GPT's settings are "
                              f"{', '.join(PRETRAIN_SECTIONS)} (the layer GPT's go under gpt.layer_gpt)")
        try:
            LayerGPTSettings.from_dict(self.layer_gpt)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad gpt.layer_gpt settings: {e}") from None

    def to_dict(self) -> dict:
        return asdict(self)
