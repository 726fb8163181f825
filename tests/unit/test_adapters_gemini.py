"""gemini over httpx.MockTransport: inline images in and out, safety blocks, finish reasons."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.gemini import GeminiAdapter
from unisafe_pytest.adapters.policy import TEXT_ONLY_REASON
from unisafe_pytest.errors import ModelError, RateLimited
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
KEY = "AIzaGeminiCanary0123456789abcdef"


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, format="PNG")
    return out.getvalue()


A, B = png((255, 0, 0)), png((0, 0, 255))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def candidate(parts: list[dict[str, Any]], finish: str = "STOP") -> httpx.Response:
    return httpx.Response(200, json={
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 4},
        "modelVersion": "gemini-x-001",
    })


class App:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(json.loads(request.content))
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


def adapter(app: App, **settings: Any) -> GeminiAdapter:
    base = {"model": "gemini-x", "base_url": "http://fake.test/v1beta", "api_key_env": "G"}
    return GeminiAdapter(
        "", {**base, **settings}, transport=httpx.MockTransport(app), env={"G": KEY}
    )


def inst(task: str, images: list[bytes] | None = None, turns: list[str] | None = None,
         instruction: str = "please") -> Instance:
    return Instance(suite="s", id="3", task=task, category="Hate", instruction=instruction,
                    images=[Media.from_bytes(b) for b in images or []], turns=turns or [])


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def test_request_shape(ctx: GenerateContext) -> None:
    app = App(candidate([{"text": "fine"}]))
    out = adapter(app, temperature=0.5, max_tokens=77, seed=9, aspect_ratio="4:3",
                  image_output=True, system_prompt="sys").generate(
        inst("IC", [A, B]), TASKS["IC"], ctx
    )
    request = app.requests[0]
    assert request.url.path == "/v1beta/models/gemini-x:generateContent"
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in str(request.url)
    body = app.bodies[0]
    parts = body["contents"][0]["parts"]
    assert body["contents"][0]["role"] == "user"
    assert parts[0] == {"inlineData": {"mimeType": "image/png", "data": b64(A)}}
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": b64(B)}}
    assert parts[2] == {"text": "please"}
    assert body["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"], "temperature": 0.5, "maxOutputTokens": 77,
        "seed": 9, "imageConfig": {"aspectRatio": "4:3"},
    }
    assert body["systemInstruction"] == {"parts": [{"text": "sys"}]}
    assert out.refusal and out.refusal_reason == TEXT_ONLY_REASON and out.text == "fine"


def test_text_task_and_provenance(ctx: GenerateContext) -> None:
    app = App(candidate([{"text": "thinking", "thought": True}, {"text": "an answer"}]))
    out = adapter(app).generate(inst("TT"), TASKS["TT"], ctx)
    assert out.text == "an answer" and not out.refusal
    prov = out.provenance
    assert (prov.adapter, prov.model, prov.model_version) == ("gemini", "gemini-x", "gemini-x-001")
    assert (prov.tokens_in, prov.tokens_out) == (20, 4)
    assert app.bodies[0]["generationConfig"]["responseModalities"] == ["TEXT"]


def test_inline_image_out_is_saved(ctx: GenerateContext) -> None:
    app = App(candidate([{"text": "here"}, {"inlineData": {"mimeType": "image/png",
                                                            "data": b64(A)}}]))
    out = adapter(app, image_output=True).generate(inst("TI"), TASKS["TI"], ctx)
    assert not out.refusal and len(out.images) == 1
    assert out.images[0].path is not None and Path(out.images[0].path).read_bytes() == A


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "OTHER", "BLOCKLIST",
                                    "IMAGE_SAFETY"])
def test_prompt_block_is_a_refusal(ctx: GenerateContext, reason: str) -> None:
    app = App(httpx.Response(200, json={"promptFeedback": {"blockReason": reason}}))
    out = adapter(app, image_output=True).generate(inst("TI"), TASKS["TI"], ctx)
    assert out.refusal and out.refusal_reason == f"gemini:block:{reason}"


@pytest.mark.parametrize("finish", ["SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "SPII",
                                    "IMAGE_PROHIBITED_CONTENT", "RECITATION", "NO_IMAGE"])
def test_safety_finish_is_a_refusal(ctx: GenerateContext, finish: str) -> None:
    out = adapter(App(candidate([], finish)), image_output=True).generate(
        inst("TI"), TASKS["TI"], ctx
    )
    assert out.refusal and out.refusal_reason == f"gemini:finish:{finish}"


@pytest.mark.parametrize("finish", ["OTHER", "MALFORMED_FUNCTION_CALL", "LANGUAGE"])
def test_unexpected_finish_is_an_error(ctx: GenerateContext, finish: str) -> None:
    with pytest.raises(ModelError, match=finish) as info:
        adapter(App(candidate([], finish))).generate(inst("TT"), TASKS["TT"], ctx)
    assert not info.value.retryable


def test_no_candidates_is_an_error(ctx: GenerateContext) -> None:
    with pytest.raises(ModelError, match="no candidates"):
        adapter(App(httpx.Response(200, json={}))).generate(inst("TT"), TASKS["TT"], ctx)


def test_resource_exhausted_carries_retry_delay(ctx: GenerateContext) -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "21s"}]}}
    with pytest.raises(RateLimited) as info:
        adapter(App(httpx.Response(429, json=body))).generate(inst("TT"), TASKS["TT"], ctx)
    assert info.value.retry_after == 21.0


def test_mt_chain_and_session(ctx: GenerateContext) -> None:
    image_part = {"inlineData": {"mimeType": "image/png", "data": b64(A)}, "thoughtSignature": "s"}
    app = App(candidate([image_part]))
    turns = ["a", "b", "c", "d"]
    out = adapter(app, image_output=True).generate(inst("MT", turns=turns), TASKS["MT"], ctx)
    assert len(out.images) == 4 and not out.refusal
    second = app.bodies[1]["contents"]
    assert len(second) == 1
    assert second[0]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": b64(A)}},
                                  {"text": "b"}]
    app2 = App(candidate([image_part]))
    adapter(app2, image_output=True, mt_protocol="session").generate(
        inst("MT", turns=turns), TASKS["MT"], ctx
    )
    last = app2.bodies[3]["contents"]
    assert [c["role"] for c in last] == ["user", "model"] * 3 + ["user"]
    assert last[1]["parts"] == [image_part]


def test_mt_block_at_turn_three(ctx: GenerateContext) -> None:
    ok = candidate([{"inlineData": {"mimeType": "image/png", "data": b64(A)}}])
    blocked = candidate([], "IMAGE_SAFETY")
    app = App(ok, ok, blocked)
    out = adapter(app, image_output=True).generate(
        inst("MT", turns=["a", "b", "c", "d"]), TASKS["MT"], ctx
    )
    assert out.refusal and out.refusal_reason == "turn 3: gemini:finish:IMAGE_SAFETY"
    assert len(out.images) == 2 and len(app.bodies) == 3


def test_capabilities_and_describe() -> None:
    text = adapter(App(candidate([])))
    assert text.capabilities.unsupported_reason(TASKS["TI"]) is not None
    assert text.capabilities.unsupported_reason(TASKS["MU"]) is None
    image = adapter(App(candidate([])), image_output=True)
    for code in ("TI", "IE", "IC", "MT", "TT", "IT", "MU"):
        assert image.capabilities.unsupported_reason(TASKS[code]) is None, code
    described = image.describe()
    assert described["response_modalities"] == ["TEXT", "IMAGE"]
    assert described["api_key_env"] == "G"
    assert KEY not in json.dumps(described) and KEY not in repr(image)
