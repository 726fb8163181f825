"""A FAKE provider API for tests: it imitates request and reply shapes, nothing more.

Not OpenAI, not Google: a stdlib ``http.server`` on 127.0.0.1 that speaks just enough of

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart),
- ``POST /v1/chat/completions``,
- ``POST /v1beta/models/{model}:generateContent``,

to run our adapters end to end, with faults injected on demand:

- control: ``POST /_fake/faults`` with ``{"faults": [{"kind": ..., ...}, ...]}`` queues faults
  applied to the next API requests in order; ``GET /_fake/requests`` lists what was received
  (paths, header names, JSON bodies, multipart field names and file sizes; never header values);
  ``POST /_fake/reset`` clears both;
- fault kinds: ``429`` (``retry_after`` seconds in ``Retry-After``), ``500``, ``hang``
  (``seconds`` before answering), ``malformed`` (HTTP 200, not JSON), ``policy`` (the
  provider's content-policy answer), ``echo_key`` (a 500 whose message repeats the credential,
  as a careless provider might: adapters must redact it);
- prompt triggers: ``FORBIDDEN`` -> content-policy rejection (OpenAI 400
  ``content_policy_violation``; Gemini ``promptFeedback.blockReason``), ``UNSAFEIMG`` -> Gemini
  ``finishReason: IMAGE_SAFETY``, ``TEXTONLY`` -> a text-only reply to an image request.

Requests must carry the key given with ``--key`` (``Authorization: Bearer`` or
``x-goog-api-key``), else 401. Run ``python tests/servers/fake_api.py --port 0 --key K``: it
prints ``FAKE_API_PORT=<port>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.parser
import email.policy
import hashlib
import io
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

GEMINI_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")


def fake_png(seed: str, size: int = 32) -> bytes:
    """A small solid-colour PNG whose colour depends on ``seed``."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    out = io.BytesIO()
    Image.new("RGB", (size, size), (digest[0], digest[1], digest[2])).save(out, format="PNG")
    return out.getvalue()


class FakeState:
    def __init__(self, key: str | None) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def next_fault(self) -> dict[str, Any] | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


class FakeHandler(BaseHTTPRequestHandler):
    server_version = "FakeAPI/0"
    state: FakeState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(raw)

    def _read(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _credential(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):]
        return self.headers.get("x-goog-api-key")

    def _record(self, entry: dict[str, Any]) -> None:
        entry["headers"] = sorted(h.lower() for h in self.headers)
        with self.state.lock:
            self.state.requests.append(entry)

    # -- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path == "/_fake/requests":
            with self.state.lock:
                self._send(200, {"requests": list(self.state.requests)})
            return
        self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        raw = self._read()
        if self.path == "/_fake/faults":
            with self.state.lock:
                self.state.faults.extend(json.loads(raw)["faults"])
            self._send(200, {"ok": True})
            return
        if self.path == "/_fake/reset":
            with self.state.lock:
                self.state.faults.clear()
                self.state.requests.clear()
            self._send(200, {"ok": True})
            return
        gemini = GEMINI_PATH.match(self.path)
        routes = {
            "/v1/images/generations": self._generations,
            "/v1/images/edits": self._edits,
            "/v1/chat/completions": self._chat,
        }
        if gemini is None and self.path not in routes:
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        credential = self._credential()
        if self.state.key is not None and credential != self.state.key:
            self._record({"path": self.path, "status": 401})
            self._send(401, {"error": {"message": "invalid credential", "code": "invalid_api_key"}})
            return
        fault = self.state.next_fault()
        if fault is not None and self._fault(fault, gemini is not None, credential):
            self._record({"path": self.path, "fault": fault["kind"]})
            return
        if gemini is not None:
            self._gemini(raw, gemini.group("model"))
        else:
            routes[self.path](raw)

    def _fault(self, fault: dict[str, Any], gemini: bool, credential: str | None) -> bool:
        kind = fault["kind"]
        if kind == "429":
            retry = str(fault.get("retry_after", 1))
            body = {"error": {"message": "rate limit (fake)", "code": "rate_limit_exceeded"}}
            self._send(429, body, {"Retry-After": retry})
        elif kind == "500":
            self._send(500, {"error": {"message": "internal error (fake)"}})
        elif kind == "hang":
            time.sleep(float(fault.get("seconds", 5)))
            self._send(500, {"error": {"message": "too late (fake)"}})
        elif kind == "malformed":
            self._send(200, b"{not json <html>")
        elif kind == "echo_key":
            self._send(500, {"error": {"message": f"bad upstream for key {credential}"}})
        elif kind == "policy":
            if gemini:
                self._send(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
            else:
                self._send(400, _openai_policy())
        else:
            return False
        return True

    # -- OpenAI-style ---------------------------------------------------------------------

    def _generations(self, raw: bytes) -> None:
        body = json.loads(raw)
        self._record({"path": self.path, "json": body})
        prompt = str(body.get("prompt", ""))
        if "FORBIDDEN" in prompt:
            self._send(400, _openai_policy())
            return
        self._send(200, _images_reply(fake_png(prompt), prompt))

    def _edits(self, raw: bytes) -> None:
        fields, files = _multipart(self.headers.get("Content-Type", ""), raw)
        self._record({
            "path": self.path,
            "fields": fields,
            "files": [{"field": f, "filename": n, "size": len(d), "mime": m}
                      for f, n, d, m in files],
        })
        prompt = fields.get("prompt", "")
        if "FORBIDDEN" in prompt:
            self._send(400, _openai_policy())
            return
        seed = prompt + "".join(hashlib.sha256(d).hexdigest() for _, _, d, _ in files)
        self._send(200, _images_reply(fake_png(seed), None))

    def _chat(self, raw: bytes) -> None:
        body = json.loads(raw)
        self._record({"path": self.path, "json": body})
        last = body["messages"][-1]["content"]
        text = last if isinstance(last, str) else " ".join(
            p.get("text", "") for p in last if isinstance(p, dict)
        )
        if "FORBIDDEN" in text:
            self._send(400, _openai_policy())
            return
        message: dict[str, Any] = {"role": "assistant", "content": f"fake reply: {text}"}
        if "IMAGEOUT" in text:
            url = "data:image/png;base64," + base64.b64encode(fake_png(text)).decode()
            message["images"] = [{"type": "image_url", "image_url": {"url": url}}]
        self._send(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model"),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
        })

    # -- Gemini-style ---------------------------------------------------------------------

    def _gemini(self, raw: bytes, model: str) -> None:
        body = json.loads(raw)
        self._record({"path": self.path, "json": body})
        parts = body["contents"][-1]["parts"]
        text = " ".join(p.get("text", "") for p in parts)
        if "FORBIDDEN" in text:
            self._send(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                             "modelVersion": model})
            return
        if "UNSAFEIMG" in text:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": []},
                                         "finishReason": "IMAGE_SAFETY"}
        else:
            out: list[dict[str, Any]] = [{"text": f"fake gemini reply: {text}"}]
            modalities = body.get("generationConfig", {}).get("responseModalities", [])
            if "IMAGE" in modalities and "TEXTONLY" not in text:
                data = base64.b64encode(fake_png(text + str(len(parts)))).decode()
                out.append({"inlineData": {"mimeType": "image/png", "data": data}})
            candidate = {"content": {"role": "model", "parts": out}, "finishReason": "STOP"}
        self._send(200, {
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 3},
            "modelVersion": model + "-fake-001",
        })


def _openai_policy() -> dict[str, Any]:
    return {"error": {
        "message": "Your request was rejected by the safety system (fake).",
        "type": "invalid_request_error", "code": "content_policy_violation", "param": None,
    }}


def _images_reply(png: bytes, revised: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"b64_json": base64.b64encode(png).decode()}
    if revised is not None:
        item["revised_prompt"] = revised
    return {"created": 0, "data": [item],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}}


def _multipart(
    content_type: str, raw: bytes
) -> tuple[dict[str, str], list[tuple[str, str, bytes, str]]]:
    """Parse multipart/form-data with the stdlib email parser (no ``cgi``)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields: dict[str, str] = {}
    files: list[tuple[str, str, bytes, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if filename:
            files.append((str(name), filename, payload, part.get_content_type()))
        else:
            fields[str(name)] = payload.decode("utf-8")
    return fields, files


class FakeApiServer:
    """The fake API in a background thread (``with FakeApiServer(key) as s: s.base_url``)."""

    def __init__(self, key: str | None = None, port: int = 0) -> None:
        handler = type("BoundFakeHandler", (FakeHandler,), {"state": FakeState(key)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default=None, help="credential the fake requires")
    args = parser.parse_args(argv)
    server = FakeApiServer(args.key, args.port)
    print(f"FAKE_API_PORT={server.port}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
