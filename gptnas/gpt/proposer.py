"""GPTProposer: grammar-constrained sampling, scoring and reconstruction of architectures with a small GPT.

Every proposal is valid by construction: when decoding, the logits are masked to ``space.next_tokens(prefix)``,
the space's grammar, so the model can only emit a token the space allows there (and ``<end>`` only where an
architecture may stop).

Reconstruction (GPT-NAS's "eliminate some components and let the GPT regenerate them") has to honour the kept
components *after* a gap, which a left-to-right model never sees when it decodes the gap. We therefore score whole
candidates instead of decoding greedily:

1. candidates: if the grammar allows at most ``enumerate_limit`` (512) fillings of the eliminated positions, all of
   them are enumerated (NB201 with 2-3 gaps: 25-125); otherwise ``n_fallback`` left-to-right constrained samples
   are drawn for the gaps with every kept token forced in place, and the distinct ones are kept;
2. every complete candidate ``<bos> t1 .. tn <end>`` is scored by its full-sequence log-likelihood in one batched
   forward pass (all candidates of all individuals together);
3. one candidate is drawn from ``softmax(loglik / temperature)`` restricted to the ``top_k`` best.

Because the whole sequence is scored, a kept token after a gap contributes ``log p(kept | .., filling, ..)`` to
the score of each filling, so fillings that make the suffix likely win. With full enumeration and temperature 1
this is exact sampling from the model's conditional ``p(gaps | kept tokens)`` over valid architectures. The cost
is one batched forward of (#candidates, seq) tokens per call, independent of where the gaps are.

Positions are token positions (for :class:`~gptnas.spaces.CategoricalSequenceSpace` and NB201 they coincide
with genome positions). Reconstruction keeps the sequence length; variable-length spaces are supported by
:meth:`GPTProposer.sample`, which stops at ``<end>``.

Randomness: every method that samples takes a ``random.Random``; torch sampling uses a ``torch.Generator`` seeded
from it, so runs are reproducible and checkpointable through the python rng state alone.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from transformers import GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from ..errors import ConfigError
from ..spaces.base import END, SearchSpace
from . import train as _train
from .model import GPTConfig, build_model, sequence_logprobs, space_max_length
from .vocab import Vocab

log = logging.getLogger(__name__)

META_FILE = "gptnas.json"
FORMAT = 1
_MEMO_MAX = 200_000  # grammar look-ups remembered (bounded for large variable-length spaces)


class _TooMany(Exception):
    """Raised inside enumeration when the candidates exceed the limit."""


def space_fingerprint(space: SearchSpace) -> str:
    """Short sha256 of the space's description and vocabulary: weights only load into the space they fit."""
    blob = json.dumps({"describe": space.describe(), "vocabulary": list(space.vocabulary)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def torch_generator(rng: random.Random) -> torch.Generator:
    """A CPU torch generator seeded from ``rng`` (advances ``rng`` by one draw)."""
    return torch.Generator().manual_seed(rng.getrandbits(63))


class GPTProposer:
    """Proposes architectures of ``space`` with a GPT-2.

    Args:
        space: the search space (grammar and tokens).
        model: an existing ``GPT2LMHeadModel`` for this space's vocabulary; ``None`` builds a fresh one.
        config: model size (used when building; stored with the weights).
        seed: seed of the fresh model's initialisation.
        enumerate_limit: reconstruct enumerates all fillings up to this many, else samples.
        n_fallback: left-to-right samples per individual when enumeration is too large.
        score_batch: sequences per forward pass when scoring.
        device: torch device of the model.
    """

    def __init__(self, space: SearchSpace, model: Optional[GPT2LMHeadModel] = None, config: GPTConfig = GPTConfig(),
                 *, seed: int = 0, enumerate_limit: int = 512, n_fallback: int = 64, score_batch: int = 256,
                 device: str | torch.device = "cpu"):
        self.space = space
        self.vocab = Vocab.for_space(space)
        self.config = replace(config, max_length=config.max_length or space_max_length(space))
        if model is None:
            with _train.seeded(seed):
                model = build_model(self.config, self.vocab, self.config.max_length)
        elif model.config.vocab_size != len(self.vocab):
            raise ConfigError(f"model vocabulary has {model.config.vocab_size} tokens, space {space.name!r} "
                              f"needs {len(self.vocab)}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.enumerate_limit = enumerate_limit
        self.n_fallback = n_fallback
        self.score_batch = score_batch
        self.train_log: list[dict] = []  #: one record per fit/finetune call: kind, losses, seconds
        self.loaded_from_cache = False  #: set by :func:`gptnas.gpt.cache.pretrained_proposer`
        self._memo: dict[tuple, tuple[frozenset, torch.Tensor]] = {}

    # Training ---------------------------------------------------------------------------------------------------
    def fit(self, corpus_archs: Sequence[Sequence[int]], settings: _train.TrainSettings = _train.TrainSettings(),
            progress: bool = True) -> "GPTProposer":
        """Pre-train on a corpus of valid architectures (genomes); returns ``self``."""
        stats = _train.pretrain(self.model, self.vocab, [self.space.to_tokens(a) for a in corpus_archs],
                                settings, progress=progress)
        self.train_log.append({"kind": "pretrain", **stats})
        return self

    def finetune(self, archs: Sequence[Sequence[int]], epochs: Optional[int] = None, lr: Optional[float] = None,
                 rng: Optional[random.Random] = None, settings: _train.TrainSettings = _train.FINETUNE,
                 progress: bool = False) -> dict:
        """Fine-tune on known-good architectures (few epochs, lower lr: :data:`gptnas.gpt.train.FINETUNE`).

        ``rng``, if given, supplies the training seed so a search stays reproducible from its rng state.
        Returns the training stats (``losses`` per epoch, ``seconds``).
        """
        over = {}
        if epochs is not None:
            over["epochs"] = epochs
        if lr is not None:
            over["lr"] = lr
        if rng is not None:
            over["seed"] = rng.getrandbits(63)
        stats = _train.finetune(self.model, self.vocab, [self.space.to_tokens(a) for a in archs], settings,
                                progress=progress, **over)
        self.train_log.append({"kind": "finetune", "n": len(archs), **stats})
        return stats

    # Grammar ----------------------------------------------------------------------------------------------------
    def _allowed(self, prefix: tuple, end: bool = True) -> tuple[frozenset, torch.Tensor]:
        """Tokens the grammar allows after ``prefix`` and their mask, BoolTensor (vocab,); ``end=False`` drops END."""
        key = (prefix, end)
        hit = self._memo.get(key)
        if hit is None:
            toks = self.space.next_tokens(list(prefix))
            if not end:
                toks = [t for t in toks if t != END]
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            if toks:
                mask[self.vocab.ids(toks)] = True
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            hit = self._memo[key] = (frozenset(toks), mask)
        return hit

    # Sampling ---------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _generate(self, batch: int, gen: torch.Generator, temperature: float, top_k: Optional[int],
                  forced: Optional[Sequence[Sequence[Optional[str]]]] = None) -> list[Optional[list[str]]]:
        """Decode ``batch`` sequences left to right under the grammar, with a KV cache.

        Args:
            forced: ``None`` for free decoding up to ``<end>``; else one template per row, a token to keep or
                ``None`` for a gap; the row then has exactly the template's length.
        Returns:
            token lists (no specials); ``None`` for a row the grammar could not complete (a forced token the
            grammar forbids).
        """
        rows: list[list[str]] = [[] for _ in range(batch)]
        state = ["open"] * batch  # open / done / dead
        step_ids = torch.full((batch, 1), self.vocab.bos_id, dtype=torch.long)
        past = None
        limit = self.config.max_length
        for step in range(limit + 1):
            # Finished rows are fed <pad>; their outputs are ignored, the mask only keeps transformers quiet.
            attn = torch.ones((batch, step + 1), dtype=torch.long, device=self.device)
            out = self.model(input_ids=step_ids.to(self.device), attention_mask=attn, past_key_values=past,
                             use_cache=True)
            past = out.past_key_values
            logits = out.logits[:, -1].float().cpu()  # (batch, vocab)
            nxt = torch.full((batch,), self.vocab.pad_id, dtype=torch.long)
            sample_rows, masks = [], []
            for i in range(batch):
                if state[i] != "open":
                    continue
                prefix = tuple(rows[i])
                if forced is None:
                    toks, mask = self._allowed(prefix)
                    if step == limit:  # context full: only <end> may follow
                        state[i] = "done" if END in toks else "dead"
                        continue
                    sample_rows.append(i)
                    masks.append(mask)
                    continue
                tmpl = forced[i]
                if step == len(tmpl):
                    state[i] = "done" if END in self._allowed(prefix)[0] else "dead"
                elif tmpl[step] is not None:
                    if tmpl[step] in self._allowed(prefix)[0]:
                        rows[i].append(tmpl[step])
                        nxt[i] = self.vocab.index[tmpl[step]]
                    else:
                        state[i] = "dead"
                else:
                    toks, mask = self._allowed(prefix, end=False)
                    if toks:
                        sample_rows.append(i)
                        masks.append(mask)
                    else:
                        state[i] = "dead"
            if sample_rows:
                idx = torch.tensor(sample_rows)
                picked = _pick(logits[idx], torch.stack(masks), temperature, top_k, gen)
                for i, t in zip(sample_rows, picked.tolist()):
                    if t == self.vocab.end_id:
                        state[i] = "done"
                    else:
                        rows[i].append(self.vocab.tokens[t])
                        nxt[i] = t
            if all(s != "open" for s in state):
                break
            step_ids = nxt.unsqueeze(1)
        return [r if s == "done" else None for r, s in zip(rows, state)]

    def sample(self, n: int, rng: random.Random, temperature: float = 1.0,
               top_k: Optional[int] = None) -> list[list[int]]:
        """``n`` architectures sampled unconditionally under the grammar (one batched decode; may repeat).

        ``temperature`` scales the logits (0 = greedy); ``top_k`` keeps the k most likely allowed tokens per step.
        """
        if n <= 0:
            return []
        seqs = self._generate(n, torch_generator(rng), temperature, top_k)
        out = []
        for s in seqs:
            if s is None:  # only when the grammar cannot close within max_length
                raise RuntimeError(f"space {self.space.name!r}: grammar did not reach <end> within "
                                   f"max_length={self.config.max_length}")
            out.append(self.space.from_tokens(s))
        return out

    # Scoring ----------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def score_tokens(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        """Log-likelihood (nats) of each token list as ``<bos> t1 .. tn <end>``; float64 array (n,)."""
        out = np.empty(len(sequences), dtype=np.float64)
        for s in range(0, len(sequences), self.score_batch):
            ids, mask = self.vocab.batch(sequences[s:s + self.score_batch])
            lp = sequence_logprobs(self.model, ids.to(self.device), mask.to(self.device))
            out[s:s + len(ids)] = lp.sum(dim=1).double().cpu().numpy()
        return out

    def score(self, genomes: Sequence[Sequence[int]]) -> np.ndarray:
        """Sequence log-likelihoods (nats, batched) of genomes; float64 array (n,). Higher = more typical."""
        return self.score_tokens([self.space.to_tokens(g) for g in genomes])

    # Reconstruction ---------------------------------------------------------------------------------------------
    def _enumerate(self, tokens: Sequence[str], gaps: Sequence[int]) -> Optional[list[list[str]]]:
        """All grammar-valid fillings of ``gaps`` (same length), or ``None`` if more than ``enumerate_limit``."""
        gapset, n, limit = set(gaps), len(tokens), self.enumerate_limit
        # Cheap bound along the original path (exact for fixed-option spaces such as NB201).
        bound, prefix = 1, []
        for i, t in enumerate(tokens):
            if i in gapset:
                bound *= max(1, len(self._allowed(tuple(prefix), end=False)[0]))
                if bound > limit:
                    return None
            prefix.append(t)
        out: list[list[str]] = []
        budget = [limit * (n + 1) * 8]  # node visits, guards spaces whose bound above is loose

        def rec(prefix: list[str]) -> None:
            budget[0] -= 1
            if budget[0] < 0:
                raise _TooMany
            i = len(prefix)
            if i == n:
                if END in self._allowed(tuple(prefix))[0]:
                    out.append(list(prefix))
                    if len(out) > limit:
                        raise _TooMany
                return
            if i in gapset:
                for t in sorted(self._allowed(tuple(prefix), end=False)[0]):
                    rec(prefix + [t])
            elif tokens[i] in self._allowed(tuple(prefix))[0]:
                rec(prefix + [tokens[i]])

        try:
            rec([])
        except _TooMany:
            return None
        return out

    def reconstruct_tokens(self, sequences: Sequence[Sequence[str]], positions: Sequence[Sequence[int]],
                           rng: random.Random, temperature: float = 1.0, top_k: Optional[int] = None,
                           exclude_original: bool = False) -> list[Optional[list[str]]]:
        """Regenerate the tokens at ``positions[i]`` of ``sequences[i]`` given all the others (batched).

        ``sequences`` may be invalid outside the gaps' reach (crossover children); the result is valid or
        ``None`` when no filling of the gaps makes the sequence valid. With ``exclude_original`` the input
        filling is dropped from the candidates when another exists (mutation that always changes something).
        See the module docstring for the candidate/score/draw procedure.
        """
        n = len(sequences)
        if len(positions) != n:
            raise ValueError("one list of positions per sequence")
        cands: list[list[list[str]]] = [[] for _ in range(n)]
        need_sampling: list[int] = []
        for i, (toks, pos) in enumerate(zip(sequences, positions)):
            toks = list(toks)
            gaps = sorted(set(int(p) for p in pos))
            if any(p < 0 or p >= len(toks) for p in gaps):
                raise IndexError(f"positions {gaps} out of range for a sequence of {len(toks)} tokens")
            if not gaps:
                cands[i] = [toks] if self._is_valid_tokens(toks) else []
                continue
            found = self._enumerate(toks, gaps)
            if found is None:
                need_sampling.append(i)
            else:
                cands[i] = found
        if need_sampling:
            tmpl, owner = [], []
            for i in need_sampling:
                gaps = set(int(p) for p in positions[i])
                t = [None if j in gaps else tok for j, tok in enumerate(sequences[i])]
                tmpl += [t] * self.n_fallback
                owner += [i] * self.n_fallback
            # Proposals at temperature 1 so the candidate set follows the model; the caller's temperature and
            # top_k apply to the final pick below, as for enumerated candidates.
            drawn = self._generate(len(tmpl), torch_generator(rng), 1.0, None, forced=tmpl)
            seen: dict[int, set] = {i: set() for i in need_sampling}
            for i, s in zip(owner, drawn):
                if s is not None and tuple(s) not in seen[i]:
                    seen[i].add(tuple(s))
                    cands[i].append(s)
        if exclude_original:
            for i in range(n):
                orig = list(sequences[i])
                if len(cands[i]) > 1 and orig in cands[i]:
                    cands[i] = [c for c in cands[i] if c != orig]
        # One batched forward for every candidate of every sequence that has a choice to make.
        flat = [c for cs in cands if len(cs) > 1 for c in cs]
        scores = self.score_tokens(flat) if flat else np.empty(0)
        out: list[Optional[list[str]]] = []
        k = 0
        for cs in cands:
            if not cs:
                out.append(None)
            elif len(cs) == 1:
                out.append(list(cs[0]))
            else:
                out.append(list(cs[_choose(scores[k:k + len(cs)], rng, temperature, top_k)]))
                k += len(cs)
        return out

    def reconstruct_many(self, genomes: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
                         rng: random.Random, temperature: float = 1.0, top_k: Optional[int] = None,
                         exclude_original: bool = False) -> list[list[int]]:
        """:meth:`reconstruct` for many genomes in one batched pass; a genome that cannot be refilled is kept."""
        toks = [self.space.to_tokens(g) for g in genomes]
        res = self.reconstruct_tokens(toks, positions, rng, temperature, top_k, exclude_original)
        return [self.space.from_tokens(r) if r is not None else list(g) for r, g in zip(res, genomes)]

    def reconstruct(self, genome: Sequence[int], positions: Sequence[int], rng: random.Random,
                    temperature: float = 1.0, top_k: Optional[int] = None, exclude_original: bool = False) -> list[int]:
        """Regenerate the tokens at ``positions`` of ``genome`` given all the others; every other token is kept.

        Returns a new genome (the input is not modified).
        """
        return self.reconstruct_many([genome], [positions], rng, temperature, top_k, exclude_original)[0]

    def _is_valid_tokens(self, tokens: Sequence[str]) -> bool:
        prefix: list[str] = []
        for t in tokens:
            if t not in self._allowed(tuple(prefix))[0]:
                return False
            prefix.append(t)
        return END in self._allowed(tuple(prefix))[0]

    # Persistence ------------------------------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {"format": FORMAT, "vocab": self.vocab.tokens, "config": self.config.to_dict(),
                "space": self.space.describe(), "fingerprint": space_fingerprint(self.space)}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Save the model with transformers' ``save_pretrained`` plus ``gptnas.json`` (vocab, config, space)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        with _quiet_transformers():
            self.model.save_pretrained(d)
        meta = self._meta()
        meta["train_log"] = [{k: v for k, v in r.items()} for r in self.train_log]
        (d / META_FILE).write_text(json.dumps(meta, indent=1, default=str))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, space: SearchSpace, **kwargs) -> "GPTProposer":
        """Load what :meth:`save_pretrained` wrote; refuses weights trained for a different space."""
        d = Path(directory)
        try:
            meta = json.loads((d / META_FILE).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{d} holds no gptnas GPT ({META_FILE} missing)") from None
        _check_meta(meta, space, str(d))
        with _quiet_transformers():
            model = GPT2LMHeadModel.from_pretrained(d, local_files_only=True)
        prop = cls(space, model=model, config=GPTConfig.from_dict(meta["config"]), **kwargs)
        prop.train_log = list(meta.get("train_log", []))
        return prop

    def state_dict(self) -> dict:
        """Weights plus metadata, plain tensors and data (picklable) for search checkpoints."""
        meta = self._meta()
        meta["weights"] = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return meta

    def load_state_dict(self, state: dict) -> None:
        """Restore weights saved by :meth:`state_dict` (same space and config required)."""
        _check_meta(state, self.space, "checkpoint")
        if GPTConfig.from_dict(state["config"]) != self.config:
            raise ConfigError(f"checkpoint GPT config {state['config']} differs from {self.config.to_dict()}")
        self.model.load_state_dict(state["weights"])
        self.model.eval()


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' per-save progress bar (a one-file model needs none), restoring the caller's setting."""
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _check_meta(meta: dict, space: SearchSpace, where: str) -> None:
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{where}: unsupported GPT format {meta.get('format')!r} (expected {FORMAT})")
    if meta.get("fingerprint") != space_fingerprint(space) or meta.get("vocab") != Vocab.for_space(space).tokens:
        raise ConfigError(f"{where}: GPT was trained for space {meta.get('space', {}).get('name')!r} "
                          f"with a different description than space {space.name!r}; retrain it")


def _pick(logits: torch.Tensor, mask: torch.Tensor, temperature: float, top_k: Optional[int],
          gen: torch.Generator) -> torch.Tensor:
    """Draw one token per row from ``logits`` restricted to ``mask``.

    Args:
        logits: FloatTensor (rows, vocab); mask: BoolTensor (rows, vocab), at least one True per row.
    Returns:
        LongTensor (rows,) of token ids.
    """
    logits = logits.masked_fill(~mask, float("-inf"))
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k > 0 and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


def _choose(loglik: np.ndarray, rng: random.Random, temperature: float, top_k: Optional[int]) -> int:
    """Index drawn from ``softmax(loglik / temperature)`` over the ``top_k`` best (0 temperature = argmax)."""
    order = np.argsort(-loglik, kind="stable")
    if temperature <= 0:
        return int(order[0])
    if top_k is not None and top_k > 0:
        order = order[:top_k]
    z = loglik[order] / temperature
    w = np.exp(z - z.max())
    u = rng.random() * float(w.sum())
    acc = 0.0
    for j, wj in zip(order, w):
        acc += float(wj)
        if u < acc:
            return int(j)
    return int(order[-1])
