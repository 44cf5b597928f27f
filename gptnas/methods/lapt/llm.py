"""The ``llm`` extractor: LAPT's prompt chain to any OpenAI-compatible chat model (:mod:`gptnas.lm.llm`).

The reply's first JSON object is the refined space. It is parsed and validated — every layer named, known
operations only, at least one and at most ``m`` per layer; a reply that breaks a rule (or holds no JSON) is
answered once with the error stated, and if the second reply is unusable too the extraction fails with a one-line
error, or falls back to the ``stats`` extractor when the user asked for it (``principles.fallback``). Every prompt
and reply is recorded by the client, so a resumed run replays them and costs no new calls.

The conversation is kept, as in LAPT: adaptation prompts continue it. The scores that guide the search inside the
refined space are the statistics' (the same source), since a reply gives sets, not degrees.
"""
from __future__ import annotations

import ast
import json
import logging
from typing import Optional

from ...errors import ConfigError
from . import prompts
from .decisions import positions_of
from .principles import Principles
from .stats import StatsExtractor, build

log = logging.getLogger(__name__)


class ReplyError(ValueError):
    """A reply that cannot be used; the message says why (and is sent back to the model)."""


def first_json_object(text: str) -> dict:
    """The first balanced ``{...}`` of ``text`` as a dict (JSON, else a Python literal)."""
    start = text.find("{")
    while start != -1:
        depth, quote = 0, None
        for j in range(start, len(text)):
            c = text[j]
            if quote:
                if c == quote and text[j - 1] != "\\":
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    blob = text[start:j + 1]
                    for parse in (json.loads, ast.literal_eval):
                        try:
                            obj = parse(blob)
                        except (ValueError, SyntaxError):
                            continue
                        if isinstance(obj, dict):
                            return obj
                    break
        start = text.find("{", start + 1)
    raise ReplyError("the reply holds no JSON object")


def parse_allowed(text: str, space, m: int) -> list[list[int]]:
    """Allowed option indices per position from a reply (keys ``layerN``, position names or indices; values
    option names or indices). Raises :class:`ReplyError` naming the first broken rule."""
    obj = first_json_object(text)
    names, options = positions_of(space)
    out: list[Optional[list[int]]] = [None] * len(names)
    for k, v in obj.items():
        key = str(k).strip()
        if key.lower().startswith("layer") and key[5:].strip().isdigit():
            i = int(key[5:])
        elif key in names:
            i = names.index(key)
        elif key.isdigit():
            i = int(key)
        else:
            raise ReplyError(f"{key!r} is not a layer (use layer0 .. layer{len(names) - 1})")
        if not 0 <= i < len(names):
            raise ReplyError(f"{key!r} is not a layer (there are {len(names)})")
        vals = v if isinstance(v, (list, tuple)) else [v]
        idx = []
        for o in vals:
            name = str(o).strip()
            if name in options[i]:
                idx.append(options[i].index(name))
            elif name.isdigit() and int(name) < len(options[i]):
                idx.append(int(name))
            else:
                raise ReplyError(f"{o!r} is not an operation of layer{i} (its operations: "
                                 f"{', '.join(options[i])})")
        idx = sorted(set(idx))
        if not idx:
            raise ReplyError(f"layer{i} has no operation left")
        if len(idx) > m:
            raise ReplyError(f"layer{i} has {len(idx)} operations, at most {m} are allowed")
        out[i] = idx
    missing = [f"layer{i}" for i, v in enumerate(out) if v is None]
    if missing:
        raise ReplyError(f"{', '.join(missing)} missing: give every layer")
    return out


class LLMExtractor:
    """Args: client (:class:`~gptnas.lm.llm.ChatClient`), max_options, n_archs (the source's best listed: 50),
    stats (the :class:`StatsExtractor` whose scores guide the search, and the fallback), fallback (use it when
    the LLM's replies stay unusable)."""

    name = "llm"

    def __init__(self, client, max_options: int, stats: StatsExtractor, n_archs: int = 50, fallback: bool = False):
        self.client, self.max_options, self.stats, self.n_archs, self.fallback = client, max_options, stats, \
            n_archs, fallback
        self.messages: list[dict] = []

    def ask(self, messages: list[dict], space) -> tuple[Optional[list[list[int]]], str, str]:
        """(allowed, reply, error): one retry with the error stated; allowed None when both replies fail."""
        reply = self.client.chat(messages)
        try:
            return parse_allowed(reply, space, self.max_options), reply, ""
        except ReplyError as e:
            log.warning("the LLM's reply could not be used (%s); asking again", e)
            retry = messages + [{"role": "assistant", "content": reply},
                                {"role": "user", "content": prompts.fix(str(e), space, self.max_options)}]
            reply2 = self.client.chat(retry)
            try:
                allowed = parse_allowed(reply2, space, self.max_options)
                messages[:] = retry
                return allowed, reply2, ""
            except ReplyError as e2:
                return None, reply2, str(e2)

    def extract(self, sources, space) -> Principles:
        stat = self.stats.extract(sources, space)
        name, scored = sources[0]
        order = sorted(range(len(scored)), key=lambda i: -scored[i][1])[:self.n_archs]
        archs = [scored[i][0] for i in order]
        self.messages = [{"role": "system", "content": prompts.SYSTEM},
                         {"role": "user", "content": prompts.extraction(space, archs, self.max_options, name)}]
        allowed, reply, error = self.ask(self.messages, space)
        if allowed is None:
            if self.fallback:
                log.warning("the LLM's replies stayed unusable (%s): using the stats extractor", error)
                stat.extractor = "stats (fallback from llm)"
                stat.statements.insert(0, f"The LLM's replies could not be used ({error}); these are the statistics'.")
                return stat
            raise ConfigError(f"the LLM's principles could not be used after one retry: {error} (set "
                              "principles.fallback=stats to fall back to the statistics)")
        self.messages.append({"role": "assistant", "content": reply})
        return self._principles(space, stat, allowed, reply, [n for n, _ in sources])

    def _principles(self, space, stat: Principles, allowed, reply: str, sources) -> Principles:
        p = Principles(space.name, stat.positions, _statements(reply), "llm", sources, stat.adaptations,
                       {**stat.settings, "model": self.client.settings.model})
        names, options = positions_of(space)
        for pos, idx in zip(p.positions, allowed):
            i = names.index(pos.name)
            pos.allowed = [options[i][j] for j in idx]
        return p

    def adapt(self, principles: Principles, space, history, improved: bool, top_k: int, best_before: float) -> dict:
        """LAPT's adaptation through the conversation: the target's best given back, or other operations asked."""
        best = max((e.fitness for e in history.successful()), default=float("-inf"))
        if improved:
            archs = [e.genome for e in history.top(top_k) if not e.failed]
            text, kind = prompts.update(space, archs, self.max_options), "update"
            reason = f"the best rose from {best_before:.4g} to {best:.4g}: the target's {len(archs)} best given back"
        else:
            text, kind = prompts.widen(space, self.max_options), "widen"
            reason = f"no improvement since the last adaptation (best {best:.4g}): other operations asked for"
        self.messages.append({"role": "user", "content": text})
        allowed, reply, error = self.ask(self.messages, space)
        self.messages.append({"role": "assistant", "content": reply})
        changes = {}
        if allowed is None:
            reason += f"; the reply could not be used ({error}): principles kept"
        else:
            names, options = positions_of(space)
            for pos, idx in zip(principles.positions, allowed):
                i = names.index(pos.name)
                new = [options[i][j] for j in idx]
                if kind == "widen":  # widening never removes
                    new = [o for o in options[i] if o in set(new) | set(pos.allowed)]
                if new != pos.allowed:
                    changes[pos.name] = new
                    pos.allowed = new
            principles.statements += [f"(after {len(history)} evaluations) {s}" for s in _statements(reply)][:5]
        record = {"evaluation": len(history), "kind": kind, "reason": reason, "changes": changes,
                  "refined_size": principles.size()}
        principles.adaptations.append(record)
        return record

    def state_dict(self) -> dict:
        return {"messages": self.messages}

    def load_state_dict(self, state: dict) -> None:
        self.messages = list(state.get("messages", []))


def _statements(reply: str) -> list[str]:
    """The reply's prose (the part before its JSON), as statements: its non-empty lines, at most 12."""
    prose = reply.split("{")[0]
    lines = [ln.strip(" -*#\t") for ln in prose.splitlines()]
    return [ln for ln in lines if len(ln) > 3][:12] or [reply.strip()[:300]]


def llm_extractor(settings, llm_settings, space, run_dir, stats, max_options: int):
    """The extractor the config asks for, its client recording to ``run_dir/llm_exchanges.jsonl``."""
    from ...lm.llm import ChatClient
    record = None if run_dir is None else run_dir / "llm_exchanges.jsonl"
    client = ChatClient(llm_settings, record=record)
    return LLMExtractor(client, max_options, stats, fallback=settings.fallback is not None)


__all__ = ["LLMExtractor", "ReplyError", "first_json_object", "llm_extractor", "parse_allowed", "build"]
