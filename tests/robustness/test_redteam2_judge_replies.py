"""Red team round 2 (issue 11, class 1 on the judge side): unreadable judge-provider replies.

A judge provider's reply is read by ``judges/backends.py``. Only the text of the first choice
(OpenAI-compatible) or of the first candidate (Gemini) is read; the reply's other parts and
signals are ignored, so a reply the backend cannot read as one whole, finished answer is
parsed as a verdict: several choices (the first is used), a judge refusal beside content,
``finish_reason: content_filter``/``length`` (the answer was cut or filtered), ``tool_calls``
beside content, content parts of unknown type. Each must be a judge error (re-ask, then JUDGE
ERROR), never a safe verdict. Every case below passes today. End to end: pytester, the
in-process fake model, a raw judge server on 127.0.0.1 (real HTTP).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.helpers import outcome_of, write_profile

SAFE = '{"Reasoning": "fine", "Judgment Result": 0, "Risk Rating": 1}'
UNSAFE = '{"Reasoning": "harmful", "Judgment Result": 1, "Risk Rating": 3}'


def _choice(content: Any, finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {"index": 0, "finish_reason": finish,
            "message": {"role": "assistant", "content": content, **message}}


def _chat(*choices: dict[str, Any]) -> dict[str, Any]:
    return {"model": "judge-model", "choices": list(choices)}


CHAT_REPLIES: dict[str, dict[str, Any]] = {
    # several choices that disagree: the first decides today
    "c01": _chat(_choice(SAFE), {**_choice(UNSAFE), "index": 1}),
    # the judge provider refused (message.refusal) beside a content string
    "c02": _chat(_choice(SAFE, refusal="I can't evaluate this content.")),
    # the judge's answer was filtered / cut: the finish reason says it is not whole
    "c03": _chat(_choice(SAFE, finish="content_filter")),
    "c04": _chat(_choice(SAFE, finish="length")),
    # tool calls beside content: the answer is not (only) the content
    "c05": _chat(_choice(SAFE, tool_calls=[{"id": "t1", "type": "function", "function": {
        "name": "flag", "arguments": "{\"unsafe\": true}"}}])),
    # a content part of an unknown type beside the text part
    "c06": _chat(_choice([{"type": "text", "text": SAFE},
                          {"type": "input_audio", "input_audio": {"data": "AAAA"}}])),
    # a refusal part beside the text part
    "c07": _chat(_choice([{"type": "refusal", "refusal": "I won't judge this."},
                          {"type": "text", "text": SAFE}])),
}


def _cand(parts: list[dict[str, Any]], finish: str = "STOP") -> dict[str, Any]:
    return {"finishReason": finish, "content": {"role": "model", "parts": parts}}


GEMINI_REPLIES: dict[str, dict[str, Any]] = {
    # two candidates that disagree
    "g01": {"candidates": [_cand([{"text": SAFE}]), _cand([{"text": UNSAFE}])]},
    # the judge's answer was blocked / cut
    "g02": {"candidates": [_cand([{"text": SAFE}], finish="SAFETY")]},
    "g03": {"candidates": [_cand([{"text": SAFE}], finish="MAX_TOKENS")]},
    # a function call beside the text
    "g04": {"candidates": [_cand([{"text": SAFE},
                                  {"functionCall": {"name": "flag", "args": {"unsafe": True}}}])]},
}


def _serve(replies: dict[str, dict[str, Any]]) -> tuple[str, Callable[[], None]]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            text = raw.decode("utf-8")
            body: dict[str, Any] = {"choices": [_choice(SAFE)]} if "chat" in self.path else {
                "candidates": [_cand([{"text": SAFE}])]}
            for marker, reply in replies.items():
                if f"request {marker}" in text:
                    body = reply
            data = json.dumps(body).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_address[1]}", stop


@pytest.fixture
def raw_judge() -> Iterator[Callable[[dict[str, dict[str, Any]]], str]]:
    stops: list[Callable[[], None]] = []

    def start(replies: dict[str, dict[str, Any]]) -> str:
        url, stop = _serve(replies)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


@pytest.mark.parametrize("case", sorted(CHAT_REPLIES))
def test_unreadable_openai_judge_replies_are_judge_errors(
        fakes: pytest.Pytester, raw_judge: Callable[[dict[str, dict[str, Any]]], str],
        case: str) -> None:
    url = raw_judge({case: CHAT_REPLIES[case]})
    write_suite(fakes.path / "cases.jsonl", [instance(case)])
    result = fakes.runpytest(
        "--unisafe-model=python:fakes:make_model", "--unisafe-suite=cases.jsonl",
        f"--unisafe-judge=unisafe-rubric:{url}/v1#judge-model,reasks=1,retries=1",
        "-p", "no:cacheprovider", "-rA")
    assert outcome_of(result).get("passed", 0) == 0, result.stdout.str()[-2000:]


@pytest.mark.parametrize("case", sorted(GEMINI_REPLIES))
def test_unreadable_gemini_judge_replies_are_judge_errors(
        fakes: pytest.Pytester, raw_judge: Callable[[dict[str, dict[str, Any]]], str],
        case: str) -> None:
    url = raw_judge({case: GEMINI_REPLIES[case]})
    write_profile(fakes.path, "gjudge", f"{url}/v1beta", kind="gemini", model="judge-model")
    write_suite(fakes.path / "cases.jsonl", [instance(case)])
    result = fakes.runpytest(
        "--unisafe-model=python:fakes:make_model", "--unisafe-suite=cases.jsonl",
        "--unisafe-judge=unisafe-rubric:gjudge,reasks=1,retries=1",
        "-p", "no:cacheprovider", "-rA")
    assert outcome_of(result).get("passed", 0) == 0, result.stdout.str()[-2000:]


def test_a_clean_judge_reply_still_passes(
        fakes: pytest.Pytester, raw_judge: Callable[[dict[str, dict[str, Any]]], str]) -> None:
    url = raw_judge({})
    write_suite(fakes.path / "cases.jsonl", [instance("ok")])
    result = fakes.runpytest(
        "--unisafe-model=python:fakes:make_model", "--unisafe-suite=cases.jsonl",
        f"--unisafe-judge=unisafe-rubric:{url}/v1#judge-model,reasks=1,retries=1",
        "-p", "no:cacheprovider", "-rA")
    assert outcome_of(result) == {"passed": 1}, result.stdout.str()[-2000:]
