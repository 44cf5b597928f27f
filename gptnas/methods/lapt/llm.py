"""The ``llm`` extractor: LAPT's prompt chain to any OpenAI-compatible chat model (:mod:`gptnas.lm.llm`).

The reply's first JSON object is the refined space. It is parsed and validated — every layer named, known
operations only, at least one and at most ``m`` per layer; a reply that breaks a rule (or holds no JSON) is
answered once with the error stated, and if the second reply is unusable too the extraction fails with a one-line
error, or falls back to the ``stats`` extractor when the user asked for it (``lapt.fallback``). Every prompt
and reply is recorded by the client, so a resumed run replays them and costs no new calls.

The conversation is kept, as in LAPT: adaptation prompts continue it. The scores that guide the search inside the
refined space are the statistics' (the same source), since a reply gives sets, not degrees.
"""
from __future__ import annotations

import ast
import json
import logging
import re
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
        self.original: list[dict] = []  # replace: the separate conversation that asks for other operations
        self.prose = ""  # the last ask's replies, for their statements

    def ask(self, messages: list[dict], space, m: Optional[int] = None) -> tuple[Optional[list[list[int]]], str, str]:
        """(allowed, reply, error): one retry with the error stated; allowed None when both replies fail. ``m``:
        the most options per layer an answer may give (default ``max_options``). ``self.prose`` is then every
        reply's text (a first reply's principles stand though its JSON needed correcting)."""
        m = m or self.max_options
        reply = self.client.chat(messages)
        self.prose = reply
        try:
            return parse_allowed(reply, space, m), reply, ""
        except ReplyError as e:
            log.warning("the LLM's reply could not be used (%s); asking again", e)
            retry = messages + [{"role": "assistant", "content": reply},
                                {"role": "user", "content": prompts.fix(str(e), space, m)}]
            reply2 = self.client.chat(retry)
            self.prose = reply + "\n\n" + reply2
            try:
                allowed = parse_allowed(reply2, space, m)
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
                              "lapt.fallback=stats to fall back to the statistics)")
        self.messages.append({"role": "assistant", "content": reply})
        return self._principles(space, stat, allowed, self.prose, [n for n, _ in sources])

    def _principles(self, space, stat: Principles, allowed, reply: str, sources) -> Principles:
        p = Principles(space.name, stat.positions, statements(reply), "llm", sources, stat.adaptations,
                       {**stat.settings, "model": self.client.settings.model})
        names, options = positions_of(space)
        for pos, idx in zip(p.positions, allowed):
            i = names.index(pos.name)
            pos.allowed = [options[i][j] for j in idx]
        return p

    def adapt(self, principles: Principles, space, history, improved: bool, top_k: int, best_before: float,
              replace: bool = False) -> dict:
        """LAPT's adaptation: the target's best given back (improved), or other operations asked (not).

        ``replace=False`` (ours): one conversation, answers capped at ``max_options``, a "widen" answer only adds.
        ``replace=True`` (the paper's): the update continues the extraction's conversation, the request for other
        operations goes to a separate one that holds only the extraction, and either answer replaces the lists."""
        best = max((e.fitness for e in history.successful()), default=float("-inf"))
        m = max(len(o) for o in positions_of(space)[1]) if replace else self.max_options
        if improved:
            archs = [e.genome for e in history.top(top_k) if not e.failed]
            text, kind = prompts.update(space, archs, m), "update"
            reason = f"the best rose from {best_before:.4g} to {best:.4g}: the target's {len(archs)} best given back"
        else:
            text, kind = prompts.widen(space, m), "widen"
            reason = f"no improvement over {best_before:.4g} (best {best:.4g}): other operations asked for"
        if replace and not improved:
            if not self.original:
                self.original = [dict(x) for x in self.messages[:3]]
            conversation = self.original
        else:
            conversation = self.messages
        conversation.append({"role": "user", "content": text})
        allowed, reply, error = self.ask(conversation, space, m)
        conversation.append({"role": "assistant", "content": reply})
        changes = {}
        new_statements: list[str] = []
        if allowed is None:
            reason += f"; the reply could not be used ({error}): principles kept"
        else:
            names, options = positions_of(space)
            for pos, idx in zip(principles.positions, allowed):
                i = names.index(pos.name)
                new = [options[i][j] for j in idx]
                if kind == "widen" and not replace:  # ours: widening never removes
                    new = [o for o in options[i] if o in set(new) | set(pos.allowed)]
                if new != pos.allowed:
                    changes[pos.name] = new
                    pos.allowed = new
            known = {x.lower() for x in principles.statements}
            for a in principles.adaptations:
                known |= {x.lower() for x in a.get("statements", [])}
            new_statements = [x for x in statements(self.prose) if x.lower() not in known]
        record = {"evaluation": len(history), "kind": kind, "reason": reason, "changes": changes,
                  "refined_size": principles.size()}
        if new_statements:
            record["statements"] = new_statements
        principles.adaptations.append(record)
        return record

    def state_dict(self) -> dict:
        return {"messages": self.messages, "original": self.original}

    def load_state_dict(self, state: dict) -> None:
        self.messages = list(state.get("messages", []))
        self.original = list(state.get("original", []))


_FENCE = re.compile(r"```.*?(```|$)", re.S)
_FILLER = ("let's", "let us", "sure", "certainly", "okay", "ok,", "here is", "here are", "here's", "i'm sorry",
           "i am sorry", "i cannot", "i can't", "as an ai", "step by step", "answer:", "final answer", "json")


def _without_json(text: str) -> str:
    """``text`` with every balanced ``{...}`` block cut out."""
    out, depth = [], 0
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}" and depth:
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def _clean(line: str) -> tuple[str, bool]:
    """(the line without Markdown, whether it is a heading)."""
    raw = line.strip()
    heading = raw.startswith("#")
    t = raw.lstrip("#").strip()
    t = re.sub(r"^(?:[-*+•]\s+|\d+[.)]\s*|[a-z][.)]\s+)+", "", t)
    bold_only = bool(re.fullmatch(r"(\*\*|__).+?(\*\*|__)[:.]?", t))
    t = re.sub(r"(\*\*|__|`)", "", t).strip()
    heading = heading or bold_only or t.endswith(":")
    return t, heading


def statements(reply: str, limit: int = 12) -> list[str]:
    """The design principles a reply states, as clean sentences, each once: its prose with code fences, JSON and
    Markdown (numbering, bullets, bold, headings) removed, filler (``Let's analyse step by step.``) and headings
    dropped. Where the reply has a section whose heading names principles, only that section's lines."""
    text = _without_json(_FENCE.sub("\n", reply))
    lines = [_clean(ln) for ln in text.splitlines() if ln.strip()]
    start = next((j for j, (t, h) in enumerate(lines) if h and "principle" in t.lower()), None)
    if start is not None:
        end = next((j for j in range(start + 1, len(lines)) if lines[j][1]), len(lines))
        section = lines[start + 1:end]
        if any(not h for _, h in section):
            lines = section
    out, seen = [], set()
    for t, heading in lines:
        low = t.lower()
        if heading or len(t.split()) < 4 or low.startswith(_FILLER):
            continue
        t = t[0].upper() + t[1:]
        if t[-1] not in ".!?":
            t += "."
        if low not in seen:
            seen.add(low)
            out.append(t)
    return out[:limit]



def llm_extractor(settings, llm_settings, space, run_dir, stats, max_options: int):
    """The extractor the config asks for, its client recording to ``run_dir/llm_exchanges.jsonl``."""
    from ...lm.llm import ChatClient
    record = None if run_dir is None else run_dir / "llm_exchanges.jsonl"
    client = ChatClient(llm_settings, record=record)
    return LLMExtractor(client, max_options, stats, fallback=settings.fallback is not None)


__all__ = ["LLMExtractor", "ReplyError", "first_json_object", "llm_extractor", "parse_allowed", "build"]
