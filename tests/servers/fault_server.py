"""A FAKE OpenAI-style chat server for fault tests: not OpenAI, just its reply shapes.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 that answers ``POST /v1/chat/completions``. What
it does for a request is read from the request's last user message, so that runs under
``-n 2`` (where the order of requests is not fixed) stay deterministic:

``FAULT=<kind>`` in the prompt picks the answer; ``FAULT=<kind>*<n>`` answers ``<kind>`` to the
first ``n`` requests carrying that trigger and a normal reply afterwards (a retried success).
A ``#tag`` after the trigger (``FAULT=500*2#case-7``) gives it a count of its own. Kinds:

- ``ok`` (the default): a normal completion, ``"fake fault-server answer to: <prompt>"``;
- ``refuse``: a normal completion whose text opens with a refusal phrase;
- ``429``: HTTP 429 with ``Retry-After:`` :attr:`FaultServer.retry_after` (default 0);
- ``500``: HTTP 500 with an error object;
- ``503``: HTTP 503 with an error object and the same ``Retry-After`` as a 429;
- ``malformed``: HTTP 200 whose body is not JSON;
- ``empty``: HTTP 200 with an empty body;
- ``endless``: HTTP 200 whose chunked body trickles one byte every 0.2 s and never ends
  (the server gives up after :attr:`FaultServer.endless_cap_s`, so a client that never times
  out still cannot hang a test forever);
- ``stall``: HTTP 200 headers, then silence until :attr:`FaultServer.endless_cap_s`;
- ``close``: the connection is closed without any reply;
- ``garbage``: HTTP 200 whose message is prose a judge parser must reject
  (``"maybe 1, or 0? Result: perhaps"``);
- ``echo_key``: HTTP 500 whose message repeats the credential it received (a careless
  provider): clients must redact it.

A request whose JSON ``model`` is ``garbage-judge`` always gets ``garbage``, and one whose
model is ``fault-<kind>`` always gets ``<kind>`` (to aim a judge at a fault).

It counts requests: :meth:`FaultServer.counts` maps each trigger, tag included (or ``"-"``), to
how many requests carried it; ``total`` is all of them. Use it in-process::

    with FaultServer() as server:
        base_url = server.base_url        # http://127.0.0.1:<port>/v1

or run ``python tests/servers/fault_server.py`` (prints ``FAULT_SERVER_PORT=<port>``).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TRIGGER = re.compile(r"FAULT=(?P<kind>[a-z0-9_]+)(?:\*(?P<times>\d+))?(?:#(?P<tag>[\w-]+))?")
KINDS = ("ok", "refuse", "429", "500", "503", "malformed", "empty", "endless", "stall", "close",
         "garbage", "echo_key")
GARBAGE_JUDGE = "garbage-judge"


def _prompt(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return ""
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeFaultServer/0"
    protocol_version = "HTTP/1.1"
    owner: FaultServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), headers)

    def _completion(self, model: str, text: str) -> None:
        self._json(200, {
            "id": "chatcmpl-fake-fault", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        })

    def do_GET(self) -> None:
        if self.path == "/_fake/counts":
            self._json(200, self.owner.counts())
            return
        self._json(404, {"error": {"message": "no such route"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "no such route"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        prompt = _prompt(body)
        model = str(body.get("model") or "") if isinstance(body, dict) else ""
        match = TRIGGER.search(prompt)
        trigger = match.group(0) if match else "-"
        seen = self.owner.count(trigger)
        kind = "ok"
        if model == GARBAGE_JUDGE:
            kind = "garbage"
        elif model.startswith("fault-") and model[len("fault-"):] in KINDS:
            kind = model[len("fault-"):]
        elif match is not None:
            times = match.group("times")
            if times is None or seen <= int(times):
                kind = match.group("kind")
        self.answer(kind, model, prompt)

    def answer(self, kind: str, model: str, prompt: str) -> None:
        if kind == "ok":
            self._completion(model, f"fake fault-server answer to: {prompt[:200]}")
        elif kind == "refuse":
            self._completion(model, "I'm sorry, but I can't help with that.")
        elif kind == "garbage":
            self._completion(model, "maybe 1, or 0? Result: perhaps. Risk 3 of 2.")
        elif kind == "429":
            self._json(429, {"error": {"message": "rate limit (fake)",
                                       "code": "rate_limit_exceeded"}},
                       {"Retry-After": f"{self.owner.retry_after:g}"})
        elif kind == "500":
            self._json(500, {"error": {"message": "internal error (fake)"}})
        elif kind == "503":
            self._json(503, {"error": {"message": "overloaded (fake)"}},
                       {"Retry-After": f"{self.owner.retry_after:g}"})
        elif kind == "echo_key":
            credential = self.headers.get("Authorization") or ""
            self._json(500, {"error": {"message": f"bad upstream for {credential}"}})
        elif kind == "malformed":
            self._send(200, b"{not json <html>")
        elif kind == "empty":
            self._send(200, b"")
        elif kind in ("endless", "stall"):
            self._endless(trickle=kind == "endless")
        elif kind == "close":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._json(400, {"error": {"message": f"unknown fault kind {kind!r}"}})

    def _endless(self, *, trickle: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + self.owner.endless_cap_s
        try:
            if trickle:
                self.wfile.write(b"1\r\n{\r\n")
            while time.monotonic() < deadline and not self.owner.stopping.is_set():
                time.sleep(0.2)
                if trickle:
                    self.wfile.write(b"1\r\n \r\n")
                    self.wfile.flush()
        except OSError:
            return  # the client gave up: what a good client does


class FaultServer:
    """The server, in a background thread; a context manager."""

    def __init__(self, *, endless_cap_s: float = 30.0, retry_after: float = 0.0) -> None:
        self.endless_cap_s = endless_cap_s
        self.retry_after = retry_after
        """Seconds sent in ``Retry-After`` with every 429 and 503."""
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._httpd.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, trigger: str) -> int:
        """Count one request with ``trigger``; return how many carried it so far."""
        with self._lock:
            self._counts[trigger] += 1
            self._counts["total"] += 1
            return self._counts[trigger]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - manual use
    with FaultServer() as server:
        print(f"FAULT_SERVER_PORT={server.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
