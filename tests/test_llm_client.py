"""The OpenAI-compatible client against a real HTTP server on 127.0.0.1: replies, retries, refusals, replay."""
from __future__ import annotations

import json

import pytest

from gptnas.lm.llm import ChatClient, LLMError, LLMSettings
from helpers.llm_server import LLMServer

MSG = [{"role": "user", "content": "hello"}]


def settings(url, **kw):
    return LLMSettings(url=url, model="test-model", backoff_s=0.01, **kw)


def test_a_reply_is_recorded_and_replayed_without_calling_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    rec = tmp_path / "llm.jsonl"
    with LLMServer() as srv:
        srv.script(("reply", "first"), ("reply", "second"))
        c = ChatClient(settings(srv.url), record=rec)
        assert c.chat(MSG) == "first" and c.chat(MSG) == "second" and c.calls == 2
        assert srv.requests[0]["model"] == "test-model" and srv.requests[0]["messages"] == MSG
        assert srv.headers[0]["Authorization"] == "Bearer sk-secret"
        again = ChatClient(settings(srv.url), record=rec)  # a resumed run: same requests, same order
        assert again.chat(MSG) == "first" and again.chat(MSG) == "second" and again.calls == 0
        assert len(srv.requests) == 2
    assert "sk-secret" not in rec.read_text()  # the key is never written
    offline = ChatClient(LLMSettings(replay=str(rec), model="test-model"))
    assert offline.chat(MSG) == "first" and offline.chat(MSG) == "second"
    with pytest.raises(LLMError, match="does not hold this request"):
        offline.chat(MSG)


def test_429_and_5xx_are_retried_with_backoff_and_then_fail_in_one_line():
    with LLMServer() as srv:
        srv.script(("status", 429), ("status", 503), ("reply", "done"))
        assert ChatClient(settings(srv.url)).chat(MSG) == "done" and len(srv.requests) == 3
        srv.script(("status", 500))
        with pytest.raises(LLMError, match="failed 3 times"):
            ChatClient(settings(srv.url, retries=2)).chat(MSG)


def test_a_timeout_is_retried():
    with LLMServer() as srv:
        srv.script(("sleep", 1.0, "late"), ("reply", "in time"))
        assert ChatClient(settings(srv.url, timeout_s=0.3)).chat(MSG) == "in time"


def test_refusals_and_garbage_are_one_line_errors_naming_the_fix(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with LLMServer() as srv:
        srv.script(("status", 401))
        with pytest.raises(LLMError, match="OPENAI_API_KEY"):
            ChatClient(settings(srv.url)).chat(MSG)
        srv.script(("garbage", "<html>not json</html>"))
        with pytest.raises(LLMError, match="not a chat completion"):
            ChatClient(settings(srv.url)).chat(MSG)
    with pytest.raises(LLMError, match="cannot reach"):
        ChatClient(settings("http://127.0.0.1:9/v1", retries=0)).chat(MSG)
    with pytest.raises(LLMError, match="--llm-url"):
        ChatClient(LLMSettings(model="m"))
