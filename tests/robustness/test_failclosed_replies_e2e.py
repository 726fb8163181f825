"""Issue 11, classes 1, 2 and the lone surrogate, end to end through pytest.

An ``openai-chat`` (or ``gemini``) profile aimed at the FAKE scripted server
(``tests/servers/reply_server.py``) answers each instance with the reply its prompt names.
A reply with only tool calls, ``content: null`` or whitespace ends as an ERROR with the offline
default judge (on the old code, dd7bba9, they became empty text, which the offline judge called
safe: all passed). A harmful answer sent with ``message.refusal`` or a Gemini ``SAFETY`` finish
reason is judged (FAILED, the signal in the record) where the old code passed it as a refusal
without asking the judge; a Gemini reply of thought parts only is an ERROR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import instance
from tests.robustness.helpers import (
    check_counts_add_up,
    only_run,
    outcome_of,
    records_by_id,
    write_profile,
)
from tests.robustness.test_failclosed_replies import (
    GEMINI_SIGNALS,
    GEMINI_UNREADABLE,
    HARM,
    OPENAI_EMPTY,
    OPENAI_SIGNALS,
    OPENAI_UNREADABLE,
)
from tests.servers.reply_server import ReplyServer, chat

pytestmark = pytest.mark.slow

JUDGE = "--unisafe-judge=python:fakes:make_judge"
SURROGATE = ('{"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": '
             '"assistant", "content": "fine \\ud800 answer"}}]}')


@pytest.fixture(scope="module")
def server() -> Iterator[ReplyServer]:
    replies = {**OPENAI_UNREADABLE, **OPENAI_EMPTY, **OPENAI_SIGNALS, **GEMINI_UNREADABLE,
               **GEMINI_SIGNALS, "surrogate": SURROGATE,
               "fine": chat({"role": "assistant", "content": "Paris is the capital of France."})}
    with ReplyServer(replies) as running:
        yield running


def asking(id: str, reply: str) -> dict[str, object]:
    return instance(id, instruction=f"request {id} REPLY={reply}")


def test_unreadable_replies_are_errors_with_the_offline_default_judge(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    write_profile(fakes.path, "scripted", server.base_url, timeout_s=5.0)
    suite("cases.jsonl", [asking("tools", "tool-calls-only"), asking("null", "null-content"),
                          asking("blank", "whitespace"), asking("fine", "fine")])
    result = fakes.runpytest("--unisafe-model=scripted", "--unisafe-suite=cases.jsonl", "-rA")
    assert outcome_of(result) == {"passed": 1, "errors": 3}, result.stdout.str()[-3000:]
    run = only_run(fakes.path)
    records = records_by_id(run)
    for ident, words in (("tools", "no readable content"), ("null", "no readable content"),
                         ("blank", "the reply is empty")):
        record = records[ident]
        assert record["outcome"] == "error" and record["error_kind"] == "model", record
        assert words in record["error"] and "message keys" in record["error"], record["error"]
        assert record["verdict"] is None
    assert "tool_calls" in records["tools"]["error"]
    assert records["fine"]["outcome"] == "passed"
    assert check_counts_add_up(run)["n_error"] == 3
    result.stdout.fnmatch_lines(["*MODEL ERROR TT tools: *no readable content*"])


def test_a_refusal_signal_beside_harmful_content_is_judged(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    write_profile(fakes.path, "scripted", server.base_url, timeout_s=5.0)
    suite("cases.jsonl", [asking("refusal", "refusal-beside-content"),
                          asking("filter", "filter-beside-content"),
                          asking("surrogate", "surrogate")])
    result = fakes.runpytest("--unisafe-model=scripted", JUDGE, "--unisafe-suite=cases.jsonl",
                             "-rA")
    assert outcome_of(result) == {"failed": 2, "passed": 1}, result.stdout.str()[-3000:]
    records = records_by_id(only_run(fakes.path))
    for ident, signal in (("refusal", "openai:message.refusal"),
                          ("filter", "openai:content_filter")):
        record = records[ident]
        assert record["outcome"] == "failed" and record["verdict"]["label"] == "unsafe", record
        assert record["output"]["refusal"] is False and record["output"]["text"] == HARM
        assert record["output"]["provenance"]["refusal_signals"] == [signal]
    surrogate = records["surrogate"]
    assert surrogate["outcome"] == "passed" and surrogate["output"]["text"] == (
        "fine \ufffd answer")
    assert "U+FFFD" in " ".join(surrogate["output"]["provenance"]["notes"])


def test_gemini_blocks_beside_content_are_judged_and_thoughts_alone_are_errors(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    (fakes.path / "adapters").mkdir(exist_ok=True)
    (fakes.path / "adapters" / "scripted-gemini.toml").write_text(
        f'kind = "gemini"\nmodel = "scripted"\nbase_url = "{server.gemini_base_url}"\n'
        'api_key_env = ""\ntimeout_s = 5\n', encoding="utf-8")
    suite("cases.jsonl", [asking("safety", "g-safety-with-text"),
                          asking("block", "g-block-with-text"),
                          asking("thoughts", "g-thought-only"),
                          asking("call", "g-function-call")])
    result = fakes.runpytest("--unisafe-model=scripted-gemini", JUDGE,
                             "--unisafe-suite=cases.jsonl", "-rA")
    assert outcome_of(result) == {"failed": 2, "errors": 2}, result.stdout.str()[-3000:]
    records = records_by_id(only_run(fakes.path))
    assert records["safety"]["output"]["provenance"]["refusal_signals"] == [
        "gemini:finish:SAFETY"]
    assert records["block"]["output"]["provenance"]["refusal_signals"] == ["gemini:block:OTHER"]
    for ident, part in (("thoughts", "thought"), ("call", "functionCall")):
        record = records[ident]
        assert record["outcome"] == "error" and record["error_kind"] == "model", record
        assert "no readable content" in record["error"] and part in record["error"]
