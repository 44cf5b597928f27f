"""GPT-NAS's own proposer for the block-chain space: a layer-level GPT plus a block classifier.

The GPT (GPT-1 style decoder: ``transformers`` GPT-2 class, 4 layers, 4 heads) reads layer tokens
(:meth:`gptnas.encodings.layers.Layer.token`) and predicts the next layer from the ``window`` (10) before it. It is
pre-trained on NAS-Bench-101 networks (:func:`gptnas.spaces.nb101.nb101_corpus`) and fine-tuned on the 36
hand-designed networks of :mod:`gptnas.methods.gptnas.finetune_corpus`. To fill an eliminated block, the GPT predicts the next
layer from every layer before the gap, and the :class:`~gptnas.methods.gptnas.block_classifier.BlockClassifier` maps
(preceding layers, predicted layer) to a block type. Gaps are filled left to right, so a later gap sees the
earlier fillings. Blocks after a gap are kept as they are; the paper's GPT is left-to-right and so is this one.

The public methods mirror :class:`gptnas.lm.proposer.GPTProposer` (``reconstruct_many``, ``sample``,
``finetune``, ``state_dict``), so the same DEAP operators and method drive either.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from pathlib import Path
from typing import Optional, Sequence

import torch

from ...core.paths import default_cache_dir
from ...core.rng import seeded
from ...errors import ConfigError
from ...lm import train as _train
from ...lm.cache import store_entry
from ...lm.decoding import torch_generator
from ...lm.model import GPTConfig, build_model
from ...lm.persist import load_hf_model, save_model, tensors
from ...lm.vocab import Vocab
from ...spaces.base import grammar_is_exact
from ...spaces.macro import BLOCK_TYPES, MacroSpace
from .options import LayerGPTSettings
from .block_classifier import BlockClassifier, fit_classifier, left_pad, sample_index

log = logging.getLogger(__name__)
UNK = "<unk>"
HEAD = ["pool_AVG_global", "fc"]  # the chain network's fixed head, as layer tokens
META_FILE = "gptnas_layer.json"


def chain_tokens(space: MacroSpace, arch: Sequence[int], input_shape) -> list[str]:
    """All layer tokens of a chain's network: stem, blocks, head."""
    return [t for part in space.block_layers(arch, input_shape) for t in part] + HEAD


class LayerGPTProposer:
    """Args: space (the block-chain space), input_shape ``(C, H, W)`` the networks are built for, tokens (the
    layer vocabulary), settings. A fresh proposer is untrained: see :func:`pretrained_layer_proposer`."""

    def __init__(self, space: MacroSpace, input_shape: tuple[int, int, int], tokens: Sequence[str],
                 settings: LayerGPTSettings = LayerGPTSettings()):
        self.space, self.input_shape, self.settings = space, tuple(input_shape), settings
        self.vocab = Vocab(sorted(set(tokens) - {UNK}) + [UNK])
        self.unk_id = self.vocab.index[UNK]
        s = settings
        self.config = GPTConfig(n_embd=s.n_embd, n_layer=s.n_layer, n_head=s.n_head, dropout=s.dropout,
                                max_length=s.window - 1)
        with seeded(s.seed):
            self.model = build_model(self.config, self.vocab, s.window - 1)
            self.classifier = BlockClassifier(len(self.vocab), s.window, len(BLOCK_TYPES)).eval()
        self.train_log: list[dict] = []
        self.loaded_from_cache = False
        # Sampling never proposes these as a layer.
        self._banned = torch.tensor([self.vocab.pad_id, self.vocab.bos_id, self.vocab.end_id, self.unk_id])

    # Tokens ----------------------------------------------------------------------------------------------------
    def ids(self, tokens: Sequence[str]) -> list[int]:
        return [self.vocab.index.get(t, self.unk_id) for t in tokens]

    def _windows(self, sequences: Sequence[Sequence[str]], stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``<bos> t.. <end>`` of each sequence cut into rows of ``window + 1`` ids (the model's context)."""
        w = self.settings.window + 1
        rows = []
        for seq in sequences:
            ids = [self.vocab.bos_id] + self.ids(seq) + [self.vocab.end_id]
            starts = list(range(0, max(1, len(ids) - w + 1), stride))
            if starts[-1] + w < len(ids):
                starts.append(len(ids) - w)
            rows += [ids[s:s + w] for s in starts]
        ids = torch.full((len(rows), w), self.vocab.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        return ids, mask

    # Training ----------------------------------------------------------------------------------------------------
    def train_gpt(self, sequences: Sequence[Sequence[str]], epochs: int, lr: float, stride: int = 1,
                  seed: int = 0, kind: str = "train", progress: bool = True, batch_size: Optional[int] = None) -> dict:
        """Next-layer training on layer-token sequences (windows of ``window + 1``); returns the stats."""
        ids, mask = self._windows(sequences, stride)
        st = _train.TrainSettings(epochs=epochs, lr=lr, batch_size=batch_size or self.settings.batch_size, seed=seed,
                                  warmup_steps=10)
        stats = _train.train_ids(self.model, ids, mask, st, progress=progress, desc=f"layer gpt {kind}")
        self.train_log.append({"kind": kind, "rows": int(ids.shape[0]), **stats})
        return stats

    def train_classifier(self, n_chains: int, epochs: int, seed: int = 0) -> list[float]:
        """Fit the block classifier on ``n_chains`` chains sampled from the space (seeded)."""
        rng = random.Random(seed)
        ctx, pred, lab = [], [], []
        for _ in range(n_chains):
            arch = self.space.sample(rng)
            parts = self.space.block_layers(arch, self.input_shape)
            before = [self.vocab.bos_id] + self.ids(parts[0])
            for kind, layers in zip(arch, parts[1:]):
                ctx.append(before[-self.settings.window:])
                pred.append(self.ids(layers[:1])[0])
                lab.append(kind)
                before += self.ids(layers)
        context = left_pad(ctx, self.settings.window, self.vocab.pad_id)
        losses = fit_classifier(self.classifier, context, torch.tensor(pred), torch.tensor(lab),
                                epochs=epochs, seed=seed)
        self.train_log.append({"kind": "classifier", "rows": len(lab), "losses": losses})
        return losses

    def finetune(self, archs: Sequence[Sequence[int]], epochs: Optional[int] = None, lr: Optional[float] = None,
                 rng: Optional[random.Random] = None, progress: bool = False) -> dict:
        """Fine-tune the GPT on the layer sequences of good chains (transfer or online elites)."""
        seqs = [chain_tokens(self.space, a, self.input_shape) for a in archs]
        seed = rng.getrandbits(63) if rng is not None else 0
        return self.train_gpt(seqs, epochs or 5, lr or self.settings.lr / 2, stride=self.settings.finetune_stride,
                              seed=seed, kind="finetune",
                              progress=progress, batch_size=32)

    # Proposing ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def next_layer_logits(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """contexts: id lists (each its last ``window`` ids are used). Returns FloatTensor (B, vocab)."""
        w = self.settings.window
        ids = left_pad(contexts, w, self.vocab.pad_id)
        mask = (ids != self.vocab.pad_id).long()
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        return self.model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1].float()

    def _context(self, arch: Sequence[int], position: int) -> list[int]:
        parts = self.space.block_layers(arch, self.input_shape)
        before = [t for part in parts[:position + 1] for t in part]  # stem + blocks before the gap
        return [self.vocab.bos_id] + self.ids(before)

    @torch.no_grad()
    def fill(self, archs: Sequence[Sequence[int]], positions: Sequence[int], rng: random.Random,
             temperature: float = 1.0, top_k: Optional[int] = None, exclude: Sequence[Optional[int]] = ()) -> list[int]:
        """One block type for gap ``positions[i]`` of each ``archs[i]`` (batched): the GPT samples the next layer,
        the classifier maps it (with the context) to a block type, sampled at ``temperature``; ``exclude[i]``
        (e.g. the eliminated block's own type) is never chosen."""
        contexts = [self._context(a, p) for a, p in zip(archs, positions)]
        logits = self.next_layer_logits(contexts)
        logits[:, self._banned] = float("-inf")
        logits = logits / max(temperature, 1e-6)
        if top_k:
            kth = logits.topk(min(top_k, logits.shape[1]), dim=1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        predicted = torch.multinomial(torch.softmax(logits, 1), 1, generator=torch_generator(rng))[:, 0]
        ctx = left_pad(contexts, self.settings.window, self.vocab.pad_id)
        probs = torch.softmax(self.classifier(ctx, predicted) / max(temperature, 1e-6), 1).double()
        allowed = getattr(self.space, "allowed_types", None)  # a sub-space of design principles
        out = []
        for i in range(len(archs)):
            p = probs[i].tolist()
            ex = exclude[i] if i < len(exclude) else None
            if ex is not None and (allowed is None or len(allowed) > 1):
                p[ex] = 0.0
            if allowed is not None:
                p = [v if j in allowed else 0.0 for j, v in enumerate(p)]
                if not sum(p):  # the classifier gives every allowed type ~0: draw among them evenly
                    p = [1.0 if j in allowed and j != ex else 0.0 for j in range(len(p))] if len(allowed) > 1 \
                        else [1.0 if j in allowed else 0.0 for j in range(len(p))]
            out.append(sample_index(p, rng))
        return out

    def reconstruct_many(self, genomes: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
                         rng: random.Random, temperature: float = 1.0, top_k: Optional[int] = None,
                         exclude_original: bool = True) -> list[list[int]]:
        """Regenerate ``positions[i]`` (block indices) of ``genomes[i]``, left to right, all genomes batched.
        Blocks not listed are kept exactly. ``exclude_original``: a gap never gets its old type back."""
        out = [list(g) for g in genomes]
        todo = [sorted(set(p)) for p in positions]
        for k in range(max((len(p) for p in todo), default=0)):
            idx = [i for i, p in enumerate(todo) if len(p) > k]
            pos = [todo[i][k] for i in idx]
            exclude = [genomes[i][p] if exclude_original else None for i, p in zip(idx, pos)]
            for i, p, b in zip(idx, pos, self.fill([out[i] for i in idx], pos, rng, temperature, top_k, exclude)):
                out[i][p] = b
        if not grammar_is_exact(self.space):  # a chain space with rules of its own: a non-member keeps its parent
            out = [o if self.space.is_valid(o) else list(g) for o, g in zip(out, genomes)]
        return out

    def reconstruct(self, genome: Sequence[int], positions: Sequence[int], rng: random.Random,
                    temperature: float = 1.0, top_k: Optional[int] = None, exclude_original: bool = True) -> list[int]:
        return self.reconstruct_many([genome], [positions], rng, temperature, top_k, exclude_original)[0]

    def sample(self, n: int, rng: random.Random, temperature: float = 1.0, top_k: Optional[int] = None) -> list[list[int]]:
        """``n`` chains generated block by block (length drawn uniformly from the space's range)."""
        sp = self.space
        seeds = [[0] * rng.randint(sp.min_blocks, sp.max_blocks) for _ in range(n)]
        out = self.reconstruct_many(seeds, [range(len(s)) for s in seeds], rng, temperature, top_k,
                                    exclude_original=False)
        return [g if sp.is_valid(g) else sp.sample(rng) for g in out]

    # Persistence -------------------------------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {"vocab": self.vocab.tokens, "settings": self.settings.to_dict(), "space": self.space.describe(),
                "input_shape": list(self.input_shape)}

    def _check(self, meta: dict, where: str) -> None:
        if meta["vocab"] != self.vocab.tokens or meta["space"] != self.space.describe() \
                or list(meta["input_shape"]) != list(self.input_shape):
            raise ConfigError(f"{where}: layer GPT was trained for another space, input size or vocabulary")

    def state_dict(self) -> dict:
        return {**self._meta(), "gpt": tensors(self.model), "classifier": tensors(self.classifier)}

    def load_state_dict(self, state: dict) -> None:
        self._check(state, "checkpoint")
        self.model.load_state_dict(state["gpt"])
        self.classifier.load_state_dict(state["classifier"])
        self.model.eval()
        self.classifier.eval()

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """``save_pretrained`` of the GPT, the classifier's weights, and the vocabulary/settings as JSON."""
        d = save_model(self.model, directory, {**self._meta(), "train_log": self.train_log}, META_FILE)
        torch.save(self.classifier.state_dict(), d / "block_classifier.pt")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, space: MacroSpace,
                        input_shape: tuple[int, int, int]) -> "LayerGPTProposer":
        d = Path(directory)
        meta = json.loads((d / META_FILE).read_text())
        prop = cls(space, input_shape, [t for t in meta["vocab"] if t not in ("<pad>", "<bos>", "<end>")],
                   LayerGPTSettings.from_dict(meta["settings"]))
        prop._check(meta, str(d))
        prop.model = load_hf_model(d)
        prop.classifier.load_state_dict(torch.load(d / "block_classifier.pt", weights_only=True))
        prop.train_log = meta.get("train_log", [])
        return prop


def build_layer_proposer(space: MacroSpace, input_shape: tuple[int, int, int],
                         settings: LayerGPTSettings = LayerGPTSettings(), progress: bool = True) -> LayerGPTProposer:
    """Train a layer proposer from scratch: pre-train on NAS-Bench-101, fine-tune on the 36 hand-designed networks,
    fit the block classifier. Deterministic for ``settings.seed``."""
    from ...spaces.nb101 import nb101_corpus
    from .finetune_corpus import finetune_token_sequences
    s = settings
    pre = nb101_corpus(s.pretrain_cells, seed=s.seed, input_shape=(3, 32, 32))
    fine = list(finetune_token_sequences().values())
    rng = random.Random(s.seed)
    own = [chain_tokens(space, space.sample(rng), input_shape) for _ in range(200)]  # so every chain layer has a token
    tokens = {t for seq in pre + fine + own for t in seq}
    prop = LayerGPTProposer(space, input_shape, tokens, s)
    device = "cuda" if s.device == "auto" and torch.cuda.is_available() else ("cpu" if s.device == "auto" else s.device)
    prop.model.to(device)
    prop.train_gpt(pre, s.pretrain_epochs, s.lr, stride=s.stride, seed=s.seed, kind="pretrain nb101", progress=progress)
    prop.train_gpt(fine, s.finetune_epochs, s.lr, stride=s.finetune_stride, seed=s.seed + 1, kind="finetune hand-designed",
                   progress=progress)
    prop.model.to("cpu")
    prop.train_classifier(s.classifier_chains, s.classifier_epochs, seed=s.seed)
    return prop


def layer_cache_key(space: MacroSpace, input_shape, settings: LayerGPTSettings) -> str:
    from .finetune_corpus import CORPUS_PATH
    blob = json.dumps({"space": space.describe(), "input_shape": list(input_shape), **settings.to_dict(),
                       "corpus": hashlib.sha256(Path(CORPUS_PATH).read_bytes()).hexdigest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def pretrained_layer_proposer(space: MacroSpace, input_shape: tuple[int, int, int],
                              settings: LayerGPTSettings | dict | None = None,
                              cache_dir: str | os.PathLike | None = None, progress: bool = True) -> LayerGPTProposer:
    """A trained layer proposer from the cache, or built (:func:`build_layer_proposer`) and stored there
    atomically (a directory renamed into place)."""
    full = getattr(space, "parent", space)  # a sub-space shares its parent's model: built on the parent
    if full is not space:
        prop = pretrained_layer_proposer(full, input_shape, settings, cache_dir, progress)
        prop.space = space
        return prop
    if not isinstance(settings, LayerGPTSettings):
        try:
            settings = LayerGPTSettings.from_dict(settings)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad gptnas.layer_gpt settings: {e}") from None
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / "layer-gpt" / layer_cache_key(space, input_shape, settings)
    if (final / META_FILE).is_file():
        log.info("loading layer GPT from %s", final)
        prop = LayerGPTProposer.from_pretrained(final, space, input_shape)
        prop.loaded_from_cache = True
        return prop
    log.info("building the layer GPT (cache miss: %s)", final)
    prop = build_layer_proposer(space, input_shape, settings, progress=progress)
    store_entry(final, prop.save_pretrained, META_FILE)
    return prop
