"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol, with scripted behaviour.

>>> with LLMServer() as srv:
...     srv.script(("reply", "{...}"), ("status", 429), ("sleep", 2.0, "late"), ("garbage", "<html>"))
...     url = srv.url          # http://127.0.0.1:PORT/v1

Each request takes the next scripted step (the last one repeats); ``srv.requests`` holds every request body.
``("echo_pool",)`` answers with the first candidate of the pool in the last message (LM-Searcher's ``code;code;``);
``("fn", f)`` answers ``f(request_body)``. ``usage`` counts about four characters a token, as a real server would.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def usage(body: dict, text: str) -> dict:
    """Token counts the way a real server reports them, roughly: one token per four characters."""
    prompt = sum(len(m.get("content") or "") for m in body.get("messages", []))
    return {"prompt_tokens": prompt // 4 + 1, "completion_tokens": len(text) // 4 + 1,
            "total_tokens": prompt // 4 + len(text) // 4 + 2}


class LLMServer:
    def __init__(self):
        self.steps: list = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # a model list, as vLLM and Ollama answer ``GET /v1/models``
                if not self.path.endswith("/models"):
                    return self._raw(404, b"{}")
                self._raw(200, json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._body = body
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    step = server.steps.pop(0) if len(server.steps) > 1 else (server.steps[0] if server.steps
                                                                               else ("reply", "ok"))
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": "not found"})
                kind = step[0]
                if kind == "status":
                    return self._send(step[1], {"error": {"message": "scripted"}}, {"Retry-After": "0"})
                if kind == "garbage":
                    return self._raw(200, step[1].encode())
                if kind == "sleep":
                    time.sleep(step[1])
                    return self._reply(step[2])
                if kind == "echo_pool":  # LM-Searcher's text: the pool's codes are the ones followed by ';'
                    last = body["messages"][-1]["content"]
                    pool = re.findall(r"(\d+);", last) or ["0"]
                    return self._reply(pool[0])
                if kind == "fn":
                    return self._reply(step[1](body))
                return self._reply(step[1])

            def _reply(self, text):
                self._send(200, {"id": "x", "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": usage(self._body, text)})

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, code, obj, headers=None):
                self._raw(code, json.dumps(obj).encode(), headers)

            def _raw(self, code, data, headers=None):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a scripted timeout)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def script(self, *steps) -> "LLMServer":
        with self._lock:
            self.steps = list(steps)
        return self

    def __enter__(self) -> "LLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
