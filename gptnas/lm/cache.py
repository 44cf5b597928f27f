"""On-disk cache of pre-trained GPTs: pre-train once per (space, model, corpus, training) setting, then load.

Layout: ``<cache_dir>/gpt/<key>/`` holding what :meth:`GPTProposer.save_pretrained` writes, where ``key`` is a
sha256 of the space's description, the model config, the corpus settings and the training settings (seed
included). Entries are written to a temporary directory beside the final one and moved into place with
``os.replace``, so a crash or a concurrent run never leaves a half-written entry behind.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..core.paths import default_cache_dir
from ..spaces.base import SearchSpace
from .corpus import ENUMERABLE, CorpusSettings, corpus_size, sample_architectures, space_size
from .model import GPTConfig
from .proposer import META_FILE, GPTProposer, space_fingerprint
from .train import TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainSettings:
    """Everything that determines a pre-trained GPT (and therefore its cache key)."""

    model: GPTConfig = field(default_factory=GPTConfig)
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    train: TrainSettings = field(default_factory=TrainSettings)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "corpus": self.corpus.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "PretrainSettings":
        """From plain data such as a run config: ``{"model": {...}, "corpus": {...}, "train": {...}}``."""
        d = d or {}
        unknown = set(d) - {"model", "corpus", "train"}
        if unknown:
            raise ValueError(f"unknown GPT settings sections: {sorted(unknown)}")
        return cls(GPTConfig.from_dict(d.get("model", {})), CorpusSettings(**d.get("corpus", {})),
                   TrainSettings.from_dict(d.get("train", {})))


def resolve(space: SearchSpace, settings: PretrainSettings) -> PretrainSettings:
    """``settings`` with the corpus size filled in where it follows the space (:func:`~.corpus.corpus_size`)."""
    if settings.corpus.n is not None:
        return settings
    n = corpus_size(getattr(space, "parent", space), None)
    return dataclasses.replace(settings, corpus=dataclasses.replace(settings.corpus, n=n))


def cache_key(space: SearchSpace, settings: PretrainSettings) -> str:
    """sha256 (first 20 hex digits) of the space description and all pre-training settings."""
    settings = resolve(space, settings)
    blob = json.dumps({"space": space.describe(), "fingerprint": space_fingerprint(space),
                       **settings.to_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def pretrained_proposer(space: SearchSpace, settings: PretrainSettings | dict | None = None,
                        cache_dir: str | os.PathLike | None = None, progress: bool = True) -> GPTProposer:
    """A GPT pre-trained on ``space`` with ``settings``: loaded from the cache, or trained and stored there.

    The returned proposer has ``loaded_from_cache`` set to whether it was a load.
    """
    if not isinstance(settings, PretrainSettings):
        settings = PretrainSettings.from_dict(settings)
    full = getattr(space, "parent", space)  # a sub-space shares its parent's model: train on the parent, then narrow
    if full is not space:
        return pretrained_proposer(full, settings, cache_dir, progress).rebind(space)
    auto = settings.corpus.n is None
    settings = resolve(space, settings)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / "gpt" / cache_key(space, settings)
    if (final / META_FILE).is_file():
        log.info("loading pre-trained GPT from %s", final)
        prop = GPTProposer.from_pretrained(final, space)
        prop.loaded_from_cache = True
        return prop

    log.info("pre-training GPT for space %r (cache miss: %s)", space.name, final)
    size = space_size(space)
    if auto and size is not None and size <= ENUMERABLE:
        log.info("space %r has %d architectures, few enough to enumerate: drawn uniformly, a pre-training corpus "
                 "teaches only their grammar, so it is %d draws (set gptnas.pretrain.corpus.n to change)",
                 space.name, size, settings.corpus.n)
    archs = sample_architectures(space, settings.corpus.n, settings.corpus.seed)
    prop = GPTProposer(space, config=settings.model, seed=settings.train.seed)
    prop.fit(archs, settings.train, progress=progress)
    def write(tmp: Path) -> None:
        prop.save_pretrained(tmp)
        (tmp / "settings.json").write_text(json.dumps({"space": space.describe(), **settings.to_dict()}, indent=1))

    store_entry(final, write, META_FILE)
    return prop


def store_entry(final: Path, write: Callable[[Path], None], marker: str) -> None:
    """Create cache directory ``final`` atomically: ``write`` fills a temporary sibling, which is renamed into
    place. An entry without its ``marker`` file is broken and replaced; one another process stored first is kept."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        write(tmp)
        if final.exists() and not (final / marker).is_file():
            shutil.rmtree(final, ignore_errors=True)  # a broken entry (e.g. copied by hand): replace it
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process stored the same entry first (its directory is non-empty): keep theirs.
            if not (final / marker).is_file():
                raise
            log.info("cache entry %s appeared concurrently; keeping it", final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def token_proposer(space: SearchSpace, pretrain: dict | None, cache_dir=None, progress: bool = True,
                   key: str = "pretrain"):
    """The pre-trained token GPT of ``space`` for a method's ``pretrain`` option (overrides of
    :class:`PretrainSettings`: ``{model: {...}, corpus: {...}, train: {...}}``), from the cache; a bad setting is a
    one-line :class:`~gptnas.errors.ConfigError` naming ``key``."""
    from ..errors import ConfigError
    try:
        settings = PretrainSettings.from_dict(pretrain or {})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad {key} settings: {e}") from None
    return pretrained_proposer(space, settings, cache_dir=cache_dir, progress=progress)
