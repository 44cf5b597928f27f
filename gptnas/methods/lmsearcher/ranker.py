"""The built-in ranker: a small transformer that, shown the search so far and a pool of unseen candidates, each as
NCode digits, scores which candidate is best (LM-Searcher's task, Hu et al., EMNLP 2025, on a CPU).

Input, one token per architecture: the history's best ``max_history`` entries and the pool's candidates. A token's
embedding is the sum of one learned vector per (digit position, digit value) of its NCode — so the model reads
*digits and positions*, never option names, and applies to a space it was not trained on, **assuming digit =
option index** at each position (what :meth:`~gptnas.spaces.CategoricalSequenceSpace.ncode` writes; codes longer
than ``max_positions`` digits are cut) — plus, for history entries, a projection of the min–max normalised score
and its rank, and for candidates a learned "candidate" type. A ``transformers`` BERT encoder without position
embeddings (the entries are a set) mixes them; a linear head gives each candidate a logit. Training is listwise:
cross-entropy of the softmax over the pool against the pool's true best (LM-Searcher's target), on trajectories of
source tasks (:mod:`gptnas.methods.lmsearcher.trajectories`). Trained once per (sources, settings) and cached like
the GPT, with a progress bar.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ...core.paths import default_cache_dir
from ...core.rng import seeded

log = logging.getLogger(__name__)
META_FILE = "ranker.json"
FORMAT = 1


@dataclass(frozen=True)
class RankerConfig:
    """Size of the ranker. ``max_history``: history entries it reads (the best ones)."""

    max_positions: int = 32
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    max_history: int = 32
    evidence: bool = False  # candidates also carry what the whole history says of them (:func:`evidence`)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.evidence:  # absent when off, so rankers trained before the option keep their cache key
            del d["evidence"]
        return d


@dataclass(frozen=True)
class RankerTraining:
    """How the ranker is trained (epochs over the samples, AdamW)."""

    epochs: int = 6
    lr: float = 2e-3
    batch_size: int = 128
    weight_decay: float = 0.01
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class RankerNet(nn.Module):
    """``forward(digits (B, N, P) long, -1 = none; feats (B, N, 2 + EVIDENCE); is_pool (B, N) long; mask (B, N))``
    → logits (B, N) (meaningful at pool entries)."""

    def __init__(self, cfg: RankerConfig):
        super().__init__()
        from transformers import BertConfig, BertModel
        self.cfg = cfg
        self.digit = nn.Embedding(cfg.max_positions * 10 + 1, cfg.hidden, padding_idx=cfg.max_positions * 10)
        self.score = nn.Linear(2, cfg.hidden)
        self.evidence = nn.Linear(EVIDENCE, cfg.hidden) if cfg.evidence else None
        bert = BertConfig(vocab_size=1, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                          num_attention_heads=cfg.heads, intermediate_size=2 * cfg.hidden, max_position_embeddings=1,
                          type_vocab_size=2, hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout)
        self.encoder = BertModel(bert, add_pooling_layer=False)
        self.head = nn.Linear(cfg.hidden, 1)

    def forward(self, digits, feats, is_pool, mask):
        P = self.cfg.max_positions
        pos = torch.arange(digits.shape[-1], device=digits.device)
        idx = torch.where(digits >= 0, pos * 10 + digits.clamp(min=0), torch.full_like(digits, P * 10))
        x = self.digit(idx).sum(2) + self.score(feats[..., :2]) * (1 - is_pool).unsqueeze(-1)
        if self.evidence is not None:
            x = x + self.evidence(feats[..., 2:]) * is_pool.unsqueeze(-1)
        h = self.encoder(inputs_embeds=x, attention_mask=mask, token_type_ids=is_pool,
                         position_ids=torch.zeros_like(is_pool)).last_hidden_state
        return self.head(h).squeeze(-1)


#: Features per candidate from :func:`evidence`.
EVIDENCE = 8


def _one_hot(codes: Sequence[str], P: int) -> np.ndarray:
    """(len(codes), P * 10) indicators of (digit position, digit value), the first ``P`` digits."""
    x = np.zeros((len(codes), P * 10))
    for i, c in enumerate(codes):
        for j, ch in enumerate(c[:P]):
            x[i, j * 10 + int(ch)] = 1.0
    return x


def evidence(codes: Sequence[str], scores: Sequence[float], pool: Sequence[str], P: int = 32,
             ridge: float = 1.0) -> np.ndarray:
    """What the whole history says of each candidate, in terms that mean the same in any space: (len(pool), 8)
    float32 — two ridge regressions' predictions from (digit position, value) indicators fitted on the history, one
    of the min–max normalised scores and one of their ranks (0 worst, 1 best: a few dead architectures compress
    the first's scale, not the second's), each raw and standardised over the pool; the Hamming distance to the
    history's best and to the nearest of its best five (shares of the digits); the share of its (position, value)
    pairs the history never tried; and log(1 + history size) / 5. The ranker learns how far to trust each from the
    problems it trains on: one trained on synthetic problems has no prior over digits to learn, and needs them to
    read a history in a few epochs."""
    out = np.zeros((len(pool), EVIDENCE), dtype=np.float32)
    if not pool:
        return out
    n = len(codes)
    out[:, 7] = math.log1p(n) / 5
    if n == 0:
        out[:, 4:7] = 1.0
        return out
    s = np.asarray(scores, dtype=float)
    lo, hi = s.min(), s.max()
    minmax = (s - lo) / (hi - lo) if hi > lo else np.ones(n)
    order = np.argsort(s, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n) / max(1, n - 1)
    xh, xc = _one_hot(codes, P), _one_hot(pool, P)
    inv = np.linalg.inv(xh @ xh.T + ridge * np.eye(n))  # the dual form: n is small, P * 10 is not
    cross = xc @ xh.T
    for k, y in enumerate((minmax, ranks)):
        pred = cross @ (inv @ (y - y.mean())) + y.mean()
        out[:, 2 * k] = pred
        out[:, 2 * k + 1] = np.clip((pred - pred.mean()) / (pred.std() + 1e-6), -3, 3)
    length = max(1.0, xc.sum(1).max())
    top = order[::-1][:5]
    dist = length - cross[:, top]  # (pool, 5) digits differing from each of the best five
    out[:, 4] = dist[:, 0] / length
    out[:, 5] = dist.min(1) / length
    out[:, 6] = (xc * (1 - xh.max(0))).sum(1) / length
    return out


def encode(codes: Sequence[str], scores: Sequence[float], pool: Sequence[str], cfg: RankerConfig):
    """One example's tensors: (digits (N, P), feats (N, 2 + EVIDENCE), is_pool (N,)) with the history's best first;
    the evidence columns are zero unless ``cfg.evidence``."""
    order = sorted(range(len(codes)), key=lambda i: -scores[i])[:cfg.max_history]
    hist = [codes[i] for i in order]
    s = np.array([scores[i] for i in order], dtype=float)
    lo, hi = (s.min(), s.max()) if len(s) else (0.0, 1.0)
    norm = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
    rank = 1 - np.arange(len(s)) / max(1, len(s) - 1) if len(s) > 1 else np.ones_like(s)
    entries = hist + list(pool)
    P = cfg.max_positions
    digits = np.full((len(entries), P), -1, dtype=np.int64)
    for i, c in enumerate(entries):
        d = [int(ch) for ch in c[:P]]
        digits[i, :len(d)] = d
    feats = np.zeros((len(entries), 2 + EVIDENCE), dtype=np.float32)
    feats[:len(hist), 0], feats[:len(hist), 1] = norm, rank
    if cfg.evidence:
        feats[len(hist):, 2:] = evidence(codes, scores, pool, P)
    is_pool = np.r_[np.zeros(len(hist), dtype=np.int64), np.ones(len(pool), dtype=np.int64)]
    return digits, feats, is_pool


def batch(examples):
    """Pad a list of :func:`encode` results → (digits, feats, is_pool, mask) tensors."""
    n = max(len(e[2]) for e in examples)
    P = examples[0][0].shape[1]
    B = len(examples)
    digits = torch.full((B, n, P), -1, dtype=torch.long)
    feats = torch.zeros((B, n, examples[0][1].shape[1]))
    is_pool = torch.zeros((B, n), dtype=torch.long)
    mask = torch.zeros((B, n), dtype=torch.long)
    for b, (d, f, p) in enumerate(examples):
        k = len(p)
        digits[b, :k], feats[b, :k], is_pool[b, :k], mask[b, :k] = torch.from_numpy(d), torch.from_numpy(f), \
            torch.from_numpy(p), 1
    return digits, feats, is_pool, mask


class BuiltinRanker:
    """``scores(codes, scores, pool) -> logits`` and ``choose(...) -> index`` with the trained :class:`RankerNet`."""

    name = "builtin"

    def __init__(self, cfg: RankerConfig = RankerConfig(), seed: int = 0):
        self.cfg = cfg
        with seeded(seed):
            self.net = RankerNet(cfg).eval()
        self.train_log: list[dict] = []
        self.key: Optional[str] = None

    @torch.inference_mode()
    def scores(self, codes: Sequence[str], scores: Sequence[float], pool: Sequence[str]) -> np.ndarray:
        """One logit per candidate of ``pool`` (float64 (len(pool),)); higher: expected better."""
        if not pool:
            return np.zeros(0)
        d, f, p, m = batch([encode(codes, scores, pool, self.cfg)])
        out = self.net(d, f, p, m)[0]
        return out[p[0] == 1].double().numpy()

    def choose(self, codes, scores, pool) -> int:
        return int(np.argmax(self.scores(codes, scores, pool)))

    def fit(self, samples, settings: RankerTraining = RankerTraining(), progress: bool = True) -> dict:
        """Train on samples with ``codes, scores, pool, best`` (see the trajectories module); returns the stats."""
        examples = [encode(s.codes, s.scores, s.pool, self.cfg) for s in samples]
        targets = [s.best for s in samples]
        n = len(examples)
        steps = math.ceil(n / settings.batch_size)
        opt = torch.optim.AdamW(self.net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        total = steps * settings.epochs
        # one-cycle needs a step of warm-up (10 % of them); a handful of steps trains at the constant rate
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=total, pct_start=0.1) \
            if total >= 20 else torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
        losses, t0 = [], time.perf_counter()
        self.net.train()
        try:
            with seeded(settings.seed), tqdm(total=steps * settings.epochs, desc="ranker", disable=not progress,
                                             leave=False) as bar:
                gen = torch.Generator().manual_seed(settings.seed)
                for epoch in range(settings.epochs):
                    perm = torch.randperm(n, generator=gen).tolist()
                    tot = 0.0
                    for s in range(steps):
                        idx = perm[s * settings.batch_size:(s + 1) * settings.batch_size]
                        d, f, p, m = batch([examples[i] for i in idx])
                        logits = self.net(d, f, p, m).masked_fill(p == 0, float("-inf"))
                        # a candidate's place in its row: after the row's history entries
                        target = torch.tensor([int((examples[i][2] == 0).sum()) + targets[i] for i in idx])
                        loss = nn.functional.cross_entropy(logits, target)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                        opt.step()
                        sched.step()
                        tot += loss.item() * len(idx)
                        bar.update(1)
                    losses.append(tot / n)
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
        finally:
            self.net.eval()
        stats = {"samples": n, "epochs": settings.epochs, "losses": losses, "seconds": time.perf_counter() - t0,
                 "chance_loss": float(np.mean([math.log(len(s.pool)) for s in samples]))}
        self.train_log.append(stats)
        log.info("ranker: %d samples, %d epochs, loss %.3f (chance %.3f), %.1f s", n, settings.epochs, losses[-1],
                 stats["chance_loss"], stats["seconds"])
        return stats

    # Persistence ---------------------------------------------------------------------------------------------------
    def save(self, directory) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), d / "ranker.pt")
        (d / META_FILE).write_text(json.dumps({"format": FORMAT, "config": self.cfg.to_dict(), "key": self.key,
                                               "train_log": self.train_log}, indent=1))

    @classmethod
    def load(cls, directory) -> "BuiltinRanker":
        d = Path(directory)
        meta = json.loads((d / META_FILE).read_text())
        r = cls(RankerConfig(**meta["config"]))
        r.net.load_state_dict(torch.load(d / "ranker.pt", weights_only=True))
        r.net.eval()
        r.key, r.train_log = meta.get("key"), meta.get("train_log", [])
        return r


def ranker_key(description: dict) -> str:
    blob = json.dumps({"format": FORMAT, **description}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cached_ranker(description: dict, build, cache_dir=None) -> BuiltinRanker:
    """The ranker ``description`` names, from ``<cache>/ranker/<key>/``, or ``build()`` it and store it there."""
    from ...lm.cache import store_entry
    key = ranker_key(description)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / "ranker" / key
    if (final / META_FILE).is_file():
        log.info("loading the ranker from %s", final)
        try:
            r = BuiltinRanker.load(final)
            r.loaded_from_cache = True
            return r
        except Exception as e:  # a torn or hand-edited entry (JSON, torch or shape errors): rebuild it
            log.warning("the cached ranker in %s could not be read (%s: %.80s): rebuilding it", final,
                        type(e).__name__, e)
            shutil.rmtree(final, ignore_errors=True)
    log.info("training the ranker (cache miss: %s)", final)
    r = build()
    r.key = key

    def write(tmp: Path) -> None:
        r.save(tmp)
        (tmp / "description.json").write_text(json.dumps(description, indent=1, default=str))

    store_entry(final, write, META_FILE)
    r.loaded_from_cache = False
    return r


__all__ = ["BuiltinRanker", "RankerConfig", "RankerTraining", "cached_ranker", "encode", "ranker_key"]
