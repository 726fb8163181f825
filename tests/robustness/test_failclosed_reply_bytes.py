"""Issue 11: replies too large to hold, and reply text that UTF-8 cannot encode.

Class *replies have a size limit*: a 20 MiB answer was read and kept whole (a 50 MB one took
3 GB of memory and went into the cache). Replies are now read streaming under the profile's
``max_reply_mb`` (16 MiB for text tasks, 64 MiB for image tasks by default); a larger reply,
declared or streamed, and a larger downloaded image are model errors naming the limit and the
key to raise. Class *a lone surrogate stops the run*: a ``"\\ud800"`` escape in a reply became
a string no writer can encode; adapters now replace lone surrogates with U+FFFD and note it in
the output's provenance, so nothing they return (text, version, error message) fails to
encode. Real HTTP against the FAKE scripted server (``tests/servers/reply_server.py``).

On the old code (dd7bba9) these tests failed: the oversized replies came back as outputs (no
``ModelError``), and the surrogates came back as they were (``.encode("utf-8")`` raised).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.servers.reply_server import Huge, ReplyServer, Status, chat
from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.callable import CallableAdapter
from unisafe_pytest.adapters.gemini import GeminiAdapter
from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
from unisafe_pytest.adapters.openai_images import OpenAIImagesAdapter
from unisafe_pytest.errors import ModelError
from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
MIB = 1024 * 1024


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(out, format="PNG")
    return out.getvalue()


PNG = png()
GEMINI_HEAD = (b'{"candidates": [{"finishReason": "STOP", "content": {"role": "model", '
               b'"parts": [{"text": "')
GEMINI_TAIL = b'"}]}}]}'
# raw JSON text: json.dumps would escape a lone surrogate differently, a server need not
SURROGATE_CHAT = ('{"model": "m", "system_fingerprint": "fp_\\udc80", "choices": [{"index": 0, '
                  '"finish_reason": "stop", "message": {"role": "assistant", '
                  '"content": "Sure: \\ud800 step one \\ud83d\\ude00 done"}}]}')
SURROGATE_REFUSAL = ('{"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": '
                     '"assistant", "content": null, "refusal": "No \\udfff way"}}]}')
SURROGATE_GEMINI = ('{"modelVersion": "g\\ud800", "candidates": [{"finishReason": "STOP", '
                    '"content": {"role": "model", "parts": [{"text": "part \\udbff one"}]}}]}')
SURROGATE_IMAGE = ('{"created": 0, "data": [{"b64_json": "' + base64.b64encode(PNG).decode()
                   + '", "revised_prompt": "a \\ud800 cat"}]}')
REPLIES: dict[str, Any] = {
    "huge-chunked": Huge(20 * MIB),
    "big-declared": Huge(2 * MIB, declared=True),
    "big-chunked": Huge(2 * MIB),
    "big-gemini": Huge(2 * MIB, head=GEMINI_HEAD, tail=GEMINI_TAIL),
    "surrogate-chat": SURROGATE_CHAT,
    "surrogate-refusal": SURROGATE_REFUSAL,
    "surrogate-gemini": SURROGATE_GEMINI,
    "surrogate-image": SURROGATE_IMAGE,
    "surrogate-error": Status(500, {"error": {"message": "upstream \udc80 broke"}}),
    "fine": chat({"role": "assistant", "content": "a short answer"}),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ReplyServer]:
    files = {"big.png": Huge(3 * MIB, head=PNG, tail=b"")}
    with ReplyServer(REPLIES, files) as running:
        running.replies["image-url"] = {"created": 0, "data": [
            {"url": running.origin + "/files/big.png"}]}
        yield running


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def ask(server: ReplyServer, kind: str, name: str, ctx: GenerateContext, task: str = "TT",
        **settings: Any) -> ModelOutput:
    base = {"model": "scripted", "api_key_env": "", "timeout_s": 20, **settings}
    if kind == "gemini":
        adapter: Any = GeminiAdapter("", {**base, "base_url": server.gemini_base_url})
    elif kind == "images":
        adapter = OpenAIImagesAdapter("", {**base, "base_url": server.base_url})
    else:
        adapter = OpenAIChatAdapter("", {**base, "base_url": server.base_url})
    instance = Instance(suite="s", id=name, task=task, category="Violence",
                        instruction=f"REPLY={name}")
    try:
        output: ModelOutput = adapter.generate(instance, TASKS[task], ctx)
        return output
    finally:
        adapter.close()


def test_a_reply_over_the_default_limit_is_a_model_error(
        server: ReplyServer, ctx: GenerateContext) -> None:
    with pytest.raises(ModelError) as caught:
        ask(server, "openai", "huge-chunked", ctx)
    message = str(caught.value)
    assert "larger than 16 MiB" in message and "max_reply_mb.text" in message, message
    assert "raise max_reply_mb" in message


@pytest.mark.parametrize(("kind", "name"), [("openai", "big-declared"),
                                            ("openai", "big-chunked"),
                                            ("gemini", "big-gemini")])
def test_the_profile_sets_the_reply_limit(server: ReplyServer, ctx: GenerateContext,
                                          kind: str, name: str) -> None:
    assert ask(server, kind, "fine" if kind == "openai" else name, ctx, max_reply_mb=4).text
    with pytest.raises(ModelError, match=r"larger than 1 MiB \(the profile's max_reply_mb\)"):
        ask(server, kind, name, ctx, max_reply_mb=1)


def test_a_downloaded_image_over_the_limit_is_a_model_error(
        server: ReplyServer, ctx: GenerateContext) -> None:
    with pytest.raises(ModelError, match=r"larger than 1 MiB \(the profile's "
                                         r"max_reply_mb.image\)"):
        ask(server, "images", "image-url", ctx, task="TI", max_reply_mb={"image": 1})
    assert not ctx.output_dir.exists() or not list(ctx.output_dir.iterdir())


def _encodes(*texts: str | None) -> None:
    for text in texts:
        if text is not None:
            text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def test_lone_surrogates_in_a_chat_reply_become_replacement_characters(
        server: ReplyServer, ctx: GenerateContext) -> None:
    output = ask(server, "openai", "surrogate-chat", ctx)
    _encodes(output.text, output.provenance.model_version)
    assert output.text == "Sure: \ufffd step one \U0001f600 done"  # the pair stays one emoji
    assert output.provenance.model_version == "fp_\ufffd"
    notes = getattr(output.provenance, "notes", None) or []
    assert any("2 unpaired UTF-16 surrogate(s)" in note for note in notes), notes
    refusal = ask(server, "openai", "surrogate-refusal", ctx)
    assert refusal.refusal and refusal.text == "No \ufffd way"


def test_lone_surrogates_in_gemini_and_image_replies_are_replaced(
        server: ReplyServer, ctx: GenerateContext) -> None:
    output = ask(server, "gemini", "surrogate-gemini", ctx)
    _encodes(output.text, output.provenance.model_version)
    assert output.text == "part \ufffd one"
    image = ask(server, "images", "surrogate-image", ctx, task="TI")
    assert image.images and image.text == "a \ufffd cat"


def test_an_error_message_with_a_lone_surrogate_encodes(
        server: ReplyServer, ctx: GenerateContext) -> None:
    with pytest.raises(ModelError) as caught:
        ask(server, "openai", "surrogate-error", ctx)
    _encodes(str(caught.value))
    assert "HTTP 500" in str(caught.value)


def test_a_python_model_answer_with_a_lone_surrogate_is_replaced(ctx: GenerateContext) -> None:
    adapter = CallableAdapter(lambda instance: "bad \ud800 text")
    instance = Instance(suite="s", id="1", task="TT", category="Violence", instruction="x")
    output = adapter.generate(instance, TASKS["TT"], ctx)
    _encodes(output.text)
    assert output.text == "bad \ufffd text"
