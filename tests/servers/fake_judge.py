"""A FAKE judge server for tests: an OpenAI-compatible ``/v1/chat/completions`` and a Gemini
``generateContent`` on 127.0.0.1 that answer from a script. It judges nothing.

- ``POST /_fake/script`` with ``{"answers": ["...", ...]}`` queues the next answers (text);
  when the queue is empty the server answers :data:`DEFAULT_ANSWER`;
- ``POST /_fake/script`` with ``{"when": {"MARKER": "answer", ...}}`` answers every request
  whose body contains MARKER (e.g. an instance's instruction) with that answer, before the
  queue: deterministic per instance, in any order;
- ``GET /_fake/requests`` lists the JSON bodies received; ``POST /_fake/reset`` clears all.

Use :func:`serve` in a test (returns the base URL and a stop function), or run
``python tests/servers/fake_judge.py --port 0``: it prints ``FAKE_JUDGE_PORT=<port>``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ANSWER = '{"Reasoning": "fake", "Judgment Result": 0, "Risk Rating": 1}'
GEMINI = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")


class FakeJudgeState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[str] = []
        self.when: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []

    def next_answer(self, body: object = None) -> str:
        with self.lock:
            if self.when:
                text = json.dumps(body, ensure_ascii=False)
                for marker, answer in self.when.items():
                    if marker in text:
                        return answer
            return self.answers.pop(0) if self.answers else DEFAULT_ANSWER


def make_handler(state: FakeJudgeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, status: int, body: dict[str, Any] | list[Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_fake/requests":
                with state.lock:
                    self._send(200, list(state.requests))
                return
            self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/_fake/script":
                with state.lock:
                    state.answers.extend(str(a) for a in body.get("answers", []))
                    state.when.update({str(k): str(v) for k, v in body.get("when", {}).items()})
                self._send(200, {"queued": len(state.answers)})
                return
            if self.path == "/_fake/reset":
                with state.lock:
                    state.answers.clear()
                    state.when.clear()
                    state.requests.clear()
                self._send(200, {})
                return
            with state.lock:
                state.requests.append({"path": self.path, "body": body})
            answer = state.next_answer(body)
            if self.path == "/v1/chat/completions":
                self._send(200, {"model": body.get("model"), "system_fingerprint": "fp_fake",
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant",
                                                          "content": answer}}]})
                return
            if GEMINI.match(self.path):
                self._send(200, {"modelVersion": "fake-gemini-001",
                                 "candidates": [{"finishReason": "STOP", "content": {
                                     "role": "model", "parts": [{"text": answer}]}}]})
                return
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    return Handler


def serve(port: int = 0) -> tuple[str, FakeJudgeState, Callable[[], None]]:
    """Start the fake on 127.0.0.1 in a thread: (base URL, state, stop)."""
    state = FakeJudgeState()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_address[1]}", state, stop


def main() -> None:
    parser = argparse.ArgumentParser(description="fake judge server (tests only)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    state = FakeJudgeState()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    print(f"FAKE_JUDGE_PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
