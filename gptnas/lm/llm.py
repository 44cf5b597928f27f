"""A client for any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp's server), with every
exchange recorded and replayed.

>>> client = ChatClient(LLMSettings(url="http://localhost:8000/v1", model="Qwen/Qwen2.5-7B-Instruct"),
...                     record="runs/x/llm_exchanges.jsonl")
>>> client.chat([{"role": "user", "content": "..."}])

- The conventions users already have: a base URL (``--llm-url``, default ``$OPENAI_BASE_URL``), a model name
  (``--llm-model``), the key from ``$OPENAI_API_KEY`` (sent as a bearer token, never written anywhere).
- Timeouts, and retries with exponential backoff (or the server's ``Retry-After``) on 429 and 5xx replies and on
  dropped connections; any other refusal is a one-line :class:`LLMError` naming the fix.
- **Record / replay**: every request and reply is appended to a JSON-lines file the moment it arrives. A client
  opened on an existing recording answers the requests it holds from it, in order, without calling the server —
  so a resumed run is identical and costs no new calls — and only asks the server for what is new.
  ``replay_only=True`` (``--llm-replay FILE``) reruns a recorded run offline: a request the recording does not
  hold is an error. The *k*-th identical request gets the *k*-th recorded reply, so repeats stay in step.

``httpx`` does the HTTP: a well-kept client with real timeouts, which the standard library's ``urllib`` lacks
(a read timeout that covers the whole reply).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..errors import ConfigTypeError, ConfigValueError, GptnasError

log = logging.getLogger(__name__)
URL_ENV, KEY_ENV, MODEL_ENV = "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"


class LLMError(GptnasError):
    """The LLM server could not be used (unreachable, refused, malformed replies, not in a replay)."""


@dataclass
class LLMSettings:
    """Where the LLM is and how to ask it. ``url`` and ``model`` default to ``$OPENAI_BASE_URL`` and
    ``$OPENAI_MODEL``."""

    url: Optional[str] = None
    model: Optional[str] = None
    temperature: float = 0.0
    max_tokens: Optional[int] = None
    timeout_s: float = 120.0          # one request's wait for its reply
    retries: int = 4
    backoff_s: float = 1.0
    replay: Optional[str] = None      # a recorded exchanges file to rerun offline (--llm-replay)
    deadline_s: float = 300.0         # the whole exchange, every retry and back-off included: no request starts
                                      #   after it, and each waits at most what is left (httpx's timeouts are per
                                      #   phase: a server trickling bytes can still run a little past it)

    def validate(self) -> None:
        """One line for a value of the wrong type or range (``llm.timeout_s=-1``, ``llm.retries=abc``)."""
        for k in ("url", "model", "replay"):
            v = getattr(self, k)
            if v is not None and not isinstance(v, str):
                raise ConfigTypeError(f"llm.{k} must be text, got {type(v).__name__} {v!r:.60}")
        for k, low, strict in (("timeout_s", 0, True), ("deadline_s", 0, True), ("backoff_s", 0, False),
                               ("temperature", 0, False)):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigTypeError(f"llm.{k} must be a number, got {type(v).__name__} {v!r:.60}")
            if v < low or (strict and v == low) or v != v:
                raise ConfigValueError(f"llm.{k} must be a number {'>' if strict else '≥'} {low}, got {v!r}")
        for k, low in (("retries", 0), ("max_tokens", 1)):
            v = getattr(self, k)
            if v is None and k == "max_tokens":
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigTypeError(f"llm.{k} must be an integer ≥ {low}, got {type(v).__name__} {v!r:.60}")
            if v < low:
                raise ConfigValueError(f"llm.{k} must be an integer ≥ {low}, got {v!r}")

    def given(self) -> bool:
        """Whether an LLM can be asked: a server and a model (flags or environment), or a recording to replay."""
        r = self.resolved()
        return bool(r.replay or (r.url and r.model))

    def resolved(self) -> "LLMSettings":
        d = asdict(self)
        d["url"] = self.url or os.environ.get(URL_ENV)
        d["model"] = self.model or os.environ.get(MODEL_ENV)
        return LLMSettings(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def llm_cost(path: str | os.PathLike) -> Optional[dict]:
    """What a run's LLM cost, read from its recorded exchanges (``llm_exchanges.jsonl``); None without the file.

    Returns ``{"calls", "prompt_tokens", "completion_tokens", "seconds"}``: requests answered by the server, the
    tokens its ``usage`` reported (0 where a server reports none), and the wall time (s) spent waiting for replies.
    Each exchange is recorded once, when the server answered it, so a resumed run's replayed requests are not
    counted twice."""
    path = Path(path)
    if not path.is_file():
        return None
    out = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # a torn last line, asked again on resume
            try:
                r = json.loads(line)
            except ValueError:
                break
            usage = r.get("usage") or {}
            out["calls"] += 1
            for k in ("prompt_tokens", "completion_tokens"):
                v = usage.get(k)
                out[k] += int(v) if isinstance(v, (int, float)) else 0
            out["seconds"] += float(r.get("seconds") or 0.0)
    out["seconds"] = round(out["seconds"], 3)
    return out


def request_key(model: str, messages: list[dict], temperature: float, max_tokens) -> str:
    blob = json.dumps({"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class ChatClient:
    """``chat(messages) -> reply text`` against an OpenAI-compatible server, recorded to ``record`` (a JSON-lines
    file) and answered from it where it already holds the exchange.

    Args:
        settings: :class:`LLMSettings`.
        record: the file exchanges are recorded to (and replayed from when it exists); None: no recording.
        replay_only: answer only from the recording (``settings.replay`` or ``record``), never call the server.
    """

    def __init__(self, settings: LLMSettings, record: str | os.PathLike | None = None, replay_only: bool = False):
        self.settings = settings.resolved()
        self.record = Path(record) if record is not None else None
        replay = Path(self.settings.replay) if self.settings.replay else None
        self.replay_only = replay_only or replay is not None
        self._recorded: dict[str, list[str]] = {}
        self._used: dict[str, int] = {}
        self.calls = 0      #: requests sent to the server
        self.replayed = 0   #: requests answered from a recording
        for path in (replay, self.record):
            if path is not None and path.is_file():
                self._load(path)
        if replay is not None and not replay.is_file():
            raise LLMError(f"--llm-replay {replay}: no such recording")
        if not self.replay_only:
            if not self.settings.url:
                raise LLMError(f"no LLM server given: pass --llm-url URL (e.g. http://localhost:8000/v1 for vLLM, "
                               f"http://localhost:11434/v1 for Ollama) or set ${URL_ENV}")
            if not self.settings.model:
                raise LLMError(f"no LLM model given: pass --llm-model NAME or set ${MODEL_ENV}")

    def _load(self, path: Path) -> None:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a torn last line: the exchange is asked again
                try:
                    r = json.loads(line)
                except ValueError:
                    break
                self._recorded.setdefault(r["key"], []).append(r["reply"])

    def check(self, timeout_s: float = 5.0) -> None:
        """Raise :class:`LLMError` in one line when the server cannot be reached (one ``GET {url}/models``, at most
        ``timeout_s`` seconds): called before work that only pays off with a server (training a fallback ranker),
        so a wrong ``--llm-url`` is said in seconds, not after minutes. Any HTTP answer counts as reachable (the
        chat request says what is wrong with it). Nothing is checked when every reply can come from a recording:
        replaying, or a resumed run whose exchanges are recorded."""
        if self.replay_only or self._recorded:
            return
        import httpx
        url = self.settings.url.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {os.environ[KEY_ENV]}"} if os.environ.get(KEY_ENV) else {}
        try:
            httpx.get(url, headers=headers, timeout=min(timeout_s, self.settings.timeout_s))
        except httpx.TimeoutException:
            raise LLMError(f"the LLM server at {self.settings.url} did not answer within {timeout_s:g} s: start it, "
                           "or check --llm-url") from None
        except httpx.HTTPError as e:
            raise LLMError(f"cannot reach the LLM server at {self.settings.url} ({type(e).__name__}: {e}): start it, "
                           "or check --llm-url (it ends in /v1)") from None

    # ------------------------------------------------------------------------------------------------------------
    def chat(self, messages: list[dict]) -> str:
        """The assistant's reply (text) to ``messages`` (``[{"role": ..., "content": ...}, ...]``)."""
        s = self.settings
        key = request_key(s.model or "", messages, s.temperature, s.max_tokens)
        k = self._used.get(key, 0)
        held = self._recorded.get(key, [])
        if k < len(held):
            self._used[key] = k + 1
            self.replayed += 1
            return held[k]
        if self.replay_only:
            raise LLMError(f"the recording does not hold this request ({len(held)} replies to it recorded, "
                           f"asked {k + 1} times): the run asks something the recorded run did not; run against "
                           "the server instead of --llm-replay")
        t0 = time.monotonic()
        reply, usage = self._post(messages)
        seconds = time.monotonic() - t0
        self._used[key] = k + 1
        self._recorded.setdefault(key, []).append(reply)
        if self.record is not None:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            with open(self.record, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "model": s.model, "url": s.url, "temperature": s.temperature,
                                    "messages": messages, "reply": reply, "usage": usage,
                                    "seconds": round(seconds, 4), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, ensure_ascii=False) + "\n")
                f.flush()
        return reply

    def _post(self, messages: list[dict]) -> tuple[str, dict]:
        import httpx

        s = self.settings
        url = s.url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(KEY_ENV)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": s.model, "messages": messages, "temperature": s.temperature}
        if s.max_tokens:
            body["max_tokens"] = s.max_tokens
        last = ""
        t0 = time.monotonic()
        tried = 0
        for attempt in range(s.retries + 1):
            wait = s.backoff_s * 2 ** attempt
            left = s.deadline_s - (time.monotonic() - t0)
            if left <= 0:
                break
            tried += 1
            try:
                r = httpx.post(url, json=body, headers=headers, timeout=min(s.timeout_s, left))
            except httpx.TimeoutException:
                last = f"no reply within {min(s.timeout_s, left):.3g} s"
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}"
                if attempt == s.retries:
                    raise LLMError(f"cannot reach the LLM server at {s.url} ({last}): is it running?") from None
            else:
                self.calls += 1
                if r.status_code == 200:
                    try:
                        data = r.json()
                        return str(data["choices"][0]["message"]["content"]), data.get("usage") or {}
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise LLMError(f"{url} answered 200 but not a chat completion: {r.text[:200]!r}") from None
                if r.status_code == 429 or r.status_code >= 500:
                    last = f"HTTP {r.status_code}"
                    try:
                        wait = max(wait, float(r.headers.get("Retry-After", 0)))
                    except ValueError:
                        pass
                else:
                    hint = {401: f"set ${KEY_ENV}", 403: f"check ${KEY_ENV}",
                            404: "check --llm-url (it ends in /v1) and --llm-model"}.get(r.status_code, "")
                    raise LLMError(f"the LLM server refused the request (HTTP {r.status_code}: {r.text[:160]!r})"
                                   + (f": {hint}" if hint else ""))
            if attempt < s.retries:
                wait = min(wait, max(0.0, s.deadline_s - (time.monotonic() - t0)))
                log.warning("LLM request failed (%s); retrying in %.1f s", last, wait)
                time.sleep(wait)
        waited = time.monotonic() - t0
        if waited >= s.deadline_s:
            raise LLMError(f"the LLM server at {s.url} gave no usable reply within llm.deadline_s = {s.deadline_s:g} s "
                           f"(waited {waited:.0f} s, {tried} attempt(s); the last: {last}): check that it "
                           "answers at llm.url, or allow more time (llm.timeout_s per request, llm.deadline_s in all)")
        raise LLMError(f"the LLM server at {s.url} failed {s.retries + 1} times in {waited:.0f} s ({last}): check that "
                       "it answers at llm.url, try again later, or allow more retries (llm.retries)")
