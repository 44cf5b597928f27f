"""Options of the ``gptnas`` method: the ``gpt`` section of a run's config (:class:`GPTSettings`), and the
settings that determine GPT-NAS's layer GPT (:class:`LayerGPTSettings`, ``gptnas.layer_gpt``).

Plain dataclasses, no torch: a config is validated before any model is loaded.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Optional

from ...errors import ConfigError
from ..base import PRESET, Flag, check_choice, check_int, check_probability, settings_from_dict

log = logging.getLogger(__name__)
PRETRAIN_SECTIONS = ("model", "corpus", "train")  # gpt.pretrain: the token GPT's PretrainSettings

#: Named settings of the method (``--preset NAME``, ``gpt.preset``). ``paper``: GPT-NAS as published — the GA with
#: GPT reconstruction of every child (r = 0.4, decaying linearly), online fine-tunes on the 20 best continuing from
#: the last weights, the 4-layer width-128 GPT pre-trained on 15,625 architectures. ``local``: regularised evolution
#: whose mutation is the GPT's most likely single change (its likelihood over the search's token frequencies,
#: ``gpt.contrast``) or the classic one, as their measured success says (only
#: the classic one after 30 evaluations without a new best, ``gpt.mix_stall``, ``gpt.mix_stall_draw``);
#: fine-tunes restart from the pre-trained model on the best quarter (the better ones weigh more), about 50 steps
#: at lr 3e-3 — strong enough that the GPT's likelihood tracks fitness (the paper's 5 epochs at 5e-4 barely move it);
#: sampling at temperature 0.5; a GPT sized to the sequences (1 layer of width 32: 2 layers searched no better on
#: the tables, BENCHMARKS.md) whose pre-training follows the space's size.
PRESETS = {
    "paper": {"loop": "ga", "mutation": "reconstruct", "finetune_from": "current", "weighting": "top",
              "temperature": 1.0, "finetune_epochs": None, "finetune_steps": None, "finetune_lr": None,
              "pretrain": {"model": {"n_embd": 128, "n_layer": 4, "n_head": 4}, "corpus": {"n": 15_625}}},
    "local": {"loop": "rea", "mutation": "adaptive", "finetune_from": "pretrained", "weighting": "rank",
              "temperature": 0.5, "finetune_epochs": None, "finetune_steps": 50, "finetune_lr": 3e-3,
              "pretrain": {"model": {"n_embd": 32, "n_layer": 1, "n_head": 2, "activation": "gelu"}}},
}
FLAGS = (
    PRESET,
    Flag("--transfer-from", "transfer_from", "fine-tune the GPT on the best architectures of another dataset (or a "
         "run dir)", metavar="SOURCE"),
)
GPT_FLAGS = FLAGS
PRESET_KEYS = ("loop", "mutation", "finetune_from", "weighting", "temperature", "finetune_epochs", "finetune_steps",
               "finetune_lr")


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
    preset: str = "auto"              # paper (GPT-NAS's GA, r = 0.4 decaying) | local (REA, the GPT's adaptive local
                                      #   move) | auto: local for the token GPT, paper for the layer GPT; the keys
                                      #   below left unset (null) take the preset's values (PRESETS)
    loop: Optional[str] = None        # ga (the paper's GA) | rea (regularised evolution)
    mutation: Optional[str] = None    # reconstruct (eliminate r of the components, the GPT refills them) | local (the
                                      #   GPT's most likely single change) | adaptive (local or classic, by success)
    finetune_from: Optional[str] = None  # online fine-tunes start from: current (the last weights) | pretrained
    weighting: Optional[str] = None   # online fine-tune set: top (the best `elites`) | rank (the best quarter, the
                                      #   better ones repeated more)
    mix_window: Optional[int] = None  # adaptive: judge the operators on their last this many children (None: all)
    mix_floor: float = 0.2            # adaptive: share of children whose operator is drawn uniformly
    mix_credit: str = "parent"        # adaptive: a child succeeds by beating its parent, or the best so far
    mix_stall: Optional[int] = 30     # adaptive: after this many evaluations with no new best, mix_stall_draw
                                      #   (null: never)
    mix_stall_draw: str = "classic"   # adaptive, while stalled: classic (only REA's mutation, until a new best:
                                      #   its drift leaves a basin the GPT keeps the search in) | uniform
    local_revisit: bool = False       # local/adaptive: the GPT's move may pick an evaluated neighbour (a repeat is
                                      #   answered from the cache, free, and keeps a good architecture in the
                                      #   population, as REA's repeats do) until a population's worth of
                                      #   generations brings nothing new (an ablation: BENCHMARKS.md)
    contrast: float = 1.0             # local/adaptive: score a neighbour by log l(x) - contrast * log g(x), l the
                                      #   GPT, g the per-position token frequencies of every evaluation so far
                                      #   (TPE's l/g; 0: the GPT alone)
    rate: float = 0.4                 # elimination rate r at the start; decays linearly to rate_end (paper)
    rate_end: float = 0.0
    temperature: Optional[float] = None  # sampling temperature over candidate fillings (paper 1.0, local 0.5)
    top_k: Optional[int] = None       # keep only the k most likely fillings
    init: str = "auto"                # initial population: random | gpt (sampled) | auto (gpt when transferring)
    crossover: str = "gpt"            # gpt (junction repaired by the GPT) | classic
    transfer_from: Optional[str] = None  # source task: a dataset of the same benchmark table, or a run directory
    transfer_top: int = 50            # how many of the source's best architectures fine-tune the GPT
    online: bool = True               # re-fine-tune on this search's elites during the search
    finetune_every: int = 1           # online fine-tune after every this many populations' worth of new evaluations
    elites: int = 20                  # architectures in each online fine-tune
    finetune_epochs: Optional[int] = None  # epochs of each fine-tune (paper: the proposer's default, 5)
    finetune_steps: Optional[int] = None   # instead of epochs: about this many optimiser steps, whatever the set's
                                           #   size (local: 50)
    finetune_lr: Optional[float] = None    # learning rate of each fine-tune (paper: the proposer's default, 5e-4)
    pretrain: dict = field(default_factory=dict)   # the token GPT: overrides of gptnas.lm.cache.PretrainSettings
                                                   #   ({model: {...}, corpus: {...}, train: {...}})
    layer_gpt: dict = field(default_factory=dict)  # the layer GPT: overrides of LayerGPTSettings (flat)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "GPTSettings":
        return settings_from_dict(cls, d, "gptnas")

    def __post_init__(self) -> None:
        # Before layer_gpt existed, the layer GPT's settings were written under pretrain.
        p = self.pretrain or {}
        if p and not self.layer_gpt and not set(p) & set(PRETRAIN_SECTIONS) \
                and set(p) <= set(LayerGPTSettings.__dataclass_fields__):
            log.info("gptnas.pretrain holds layer-GPT settings: they are read as gptnas.layer_gpt (the key that "
                     "replaced it for the layer GPT)")
            self.layer_gpt, self.pretrain = dict(p), {}

    def resolved(self, layer: bool = False) -> "GPTSettings":
        """A copy with every unset key taken from the preset (``auto``: ``paper`` for GPT-NAS's layer GPT, ``local``
        for the token GPT); ``gptnas.pretrain`` sections the user gave win over the preset's."""
        name = self.preset if self.preset not in ("auto", "default") else ("paper" if layer else "local")
        preset = PRESETS[name]
        d = asdict(self)
        d["preset"] = name
        for k in PRESET_KEYS:
            if d[k] is None:
                d[k] = preset[k]
        pre = {sec: dict(v) for sec, v in preset.get("pretrain", {}).items()}
        for sec, v in (self.pretrain or {}).items():
            pre[sec] = {**pre.get(sec, {}), **v}
        d["pretrain"] = pre
        out = GPTSettings.__new__(GPTSettings)
        out.__dict__.update(d)
        return out

    def validate(self) -> None:
        w = "gptnas"
        if self.transfer_from is not None and (not isinstance(self.transfer_from, str) or not self.transfer_from.strip()):
            raise ConfigError(f"--transfer-from (gptnas.transfer_from) is empty: name another dataset of the table "
                              f"(cifar100) or the run directory of a search on another task, got {self.transfer_from!r}")
        for opt in ("rate", "rate_end"):
            check_probability(w, opt, getattr(self, opt))
        check_choice(w, "preset", self.preset, ("auto", "default") + tuple(PRESETS))
        for opt, choices in (("loop", ("ga", "rea")), ("mutation", ("reconstruct", "local", "adaptive")),
                             ("finetune_from", ("current", "pretrained")), ("weighting", ("top", "rank"))):
            if getattr(self, opt) is not None:  # unset: the preset's
                check_choice(w, opt, getattr(self, opt), choices)
        check_choice(w, "level", self.level, ("auto", "token", "layer"))
        check_choice(w, "init", self.init, ("auto", "random", "gpt"))
        check_choice(w, "crossover", self.crossover, ("gpt", "classic"))
        check_choice(w, "mix_credit", self.mix_credit, ("parent", "best"))
        check_choice(w, "mix_stall_draw", self.mix_stall_draw, ("uniform", "classic"))
        for opt in ("enabled", "online", "local_revisit"):
            if not isinstance(getattr(self, opt), bool):
                raise ConfigError(f"gptnas option {opt} must be true or false, got {getattr(self, opt)!r}")
        for opt in ("temperature", "finetune_lr"):
            v = getattr(self, opt)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise ConfigError(f"gptnas option {opt} must be > 0, got {v!r}")
        if self.top_k is not None:
            check_int(w, "top_k", self.top_k)
        check_probability(w, "mix_floor", self.mix_floor)
        if isinstance(self.contrast, bool) or not isinstance(self.contrast, (int, float)) or self.contrast < 0:
            raise ConfigError(f"gptnas option contrast must be a number >= 0, got {self.contrast!r}")
        for opt in ("finetune_epochs", "finetune_steps", "mix_window", "mix_stall"):
            if getattr(self, opt) is not None:
                check_int(w, opt, getattr(self, opt))
        for opt in ("transfer_top", "finetune_every", "elites"):
            check_int(w, opt, getattr(self, opt))
        for opt in ("pretrain", "layer_gpt"):
            if not isinstance(getattr(self, opt), dict):
                raise ConfigError(f"gptnas option {opt} must be a mapping, got {getattr(self, opt)!r}")
        unknown = set(self.pretrain) - set(PRETRAIN_SECTIONS)
        if unknown:
            raise ConfigError(f"unknown gptnas.pretrain section {sorted(unknown)[0]!r}: the token GPT's settings are "
                              f"{', '.join(PRETRAIN_SECTIONS)} (the layer GPT's go under gptnas.layer_gpt)")
        try:
            LayerGPTSettings.from_dict(self.layer_gpt)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad gptnas.layer_gpt settings: {e}") from None

    def to_dict(self) -> dict:
        return asdict(self)
