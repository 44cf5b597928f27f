"""Options of NAS as ranking (:class:`RankSettings`): the ``lmsearcher`` section of a run's config (its loop and
ranker), and the ``prescreened`` section (ranked pre-screening of another method's children). Before sections were
named after methods both were the ``rank`` section, which is still read. Plain data, no torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Union

from ...errors import ConfigError
from ..base import check_choice, check_int, check_probability, check_sources, settings_from_dict


PRESETS = ("default", "paper")
#: What each preset sets that the user left unset. ``paper``: LM-Searcher as published (search.py / utils.py of
#: Ashone3/LM-Searcher) — pools of random unseen candidates, a new pool when the reply names none of them, and the
#: request's max_tokens = 100 (:data:`PAPER_MAX_TOKENS`, where llm.max_tokens is unset).
PRESET_VALUES = {"default": dict(pool_source="mixed", on_miss="ask"),
                 "paper": dict(pool_source="random", on_miss="redraw")}
PAPER_MAX_TOKENS = 100
#: The released search's trial count (search.py's ``trial_num``): the paper preset's budget when none is given.
PAPER_BUDGET = 192


#: ``--rank-from`` words that name the ranker's prior rather than a source.
PRIOR_WORDS = ("synthetic", "tables")


@dataclass
class RankSettings:
    """The ranker and how the search uses it.

    ``source`` (``--rank-from``): the tasks its training trajectories come from — datasets/tasks of the benchmark
    tables or run directories; None: every table the project can read but the target's own task. Two words name the
    prior instead of a source: ``synthetic`` (synthetic problems on the space's own decisions) and ``tables`` (every
    table but the target's); ``--rank-from synthetic,nb201:cifar100`` mixes them (``prior: both``).
    """

    ranker: str = "builtin"            # builtin (the small transformer) | llm (--llm-url / --llm-model) | random |
    #                                    ridge (a ridge regression on the history's ranks: no training)
    source: Union[str, list, None] = None
    prescreen: int = 1                 # rea / gptnas: k > 1 breeds k x the children and evaluates the ranker's best
    pool: int = 10                     # lmsearcher: candidates per choice
    history: int = 200                 # lmsearcher: history entries in the LLM's prompt (the built-in reads its own)
    initial: int = 5                   # lmsearcher: random architectures before the first choice
    pool_source: Optional[str] = None  # mixed (ours: neighbours of the best + random) | random (the paper's) | gpt;
                                       #   None: the preset's
    on_miss: Optional[str] = None      # llm, a reply naming no candidate: ask (ours: the same pool again) | redraw
                                       #   (the paper's: a new random pool); None: the preset's
    local_share: float = 0.5           # mixed pools: the share of neighbours of the history's best five
    retries: int = 3                   # llm: asked again (or a pool redrawn) this often when the reply is not in it
    fallback: str = "builtin"          # llm: who chooses when the replies stay outside the pool (builtin | random)
    subspaces: int = 200               # trajectories: pruned sub-spaces per source
    uniform: bool = False              # trajectories: no pruning (ablation)
    shuffle_scores: bool = False       # trajectories: history scores shuffled (ablation)
    relabel: float = 0.5               # trajectories: share of samples with each decision's options renamed
    epochs: int = 6                    # built-in ranker training
    model: dict = field(default_factory=dict)  # built-in ranker size: gptnas.lm.ranker.RankerConfig fields
    prior: str = "auto"                # built-in ranker trains on: auto (tables, else synthetic problems) | tables |
    #                                    synthetic (only, even beside tables) | both (tables and synthetic problems)
    synthetic: dict = field(default_factory=dict)  # the synthetic prior: gptnas...lmsearcher.synthetic.SyntheticPrior
    seed: int = 0                      # trajectories and training (the ranker is shared by every run seed)
    pretrain: dict = field(default_factory=dict)  # pool_source gpt: the token GPT (gptnas.lm.cache.PretrainSettings)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "RankSettings":
        d = dict(d or {})
        if "from" in d:
            d["source"] = d.pop("from")
        return settings_from_dict(cls, d, "lmsearcher")

    def __post_init__(self) -> None:
        # --rank-from synthetic / tables / synthetic,SOURCE: the prior, said as a source
        names = self.sources if isinstance(self.source, (str, list, tuple)) else []
        words = [n for n in names if n in PRIOR_WORDS]
        if not words:
            return
        rest = [n for n in names if n not in PRIOR_WORDS]
        prior = "both" if "synthetic" in words and ("tables" in words or rest) else words[0]
        if self.prior not in ("auto", prior):
            raise ConfigError(f"--rank-from {','.join(names)} asks for prior {prior}, and lmsearcher.prior is "
                              f"{self.prior}: give one of them")
        self.prior, self.source = prior, (rest or None)

    @property
    def sources(self) -> list[str]:
        if self.source is None:
            return []
        if isinstance(self.source, str):
            return [s.strip() for s in self.source.split(",") if s.strip()]
        return [str(s) for s in self.source]

    def validate(self) -> None:
        w = "lmsearcher"
        check_sources(self.source, "--rank-from (lmsearcher.source)", "tables' datasets or tasks (nb201:cifar10, "
                      "tnb101:jigsaw) or run directories, or leave it out to train on every table but the target's")
        check_choice(w, "ranker", self.ranker, ("builtin", "llm", "random", "ridge"))
        if self.pool_source is not None:
            check_choice(w, "pool_source", self.pool_source, ("mixed", "random", "gpt"))
        if self.on_miss is not None:
            check_choice(w, "on_miss", self.on_miss, ("ask", "redraw"))
        check_choice(w, "fallback", self.fallback, ("builtin", "random"))
        check_choice(w, "prior", self.prior, ("auto", "tables", "synthetic", "both"))
        if self.prior == "synthetic" and self.sources:
            raise ConfigError("lmsearcher option prior synthetic trains on synthetic problems only: leave out "
                              "--rank-from (lmsearcher.source), or use prior both to add them to its sources")
        for opt in ("prescreen", "pool", "history", "initial", "retries", "subspaces", "epochs"):
            check_int(w, opt, getattr(self, opt), minimum=0 if opt == "retries" else 1)
        check_int(w, "seed", self.seed, minimum=0)
        check_probability(w, "local_share", self.local_share)
        check_probability(w, "relabel", self.relabel)
        if self.pool < 2:
            raise ConfigError(f"lmsearcher option pool must be at least 2, got {self.pool}")
        for opt in ("uniform", "shuffle_scores"):
            if not isinstance(getattr(self, opt), bool):
                raise ConfigError(f"lmsearcher option {opt} must be true or false")
        for opt in ("model", "pretrain", "synthetic"):
            if not isinstance(getattr(self, opt), dict):
                raise ConfigError(f"lmsearcher option {opt} must be a mapping, got {getattr(self, opt)!r:.60}")
        from .synthetic import SyntheticPrior
        SyntheticPrior.from_dict(self.synthetic)

    def resolved(self, preset: str = "default") -> "RankSettings":
        """A copy with every unset (None) option taken from ``preset`` (:data:`PRESET_VALUES`)."""
        d = asdict(self)
        for k, v in PRESET_VALUES[preset].items():
            if d[k] is None:
                d[k] = v
        return RankSettings(**d)

    def to_dict(self) -> dict:
        return asdict(self)
