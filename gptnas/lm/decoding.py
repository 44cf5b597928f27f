"""Grammar-constrained left-to-right decoding: every emitted token is one the space allows after the prefix, so
every decoded architecture is valid by construction. Free decoding stops at ``<end>``; forced decoding keeps given
tokens and samples only the gaps (the candidates of a reconstruction when there are too many to list)."""
from __future__ import annotations

import random
from typing import Optional, Sequence

import torch

from ..spaces.base import END
from .grammar import Grammar
from .vocab import Vocab


def torch_generator(rng: random.Random) -> torch.Generator:
    """A CPU torch generator seeded from ``rng`` (advances ``rng`` by one draw)."""
    return torch.Generator().manual_seed(rng.getrandbits(63))


_CACHE_ARG: Optional[str] = None


def forward_cached(model, ids: torch.Tensor, attention_mask: torch.Tensor, cache):
    """One decoding step with the key/value cache, in whichever API the installed ``transformers`` has: ``cache``
    (5.x, where ``past_key_values`` is deprecated) or ``past_key_values`` (4.x). Returns ``(outputs, cache)``."""
    global _CACHE_ARG
    if _CACHE_ARG is None:
        import inspect
        _CACHE_ARG = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    kw = {_CACHE_ARG: cache} if cache is not None else {}
    out = model(input_ids=ids, attention_mask=attention_mask, use_cache=True, **kw)
    return out, (out["cache"] if "cache" in out else out["past_key_values"])


@torch.inference_mode()
def generate(model, vocab: Vocab, grammar: Grammar, max_length: int, batch: int, gen: torch.Generator,
             temperature: float, top_k: Optional[int], forced: Optional[Sequence[Sequence[Optional[str]]]] = None,
             device: torch.device = torch.device("cpu")) -> list[Optional[list[str]]]:
    """Decode ``batch`` sequences of at most ``max_length`` tokens left to right under ``grammar``, with a KV cache.

    Args:
        forced: ``None`` for free decoding up to ``<end>``; else one template per row, a token to keep or
            ``None`` for a gap; the row then has exactly the template's length.
    Returns:
        token lists (no specials); ``None`` for a row the grammar could not complete (a forced token the
        grammar forbids).
    """
    if forced is not None and batch and getattr(grammar.space, "positions_independent", False) \
            and len({len(t) for t in forced}) == 1 and len(forced[0]) <= max_length:
        return _generate_forced_independent(model, vocab, grammar, gen, temperature, top_k, forced, device)
    rows: list[list[str]] = [[] for _ in range(batch)]
    state = ["open"] * batch  # open / done / dead
    step_ids = torch.full((batch, 1), vocab.bos_id, dtype=torch.long)
    past = None
    limit = max_length
    for step in range(limit + 1):
        # Finished rows are fed <pad>; their outputs are ignored, the mask only keeps transformers quiet.
        attn = torch.ones((batch, step + 1), dtype=torch.long, device=device)
        out, past = forward_cached(model, step_ids.to(device), attn, past)
        logits = out.logits[:, -1].float().cpu()  # (batch, vocab)
        nxt = torch.full((batch,), vocab.pad_id, dtype=torch.long)
        sample_rows, masks = [], []
        for i in range(batch):
            if state[i] != "open":
                continue
            prefix = tuple(rows[i])
            if forced is None:
                toks, mask = grammar.allowed(prefix)
                if step == limit:  # context full: only <end> may follow
                    state[i] = "done" if END in toks else "dead"
                    continue
                sample_rows.append(i)
                masks.append(mask)
                continue
            tmpl = forced[i]
            if step == len(tmpl):
                state[i] = "done" if END in grammar.allowed(prefix)[0] else "dead"
            elif tmpl[step] is not None:
                if tmpl[step] in grammar.allowed(prefix)[0]:
                    rows[i].append(tmpl[step])
                    nxt[i] = vocab.index[tmpl[step]]
                else:
                    state[i] = "dead"
            else:
                toks, mask = grammar.allowed(prefix, end=False)
                if toks:
                    sample_rows.append(i)
                    masks.append(mask)
                else:
                    state[i] = "dead"
        if sample_rows:
            idx = torch.tensor(sample_rows)
            picked = pick(logits[idx], torch.stack(masks), temperature, top_k, gen)
            for i, t in zip(sample_rows, picked.tolist()):
                if t == vocab.end_id:
                    state[i] = "done"
                else:
                    rows[i].append(vocab.tokens[t])
                    nxt[i] = t
        if all(s != "open" for s in state):
            break
        step_ids = nxt.unsqueeze(1)
    return [r if s == "done" else None for r, s in zip(rows, state)]


def _generate_forced_independent(model, vocab: Vocab, grammar: Grammar, gen: torch.Generator, temperature: float,
                                 top_k: Optional[int], forced: Sequence[Sequence[Optional[str]]],
                                 device: torch.device) -> list[Optional[list[str]]]:
    """Forced decoding where what a position allows does not depend on the tokens before it (fixed-length
    categorical spaces) and every template has the same length: the same forward passes and the same draws, in the
    same order, as :func:`generate`'s row-by-row loop — so the same result — with the per-row grammar walk
    replaced by one mask per position."""
    B, L = len(forced), len(forced[0])
    prefix: tuple = ()
    masks, allowed = [], []
    for _ in range(L):  # any prefix of the right length will do: positions are independent
        toks, mask = grammar.allowed(prefix, end=False)
        if not toks:
            return [None] * B
        masks.append(mask)
        allowed.append(toks)
        prefix += (min(toks),)
    if END not in grammar.allowed(prefix)[0]:
        return [None] * B
    # A row dies at its first kept token the position does not allow (as in generate); its earlier gaps are drawn.
    dead_at = [next((j for j, t in enumerate(tmpl) if t is not None and t not in allowed[j]), L) for tmpl in forced]
    ids = torch.full((B, L), vocab.pad_id, dtype=torch.long)
    for i, tmpl in enumerate(forced):
        for j, t in enumerate(tmpl[:dead_at[i]]):
            if t is not None:
                ids[i, j] = vocab.index[t]
    step_ids = torch.full((B, 1), vocab.bos_id, dtype=torch.long)
    past = None
    for step in range(L):
        attn = torch.ones((B, step + 1), dtype=torch.long, device=device)
        out, past = forward_cached(model, step_ids.to(device), attn, past)
        rows = [i for i in range(B) if forced[i][step] is None and step < dead_at[i]]
        if rows:
            logits = out.logits[:, -1].float().cpu()
            idx = torch.tensor(rows)
            ids[idx, step] = pick(logits[idx], masks[step].expand(len(rows), -1), temperature, top_k, gen)
        step_ids = ids[:, step:step + 1]
    tokens = vocab.tokens
    return [[tokens[t] for t in row] if d == L else None for row, d in zip(ids.tolist(), dead_at)]


def pick(logits: torch.Tensor, mask: torch.Tensor, temperature: float, top_k: Optional[int],
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
