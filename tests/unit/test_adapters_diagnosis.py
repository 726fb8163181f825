"""Server errors whose cause is known are translated into the fix and not retried (issue 15).

Real HTTP to a FAKE scripted server on 127.0.0.1 (``tests/servers/reply_server.py``), through
the ``openai-chat`` and ``gemini`` adapters and ``runtime.retry.call_with_retries``. On the old
code (dd7bba9) these messages were the server's words alone (``HTTP 500: can only concatenate
str (not "list") to str``), and every 5xx among them was retried: each test here failed there.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.servers.reply_server import ReplyServer, Status
from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.diagnosis import Sent, carries_images, diagnose
from unisafe_pytest.adapters.gemini import GeminiAdapter
from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
from unisafe_pytest.errors import ModelError
from unisafe_pytest.runtime.retry import call_with_retries
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
MODEL = "ByteDance-Seed/BAGEL-7B-MoT"
VLLM_TEMPLATE = 'can only concatenate str (not "list") to str'
REPLIES: dict[str, Any] = {
    "template": Status(500, {"object": "error", "message": VLLM_TEMPLATE,
                             "type": "InternalServerError", "code": 500}),
    "zero-images": Status(400, {"error": {"message": "At most 0 image(s) may be provided in "
                                          "one request.", "code": 400}}),
    "context": Status(400, {"object": "error", "type": "BadRequestError", "code": 400,
                            "message": "This model's maximum context length is 4096 tokens. "
                                       "However, you requested 5000 tokens (3976 in the "
                                       "messages, 1024 in the completion)."}),
    "llamacpp-context": Status(400, {"error": {"code": 400, "type": "exceed_context_size_error",
                                               "message": "the request exceeds the available "
                                                          "context size"}}),
    "missing-model": Status(404, {"object": "error", "type": "NotFoundError", "code": 404,
                                  "message": f"The model `{MODEL}` does not exist."}),
    "openai-missing": Status(404, {"error": {"code": "model_not_found", "message":
                                             "The requested model was not found."}}),
    "plain-500": Status(500, {"error": {"message": "CUDA out of memory"}}),
}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[ReplyServer]:
    with ReplyServer(REPLIES) as running:
        yield running


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def chat_model(server: ReplyServer, **extra: Any) -> OpenAIChatAdapter:
    settings = {"profile": "bagel-vllm", "model": MODEL, "base_url": server.base_url,
                "api_key_env": "", "max_tokens": 1024, "timeout_s": 5, **extra}
    return OpenAIChatAdapter("", settings)


def ask(reply: str, *, image: bool = True) -> Instance:
    images = [Media.from_bytes(png(), ref="a")] if image else []
    return Instance(suite="s", id=reply, task="MU" if image else "TT", category="Violence",
                    instruction=f"describe REPLY={reply}", images=images)


def failure(server: ReplyServer, adapter: Any, instance: Instance, ctx: GenerateContext,
            name: str) -> tuple[ModelError, int]:
    """The error of a retried call, and how many requests the server got for it."""
    before = server.count("reply", name)
    try:
        with pytest.raises(ModelError) as info:
            call_with_retries(lambda: adapter.generate(instance, TASKS[instance.task], ctx),
                              max_attempts=4, base_delay=0.0, max_delay=0.0)
    finally:
        adapter.close()
    return info.value, server.count("reply", name) - before


@pytest.mark.parametrize("reply", ["template", "zero-images"])
def test_image_parts_refused_names_vision_false_and_is_not_retried(
        server: ReplyServer, ctx: GenerateContext, reply: str) -> None:
    error, calls = failure(server, chat_model(server), ask(reply), ctx, reply)
    message = str(error)
    assert "takes no image parts" in message and "vision = false" in message, message
    assert "profile 'bagel-vllm'" in message and MODEL in message
    assert "[images-refused;" in message
    assert error.retryable is False and calls == 1


def test_the_template_error_without_images_is_left_as_the_server_said(
        server: ReplyServer, ctx: GenerateContext) -> None:
    """Without image parts in the request the cause is unknown: no vision hint, retried."""
    error, calls = failure(server, chat_model(server), ask("template", image=False), ctx,
                           "template")
    assert "vision" not in str(error) and VLLM_TEMPLATE in str(error)
    assert error.retryable is True and calls == 4


@pytest.mark.parametrize("reply", ["context", "llamacpp-context"])
def test_context_too_long_names_max_tokens(
        server: ReplyServer, ctx: GenerateContext, reply: str) -> None:
    error, calls = failure(server, chat_model(server), ask(reply, image=False), ctx, reply)
    message = str(error)
    assert "context window" in message and "max_tokens = 1024" in message, message
    assert "Lower max_tokens in profile 'bagel-vllm'" in message
    assert error.retryable is False and calls == 1


@pytest.mark.parametrize("reply", ["missing-model", "openai-missing"])
def test_model_not_found_names_the_id_and_the_profile_key(
        server: ReplyServer, ctx: GenerateContext, reply: str) -> None:
    error, calls = failure(server, chat_model(server), ask(reply, image=False), ctx, reply)
    message = str(error)
    assert f"does not serve model {MODEL!r}" in message, message
    assert "model key in profile 'bagel-vllm'" in message
    assert f"GET {server.base_url}/models" in message
    assert error.retryable is False and calls == 1


def test_a_404_on_a_path_the_server_lacks_names_base_url(
        server: ReplyServer, ctx: GenerateContext) -> None:
    """A 404 that names no model: the URL is wrong (the fake server has no /v1/models path)."""
    adapter = GeminiAdapter("", {"model": "gemini-9", "base_url": server.origin + "/v1",
                                 "api_key_env": "", "timeout_s": 5})
    try:
        with pytest.raises(ModelError) as info:
            adapter.generate(ask("x", image=False), TASKS["TT"], ctx)
    finally:
        adapter.close()
    assert "no such path" in str(info.value) and "base_url" in str(info.value)
    assert info.value.retryable is False


def test_an_unknown_5xx_is_still_retried(server: ReplyServer, ctx: GenerateContext) -> None:
    error, calls = failure(server, chat_model(server), ask("plain-500"), ctx, "plain-500")
    assert "CUDA out of memory" in str(error) and "[" not in str(error).split("HTTP 500")[1]
    assert error.retryable is True and calls == 4


@pytest.mark.parametrize(
    ("body", "files", "expected"),
    [
        ({"messages": [{"content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, None,
         True),
        ({"contents": [{"parts": [{"inline_data": {"data": "x"}}, {"text": "t"}]}]}, None, True),
        ({"contents": [{"parts": [{"inlineData": {"data": "x"}}]}]}, None, True),
        ({"messages": [{"content": "text only"}]}, None, False),
        ({"prompt": "p"}, [("image", ("a.png", b"x", "image/png"))], True),
    ],
)
def test_carries_images(body: Any, files: Any, expected: bool) -> None:
    assert carries_images(body, files) is expected


@pytest.mark.parametrize(
    ("status", "text", "cause"),
    [
        (400, "model 'llama3' not found, try pulling it first", "model-not-found"),
        (404, "models/gemini-9 is not found for API version v1beta", "model-not-found"),
        (400, "Invalid content type. image_url is only supported by certain models.",
         "images-refused"),
        (500, "image input is not supported - hint: you may need to provide the mmproj",
         "images-refused"),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", "context-length"),
        (404, "Not Found", "no-such-path"),
        (500, "model runner crashed: unknown error", None),
        (502, "Bad Gateway", None),
    ],
)
def test_diagnose_table(status: int, text: str, cause: str | None) -> None:
    found = diagnose(status, text, Sent(model="m", images=True, profile="profile 'p'"))
    assert (found.cause if found else None) == cause
