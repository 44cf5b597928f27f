"""Options of design-principle transfer (:class:`PrinciplesSettings`): the ``lapt`` section of a run's config (its
principles, refined space and adaptation), and the ``principled`` section (any other method in the space the
principles refine). Before sections were named after methods both were the ``principles`` section, which is still
read. Plain data, no torch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Union

from ...errors import ConfigError
from ..base import check_choice, check_int, check_sources, settings_from_dict

EXTRACTORS = ("stats", "gpt", "llm", "frequency")
ADAPTATIONS = ("widen", "replace")
BASELINES = ("initial", "none")
PRESETS = ("default", "paper")
#: The paper's settings per space (LAPT's released NAS201_principle.py / Transfer101_ab.py): population, tournament,
#: options per position, first adaptation, then every, the target's top architectures an adaptation reads.
PAPER = {"nb201": dict(population=5, sample=2, max_options=2, adapt_first=10, adapt_every=5, adapt_top=5),
         "tnb101": dict(population=10, sample=5, max_options=3, adapt_first=20, adapt_every=10, adapt_top=15)}
OTHER = dict(population=10, sample=5, max_options=None, adapt_first=10, adapt_every=10, adapt_top=10)
#: Where the default differs from the paper per space: TransNAS-Bench-101's first adaptation at 10, not 20.
DEFAULT = {"nb201": PAPER["nb201"], "tnb101": {**PAPER["tnb101"], "adapt_first": 10}}
#: What each preset sets that the user left unset (None). ``paper``: LAPT as published — the LLM (the frequency
#: among the source's top 50 standing in offline), uniform sampling and mutation inside the refined space, each
#: adaptation's answer replacing the operation lists, "improved" judged against the initial population's best.
PRESET_VALUES = {"default": dict(extractor="stats", guided=True, adaptation="widen", baseline="none"),
                 "paper": dict(extractor="llm", guided=False, adaptation="replace", baseline="initial")}


def paper_setting(space, name: str, preset: str = "default"):
    """The value of ``name`` for ``space`` under ``preset`` (by the space's name; other spaces: LAPT's
    TransNAS-Bench-101 loop, and at most half the options of a position — for block chains, those of the 15 types
    the evidence favours)."""
    v = (PAPER if preset == "paper" else DEFAULT).get(getattr(space, "name", ""), OTHER)[name]
    if v is None and name == "max_options":
        from .decisions import positions_of
        v = max(1, math.ceil(max(len(o) for o in positions_of(space)[1]) / 2))
    return v


@dataclass
class PrinciplesSettings:
    """How principles are learned, refine the space, and adapt.

    ``source``: where they are learned (``--principles-from``): a dataset or task of the run's benchmark table, a
    run directory, or several (a list, or comma-separated). ``file``: principles written by hand (or exported from
    a run) instead. ``extractor``: ``stats`` (default), ``gpt``, ``llm``, or ``frequency`` (the baseline: plain
    frequency among the source's top 50). None values are the preset's (:data:`PRESET_VALUES`), per space where
    the paper gives them (:data:`PAPER`); :meth:`resolved` fills them in.
    """

    source: Union[str, list, None] = None
    file: Optional[str] = None
    extractor: Optional[str] = None     # None: the preset's (default stats; paper llm, or frequency without an LLM)
    max_options: Optional[int] = None   # options kept per position (None: paper, NB201 2, TNB101 3)
    top: float = 0.01                   # the source's good architectures: a share (< 1) or a count (>= 1) ...
    min_top: int = 10                   # ... but at least this many
    effect_weight: float = 0.5          # score = enrichment among the good + effect_weight x additive effect (SD)
    guided: Optional[bool] = None       # lapt: initial population and mutations follow the principles' scores
                                        #   (None: the preset's; default true, paper false: uniform)
    temperature: float = 0.5            # lapt: initial population drawn with p ~ exp(score / temperature)
    adapt: bool = True                  # lapt: principle adaptation during the search
    adapt_first: Optional[int] = None   # lapt: first adaptation after this many evaluations (paper: 10)
    adapt_every: Optional[int] = None   # lapt: then every this many (paper: 5 on NB201, 10 on TNB101)
    adapt_top: Optional[int] = None     # lapt: the target's best architectures an adaptation reads (5 / 15)
    adaptation: Optional[str] = None    # lapt: widen (ours: an adaptation only ever adds options) | replace (the
                                        #   paper's: the answer replaces the lists; "other operations" asked in a
                                        #   separate conversation); None: the preset's
    baseline: Optional[str] = None      # lapt: "improved" against: none (ours: the first adaptation always counts) |
                                        #   initial (the paper's: the initial population's best); None: the preset's
    target_weight: float = 50.0         # lapt: the target's evidence counts n / (n + target_weight) beside the source's
    fallback: Optional[str] = None      # llm: "stats" to use the statistics when the LLM's replies stay unusable
    pretrain: dict = field(default_factory=dict)  # gpt: the token GPT (gptnas.lm.cache.PretrainSettings overrides)
    gpt_samples: int = 2000             # gpt: samples from the fine-tuned GPT that give the per-position marginals

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "PrinciplesSettings":
        return settings_from_dict(cls, d, "lapt")

    @property
    def sources(self) -> list[str]:
        if self.source is None:
            return []
        if isinstance(self.source, str):
            return [s.strip() for s in self.source.split(",") if s.strip()]
        return [str(s) for s in self.source]

    @property
    def active(self) -> bool:
        return bool(self.sources or self.file)

    def validate(self) -> None:
        w = "lapt"
        check_sources(self.source, "--principles-from (lapt.source)", "other datasets or tasks of the table "
                      "(cifar100) or run directories of another task")
        if self.file is not None and (not isinstance(self.file, str) or not self.file.strip()):
            raise ConfigError(f"--principles-file (lapt.file) must name a file, got {self.file!r}")
        if self.extractor is not None:
            check_choice(w, "extractor", self.extractor, EXTRACTORS)
        for opt, choices in (("adaptation", ADAPTATIONS), ("baseline", BASELINES)):
            if getattr(self, opt) is not None:
                check_choice(w, opt, getattr(self, opt), choices)
        if self.fallback is not None:
            check_choice(w, "fallback", self.fallback, ("stats", "frequency"))
        for opt in ("max_options", "adapt_first", "adapt_every", "adapt_top"):
            if getattr(self, opt) is not None:
                check_int(w, opt, getattr(self, opt))
        check_int(w, "min_top", self.min_top)
        check_int(w, "gpt_samples", self.gpt_samples)
        for opt in ("top", "effect_weight", "temperature", "target_weight"):
            v = getattr(self, opt)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (opt in ("top", "temperature")
                                                                                    and v == 0):
                raise ConfigError(f"lapt option {opt} must be a number > 0 (>= 0 for weights), got {v!r}")
        for opt in ("guided", "adapt"):
            if not isinstance(getattr(self, opt), bool) and not (opt == "guided" and self.guided is None):
                raise ConfigError(f"lapt option {opt} must be true or false")
        if not isinstance(self.pretrain, dict):
            raise ConfigError(f"lapt option pretrain must be a mapping, got {self.pretrain!r:.60}")

    def resolved(self, space, preset: str = "default", llm_given: bool = False) -> "PrinciplesSettings":
        """A copy with every unset (None) option taken from ``preset`` for ``space``. The paper's ``llm``
        extractor becomes ``frequency`` (its offline stand-in: the most frequent options among the source's top 50,
        as LAPT's released simulation does) when no LLM is given."""
        d = asdict(self)
        for k, v in PRESET_VALUES[preset].items():
            if d[k] is None:
                d[k] = v
        if self.extractor is None and d["extractor"] == "llm" and not llm_given:
            d["extractor"] = "frequency"
        for k in ("max_options", "adapt_first", "adapt_every", "adapt_top"):
            if d[k] is None:
                d[k] = paper_setting(space, k, preset)
        return PrinciplesSettings(**d)

    def to_dict(self) -> dict:
        return asdict(self)
