"""The proposal model: a small GPT-2 built from a config (never downloaded), as in GPT-NAS (4 layers, 4 heads).

The model is ``transformers.GPT2LMHeadModel``; what this module adds is the mapping from a search space to the
model's size: the vocabulary is the space's tokens plus ``<pad> <bos> <end>`` and the context holds the longest
architecture plus ``<bos>`` and ``<end>``.
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from typing import Optional

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from ..spaces.base import SearchSpace
from .vocab import Vocab

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GPTConfig:
    """Size of the GPT.

    Attributes:
        n_embd: embedding width (default 128; the paper's 4x4 layout with a CPU-sized width).
        n_layer: transformer blocks.
        n_head: attention heads (must divide ``n_embd``).
        dropout: dropout on embeddings, attention and residuals during training.
        max_length: most tokens an architecture can have (without specials); ``None`` = ask the space
            (see :func:`space_max_length`).
        activation: the MLP's activation (a ``transformers`` name): ``gelu_new`` (GPT-2's) or ``gelu``.
    """

    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.1
    max_length: Optional[int] = None
    activation: str = "gelu_new"  # GPT-2's tanh approximation; "gelu" (exact, one fused kernel) is faster on CPU

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["activation"] == "gelu_new":
            del d["activation"]  # models (and cache keys) from before this setting existed stay valid
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def space_max_length(space: SearchSpace, probe: int = 512) -> int:
    """Longest token sequence of ``space`` (without specials).

    Uses ``space.max_length`` or ``space.length`` when the space has one. Otherwise it probes ``probe`` samples
    (fixed seed) and doubles the longest, with a warning: the context must hold every architecture the
    grammar can produce, so variable-length spaces should expose ``max_length``.
    """
    for attr in ("max_length", "length"):
        n = getattr(space, attr, None)
        if isinstance(n, int) and n > 0:
            return n
    rng = random.Random(0)
    longest = max(len(space.to_tokens(space.sample(rng))) for _ in range(probe))
    log.warning("space %r has no max_length; using 2 x the longest of %d samples = %d tokens",
                space.name, probe, 2 * longest)
    return 2 * longest


def build_model(config: GPTConfig, vocab: Vocab, max_length: int) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 for ``vocab`` whose context fits ``max_length`` tokens plus ``<bos> <end>``.

    Weights come from torch's global generator; callers that need reproducibility seed it inside
    ``torch.random.fork_rng`` (see :func:`gptnas.lm.train.seeded`).
    """
    if config.n_embd % config.n_head:
        raise ValueError(f"n_embd={config.n_embd} is not divisible by n_head={config.n_head}")
    hf = GPT2Config(
        vocab_size=len(vocab),
        n_positions=max_length + 2,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        bos_token_id=vocab.bos_id,
        eos_token_id=vocab.end_id,
        pad_token_id=vocab.pad_id,
        activation_function=config.activation,
    )
    model = GPT2LMHeadModel(hf)
    model.eval()
    log.debug("built GPT: %d parameters, context %d", sum(p.numel() for p in model.parameters()), max_length + 2)
    return model


def eval_logits(model: GPT2LMHeadModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's logits in eval mode, computed from its own modules without ``transformers``' per-call machinery.

    On the short sequences of a search space that machinery (mask builders, dozens of config look-ups) costs more
    than the arithmetic. The same layers run in the same order — embeddings, per block pre-norm attention over
    the causal and padding mask (``scaled_dot_product_attention``) and the MLP with the model's own activation,
    the final norm and the tied head — so the result equals ``model(...).logits`` to float rounding
    (``tests/test_gpt_local.py`` compares them). Without dropout: scoring only; training uses ``model(...)``.

    Args:
        ids, mask: LongTensor (batch, seq), right-padded; mask 1 on real tokens.
    Returns:
        FloatTensor (batch, seq, vocab).
    """
    tr = model.transformer
    b, t = ids.shape
    cfg = model.config
    n_embd, n_head = cfg.n_embd, cfg.n_head
    h = tr.wte(ids) + tr.wpe(torch.arange(t, device=ids.device))[None]
    causal = torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()
    attend = causal[None, None] & mask[:, None, None, :].bool()  # (b, 1, t, t): query i sees keys <= i, not padding
    for block in tr.h:
        q, k, v = block.attn.c_attn(block.ln_1(h)).split(n_embd, dim=2)
        q, k, v = (x.view(b, t, n_head, n_embd // n_head).transpose(1, 2) for x in (q, k, v))
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attend)
        h = h + block.attn.c_proj(y.transpose(1, 2).reshape(b, t, n_embd))
        h = h + block.mlp.c_proj(block.mlp.act(block.mlp.c_fc(block.ln_2(h))))
    return model.lm_head(tr.ln_f(h))


def sequence_logprobs(model: GPT2LMHeadModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token log-probabilities of each next token.

    Args:
        ids: LongTensor (batch, seq), ``<bos> t1 .. tn <end>`` right-padded.
        mask: LongTensor (batch, seq), 1 on real tokens.
    Returns:
        FloatTensor (batch, seq - 1): ``log p(ids[:, j+1] | ids[:, :j+1])``, 0 where ``ids[:, j+1]`` is padding.
    """
    logits = (model(input_ids=ids, attention_mask=mask).logits if model.training
              else eval_logits(model, ids, mask))[:, :-1]  # (batch, seq-1, vocab)
    logp = torch.log_softmax(logits.float(), dim=-1)
    target = ids[:, 1:]
    out = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return out * mask[:, 1:].to(out.dtype)
