"""judges/reading.py: a judge's reply is one whole, finished text answer, or a JudgeError
(issue 11, red team round 2; the old backends read the first choice's / candidate's text)."""

from __future__ import annotations

from typing import Any

import pytest

from unisafe_pytest.errors import JudgeError
from unisafe_pytest.judges.reading import gemini_judge_text, openai_judge_text

V = '{"Judgment Result": 0}'


def chat(message: dict[str, Any], finish: Any = "stop", **choice: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", **message}, **choice}]}


def gem(parts: list[Any], finish: Any = "STOP", **body: Any) -> dict[str, Any]:
    return {"candidates": [{"finishReason": finish, "content": {"parts": parts}}], **body}


@pytest.mark.parametrize("reply", [
    chat({"content": V}),
    chat({"content": [{"type": "text", "text": V}]}),
    chat({"content": [{"type": "output_text", "text": V}]}),
    chat({"content": V, "refusal": None}),
    chat({"content": V, "refusal": "false"}),
])
def test_a_whole_openai_answer_is_read(reply: dict[str, Any]) -> None:
    assert openai_judge_text(reply, "j") == V


@pytest.mark.parametrize("reply", [
    {},
    {"choices": []},
    {"choices": "x"},
    {"choices": [None]},
    chat({"content": V}, finish=None),
    chat({"content": V}, finish="eos"),
    chat({"content": V}, finish="tool_calls"),
    chat({"content": None}),
    chat({"content": 7}),
    chat({"content": [{"type": "text", "text": {"v": 0}}]}),
    chat({"content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}, V]}),
    chat({"content": V, "images": [{"image_url": {"url": "https://x/y.png"}}]}),
    chat({"content": V, "function_call": {"name": "f"}}),
    chat({"content": V, "audio": {"data": "AAAA"}}),
    chat({"content": V, "refusal": "I refuse."}),
    chat({"content": V}, finish="content_filter"),
    {"choices": [chat({"content": V})["choices"][0]] * 2},
])
def test_an_openai_reply_that_is_not_one_whole_text_answer_is_an_error(
        reply: dict[str, Any]) -> None:
    with pytest.raises(JudgeError, match="judge 'j'"):
        openai_judge_text(reply, "j")


def test_gemini_thought_parts_are_skipped() -> None:
    reply = gem([{"text": "thinking...", "thought": True}, {"text": V}])
    assert gemini_judge_text(reply, "j") == V


@pytest.mark.parametrize("reply", [
    {},
    {"candidates": []},
    gem([{"text": V}], finish=None),
    gem([{"text": V}], finish="RECITATION"),
    gem([{"text": V}], finish="FINISH_REASON_UNSPECIFIED"),
    gem([]),
    {"candidates": [{"finishReason": "STOP"}]},
    gem([{"text": V}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]),
    gem([{"text": V}, {"executableCode": {"code": "print(1)"}}]),
    gem([{"text": V}], promptFeedback={"blockReason": "SAFETY"}),
])
def test_a_gemini_reply_that_is_not_one_whole_text_answer_is_an_error(
        reply: dict[str, Any]) -> None:
    with pytest.raises(JudgeError, match="judge 'j'"):
        gemini_judge_text(reply, "j")


def test_a_cut_answer_says_to_raise_max_tokens() -> None:
    with pytest.raises(JudgeError, match="max_tokens"):
        openai_judge_text(chat({"content": V}, finish="length"), "j")
    with pytest.raises(JudgeError, match="max_tokens"):
        gemini_judge_text(gem([{"text": V}], finish="MAX_TOKENS"), "j")
