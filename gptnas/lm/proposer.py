"""GPTProposer: grammar-constrained sampling, scoring and reconstruction of architectures with a small GPT.

The pieces live beside it: :mod:`.grammar` (allowed-token masks), :mod:`.decoding` (constrained sampling with a
KV cache), :mod:`.fill` (enumerating gap fillings, drawing one by likelihood), :mod:`.persist` (save / load).

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

import logging
import random
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np
import torch
from transformers import GPT2LMHeadModel

from ..errors import ConfigError
from ..spaces.base import SearchSpace, require_grammar
from . import train as _train
from .decoding import generate, torch_generator
from .fill import choose, enumerate_fillings
from .grammar import Grammar
from .model import GPTConfig, build_model, sequence_logprobs, space_max_length
from .persist import load_hf_model, read_meta, save_model, space_fingerprint, tensors
from .vocab import Vocab

log = logging.getLogger(__name__)

META_FILE = "gptnas.json"
FORMAT = 1
#: Decoding rounds :meth:`GPTProposer.sample` makes in a space whose ``is_valid`` rejects some of what the grammar
#: allows, before it draws the rest with ``space.sample``.
SAMPLE_ROUNDS = 20

__all__ = ["GPTProposer", "META_FILE", "space_fingerprint", "torch_generator"]


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
        require_grammar(space, "the GPT proposer")
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
        self.loaded_from_cache = False  #: set by :func:`gptnas.lm.cache.pretrained_proposer`
        self.grammar = Grammar(space, self.vocab)

    def rebind(self, space) -> "GPTProposer":
        """Propose in ``space`` from now on: a space with the same vocabulary and description (a sub-space of the
        one it was trained for), whose grammar then masks the decoding. Returns ``self``."""
        if space_fingerprint(space) != space_fingerprint(self.space):
            raise ConfigError(f"space {space.name!r} is not the one this GPT was trained for")
        self.space, self.grammar = space, Grammar(space, self.vocab)
        return self

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
        """Fine-tune on known-good architectures (few epochs, lower lr: :data:`gptnas.lm.train.FINETUNE`).

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

    # Sampling ---------------------------------------------------------------------------------------------------
    def _generate(self, batch: int, gen: torch.Generator, temperature: float, top_k: Optional[int],
                  forced=None) -> list[Optional[list[str]]]:
        return generate(self.model, self.vocab, self.grammar, self.config.max_length, batch, gen, temperature,
                        top_k, forced, self.device)

    def sample(self, n: int, rng: random.Random, temperature: float = 1.0,
               top_k: Optional[int] = None) -> list[list[int]]:
        """``n`` architectures sampled unconditionally under the grammar (one batched decode; may repeat).

        ``temperature`` scales the logits (0 = greedy); ``top_k`` keeps the k most likely allowed tokens per step.
        """
        if n <= 0:
            return []
        gen = torch_generator(rng)
        out: list[list[int]] = []
        for _ in range(SAMPLE_ROUNDS):  # one round, unless the space has rules beyond its grammar
            for s in self._generate(n - len(out), gen, temperature, top_k):
                if s is None:  # only when the grammar cannot close within max_length
                    raise RuntimeError(f"space {self.space.name!r}: grammar did not reach <end> within "
                                       f"max_length={self.config.max_length}")
                if self.grammar.is_member(s):
                    out.append(self.space.from_tokens(s))
            if len(out) == n:
                return out
        log.warning("the GPT decoded %d members of space %r in %d rounds of the %d asked for (its rules reject most "
                    "of what the grammar allows): the rest are drawn by space.sample", len(out), self.space.name,
                    SAMPLE_ROUNDS, n)
        return out + [self.space.sample(rng) for _ in range(n - len(out))]

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
                cands[i] = [toks] if self.grammar.is_valid(toks) else []
                continue
            found = enumerate_fillings(self.grammar, toks, gaps, self.enumerate_limit)
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
                if s is not None and tuple(s) not in seen[i] and self.grammar.is_member(s):
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
                out.append(list(cs[choose(scores[k:k + len(cs)], rng, temperature, top_k)]))
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

    # Persistence ------------------------------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {"format": FORMAT, "vocab": self.vocab.tokens, "config": self.config.to_dict(),
                "space": self.space.describe(), "fingerprint": space_fingerprint(self.space)}

    def save_pretrained(self, directory) -> None:
        """Save the model with transformers' ``save_pretrained`` plus ``gptnas.json`` (vocab, config, space)."""
        save_model(self.model, directory, {**self._meta(), "train_log": list(self.train_log)}, META_FILE)

    @classmethod
    def from_pretrained(cls, directory, space: SearchSpace, **kwargs) -> "GPTProposer":
        """Load what :meth:`save_pretrained` wrote; refuses weights trained for a different space."""
        meta = read_meta(directory, META_FILE, "gptnas GPT")
        _check_meta(meta, space, str(directory))
        prop = cls(space, model=load_hf_model(directory), config=GPTConfig.from_dict(meta["config"]), **kwargs)
        prop.train_log = list(meta.get("train_log", []))
        return prop

    def state_dict(self) -> dict:
        """Weights plus metadata, plain tensors and data (picklable) for search checkpoints."""
        return {**self._meta(), "weights": tensors(self.model)}

    def load_state_dict(self, state: dict) -> None:
        """Restore weights saved by :meth:`state_dict` (same space and config required)."""
        _check_meta(state, self.space, "checkpoint")
        if GPTConfig.from_dict(state["config"]) != self.config:
            raise ConfigError(f"checkpoint GPT config {state['config']} differs from {self.config.to_dict()}")
        self.model.load_state_dict(state["weights"])
        self.model.eval()


def _check_meta(meta: dict, space: SearchSpace, where: str) -> None:
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{where}: unsupported GPT format {meta.get('format')!r} (expected {FORMAT})")
    if meta.get("fingerprint") != space_fingerprint(space) or meta.get("vocab") != Vocab.for_space(space).tokens:
        raise ConfigError(f"{where}: GPT was trained for space {meta.get('space', {}).get('name')!r} "
                          f"with a different description than space {space.name!r}; retrain it")
