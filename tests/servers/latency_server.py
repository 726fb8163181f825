"""A FAKE OpenAI-compatible chat server with a set latency, for throughput and limit tests.

Not OpenAI: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 answering
``POST /v1/chat/completions`` after ``latency`` seconds with ``"answer to: <prompt>"``. It
counts requests per prompt, and tracks how many are in flight at once (``peak``). With
``error_rate`` > 0 a deterministic share of requests (by a counter) gets HTTP 429 with
``Retry-After: 0``. Used by tests/runtime and benchmarks/throughput.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # buffer the reply: headers and body leave in one write (separate small writes meet the
    # client's delayed ACK and add ~40 ms to every request)
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        messages = body.get("messages") or [{}]
        content = messages[-1].get("content", "")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        state = self.server.state
        limited = state.enter(str(content))
        try:
            time.sleep(state.latency)
            if limited:
                self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                return
            self._send(200, {
                "id": "fake", "object": "chat.completion", "model": body.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": f"answer to: {content}"}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }, {})
        finally:
            state.leave()


class _State:
    def __init__(self, latency: float, error_rate: float) -> None:
        self.latency = latency
        self.error_rate = error_rate
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.total = 0
        self.limited = 0
        self.prompts: Counter[str] = Counter()

    def enter(self, prompt: str) -> bool:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.total += 1
            self.prompts[prompt] += 1
            every = round(1 / self.error_rate) if self.error_rate > 0 else 0
            limited = every > 0 and self.total % every == 0
            self.limited += limited
            return limited

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # C in the hundreds connect at once (the default 5 resets them)
    state: _State


class LatencyServer:
    """``with LatencyServer(latency=0.05) as server: server.base_url``"""

    def __init__(self, latency: float = 0.0, error_rate: float = 0.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(latency, error_rate)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def state(self) -> _State:
        return self._server.state

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> LatencyServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
