"""A FAKE chat server that answers scripted reply bodies: odd shapes, huge bodies, bad bytes.

Not OpenAI, not Google: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 that answers
``POST /v1/chat/completions`` and ``POST /v1/images/generations`` (OpenAI-style) and
``POST /v1beta/models/{model}:generateContent`` (Gemini-style) with the reply named in the
request's last user text (or its ``prompt``): ``REPLY=<name>`` picks ``replies[name]``, so runs
stay deterministic in any order. A reply is

- a ``dict`` or ``list``: sent as JSON with HTTP 200 (a ``str`` is sent as raw JSON text, for
  escapes such as ``"\\ud800"`` that ``json.dumps`` would not write as given);
- :class:`Huge`: a 200 body of ``size`` bytes, chunked (or with ``Content-Length`` when
  ``declared``), streamed so the server never holds it;
- :class:`Status`: another status code with a JSON body.

``GET /files/<name>`` serves ``files[name]`` (bytes or :class:`Huge`), for image URLs.
:meth:`ReplyServer.count` says how many requests named each reply.

Use it in-process::

    with ReplyServer({"tools": {...}}) as server:
        server.base_url          # http://127.0.0.1:<port>/v1
        server.gemini_base_url   # http://127.0.0.1:<port>/v1beta
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TRIGGER = re.compile(r"REPLY=(?P<name>[\w.-]+)")
GEMINI_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
ROUTES = ("/v1/chat/completions", "/v1/images/generations")


@dataclass(frozen=True)
class Huge:
    """A body of ``size`` bytes: ``head``, filler, then ``tail``, streamed in 64 KiB chunks
    (by default a valid chat completion whose text is ``size`` bytes of ``A``)."""

    size: int
    head: bytes = b'{"choices": [{"finish_reason": "stop", "message": {"role": "assistant", ' \
        b'"content": "'
    tail: bytes = b'"}}]}'
    declared: bool = False

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        left = self.size - len(self.head) - len(self.tail)
        while left > 0:
            yield b"A" * min(65536, left)
            left -= 65536
        yield self.tail


@dataclass(frozen=True)
class Status:
    code: int
    body: Any


def chat(message: Mapping[str, Any], finish: str | None = "stop", **extra: Any
         ) -> dict[str, Any]:
    """An OpenAI-style completion around ``message``."""
    return {"id": "c1", "object": "chat.completion", "model": "scripted",
            "choices": [{"index": 0, "message": dict(message), "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5}, **extra}


def gemini(candidate: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """A Gemini-style reply with one candidate (or none)."""
    body: dict[str, Any] = {"usageMetadata": {"promptTokenCount": 3,
                                              "candidatesTokenCount": 5},
                            "modelVersion": "scripted-001", **extra}
    if candidate is not None:
        body["candidates"] = [dict(candidate)]
    return body


def _last_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("prompt"), str):
        return str(body["prompt"])
    if isinstance(body.get("messages"), list) and body["messages"]:
        content = body["messages"][-1].get("content")
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return str(content or "")
    if isinstance(body.get("contents"), list) and body["contents"]:
        parts = body["contents"][-1].get("parts") or []
        return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeReplyServer/0"
    protocol_version = "HTTP/1.1"
    owner: ReplyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(raw)

    def _huge(self, huge: Huge) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if huge.declared:
            self.send_header("Content-Length", str(huge.size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in huge.chunks():
                if huge.declared:
                    self.wfile.write(chunk)
                else:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if not huge.declared:
                self.wfile.write(b"0\r\n\r\n")
            self.owner.note("completed", "huge")
        except OSError:
            self.owner.note("abandoned", "huge")  # the client stopped reading: as it should

    def _answer(self, reply: Any) -> None:
        if isinstance(reply, Huge):
            self._huge(reply)
        elif isinstance(reply, Status):
            self._send(reply.code, json.dumps(reply.body).encode("utf-8"))
        elif isinstance(reply, bytes):
            self._send(200, reply)
        elif isinstance(reply, str):
            self._send(200, reply.encode("utf-8"))
        else:
            self._send(200, json.dumps(reply).encode("utf-8"))

    def do_GET(self) -> None:
        name = self.path.removeprefix("/files/")
        self.owner.note("file", name)
        if name not in self.owner.files:
            self._send(404, b'{"error": {"message": "no such file"}}')
            return
        data = self.owner.files[name]
        if isinstance(data, Huge):
            self._huge(data)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path not in ROUTES and not GEMINI_PATH.match(self.path):
            self._send(404, b'{"error": {"message": "no such route"}}')
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        match = TRIGGER.search(_last_text(body))
        name = match.group("name") if match else "-"
        self.owner.note("reply", name)
        if name not in self.owner.replies:
            self._send(400, json.dumps({"error": {"message": f"no reply {name!r}"}}).encode())
            return
        self._answer(self.owner.replies[name])


class ReplyServer:
    """The server, in a background thread; a context manager."""

    def __init__(self, replies: Mapping[str, Any],
                 files: Mapping[str, bytes | Huge] | None = None) -> None:
        self.replies = dict(replies)
        self.files = dict(files or {})
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    @property
    def gemini_base_url(self) -> str:
        return self.origin + "/v1beta"

    def note(self, what: str, name: str) -> None:
        with self._lock:
            self._counts[f"{what}:{name}"] += 1

    def count(self, what: str, name: str) -> int:
        with self._lock:
            return self._counts[f"{what}:{name}"]

    def __enter__(self) -> ReplyServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
