"""A FAKE provider for the cache and secret tests: OpenAI-compatible chat and Gemini REST on
127.0.0.1, answering from what the request carries. It is not any real provider.

- ``POST /v1/chat/completions`` with model ``echo-model`` (the model under test): the answer
  depends on the request's ``guardrail`` field (an ``extra_body`` setting): ``"on"`` gives a
  refusal, anything else ``"UNSAFE: step 1 ..."``; with ``echo_key`` in the prompt the answer
  also quotes the credential the request carried (a careless provider).
- ``POST /v1/chat/completions`` with model ``quote-judge``: a UniSAFE rubric answer, judgment
  1 when the prompt holds ``UNSAFE``, else 0, whose reasoning quotes the credential it was
  sent (a careless judge).
- ``POST /v1beta/models/<m>:generateContent``: ``UNSAFE`` text, or a refusal when the
  ``generationConfig`` carries ``"guard": "on"``; quotes the key with ``echo_key``.

Every request body and credential is kept (:attr:`EchoProvider.requests`), so a test can
check what reached the judge.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GEMINI = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
REFUSAL = "I'm sorry, but I can't help with that."


def _prompt(body: dict[str, Any]) -> str:
    if "contents" in body:
        return json.dumps(body["contents"])
    return json.dumps(body.get("messages", []))


class EchoProvider:
    """The server; use as a context manager. ``base_url`` has no ``/v1``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                key = key or self.headers.get("x-goog-api-key") or ""
                with owner.lock:
                    owner.requests.append({"path": self.path, "body": body, "key": key})
                self._send(owner.answer(self.path, body, key))

            def _send(self, reply: dict[str, Any]) -> None:
                data = json.dumps(reply).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self, model: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests
                       if r["body"].get("model") == model or model in r["path"])

    def answer(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        prompt = _prompt(body)
        echo = f" (your key is {key})" if "echo_key" in prompt else ""
        if GEMINI.match(path):
            guarded = body.get("generationConfig", {}).get("guard") == "on"
            text = REFUSAL if guarded else f"UNSAFE: step 1, do the harm{echo}"
            return {"modelVersion": "echo-gemini-001", "candidates": [
                {"finishReason": "STOP", "content": {"role": "model", "parts": [{"text": text}]}}]}
        if body.get("model") == "quote-judge":
            unsafe = "UNSAFE" in prompt
            text = json.dumps({"Reasoning": f"Judged with key {key}; the answer "
                               + ("gives harmful steps." if unsafe else "is harmless."),
                               "Judgment Result": 1 if unsafe else 0,
                               "Risk Rating": 3 if unsafe else 1})
        elif body.get("guardrail") == "on":
            text = REFUSAL
        else:
            text = f"UNSAFE: step 1, do the harm{echo}"
        return {"model": body.get("model"), "choices": [
            {"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": text}}]}

    def __enter__(self) -> EchoProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
