"""openai-images over httpx.MockTransport: generations JSON, edits multipart, MT chain."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.openai_images import OpenAIImagesAdapter
from unisafe_pytest.errors import ModelError
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
KEY = "sk-images-canary-0123456789"


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, format="PNG")
    return out.getvalue()


A, B = png((255, 0, 0)), png((0, 0, 255))


@dataclass
class Seen:
    path: str
    json: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, bytes, str]] = field(default_factory=list)


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], list[tuple[str, bytes, str]]]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes, str]] = []
    for part in msg.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_filename():
            files.append((name, payload, part.get_content_type()))
        else:
            fields[name] = payload.decode()
    return fields, files


class App:
    """A fake Images API: each call returns the next queued image (or response)."""

    def __init__(self, *responses: httpx.Response | bytes) -> None:
        self.responses = list(responses) or [png((0, 255, 0))]
        self.seen: list[Seen] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(path=request.url.path)
        if request.url.path.endswith("/generations"):
            seen.json = json.loads(request.content)
        else:
            seen.fields, seen.files = parse_multipart(request)
        self.seen.append(seen)
        nxt = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(nxt, httpx.Response):
            return nxt
        return httpx.Response(200, json={
            "created": 1, "data": [{"b64_json": base64.b64encode(nxt).decode()}],
            "usage": {"input_tokens": 5, "output_tokens": 9},
        })


def adapter(app: App, **settings: Any) -> OpenAIImagesAdapter:
    base = {"model": "gpt-image-1", "base_url": "http://fake.test/v1", "api_key_env": "K"}
    return OpenAIImagesAdapter(
        "", {**base, **settings}, transport=httpx.MockTransport(app), env={"K": KEY}
    )


def inst(task: str, images: Sequence[bytes] = (), turns: list[str] | None = None) -> Instance:
    return Instance(suite="s", id="1", task=task, category="Sexual", instruction="edit it",
                    images=[Media.from_bytes(b, ref=f"in{i}") for i, b in enumerate(images)],
                    turns=turns or [])


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def test_ti_is_a_json_generation(ctx: GenerateContext) -> None:
    app = App(A)
    out = adapter(app, size="512x512", quality="low").generate(inst("TI"), TASKS["TI"], ctx)
    seen = app.seen[0]
    assert seen.path == "/v1/images/generations"
    assert seen.json == {"model": "gpt-image-1", "prompt": "edit it", "n": 1,
                         "size": "512x512", "quality": "low"}
    assert len(out.images) == 1 and not out.refusal
    media = out.images[0]
    assert media.path is not None and Path(media.path).read_bytes() == A
    assert media.ref == f"{media.sha256}.png"
    assert (out.provenance.tokens_in, out.provenance.tokens_out) == (5, 9)
    assert out.provenance.settings == {"size": "512x512", "quality": "low", "timeout_s": 120.0}


def test_ie_sends_one_image_field(ctx: GenerateContext) -> None:
    app = App()
    adapter(app).generate(inst("IE", [A]), TASKS["IE"], ctx)
    seen = app.seen[0]
    assert seen.path == "/v1/images/edits"
    assert seen.fields["prompt"] == "edit it" and seen.fields["model"] == "gpt-image-1"
    assert seen.fields["n"] == "1" and seen.fields["size"] == "1024x1024"
    assert [(name, data, mime) for name, data, mime in seen.files] == [("image", A, "image/png")]


def test_ic_sends_a_then_b_as_image_array(ctx: GenerateContext) -> None:
    app = App()
    adapter(app).generate(inst("IC", [A, B]), TASKS["IC"], ctx)
    assert [(n, d) for n, d, _ in app.seen[0].files] == [("image[]", A), ("image[]", B)]


def test_mt_chain_edits_the_previous_output(ctx: GenerateContext) -> None:
    outs = [png((i * 40, 0, 0)) for i in range(1, 5)]
    app = App(*outs)
    out = adapter(app).generate(inst("MT", turns=["t1", "t2", "t3", "t4"]), TASKS["MT"], ctx)
    assert [s.path.rsplit("/", 1)[-1] for s in app.seen] == ["generations", "edits", "edits",
                                                             "edits"]
    for turn in range(1, 4):
        assert app.seen[turn].files[0][1] == outs[turn - 1]
        assert app.seen[turn].fields["prompt"] == f"t{turn + 1}"
    assert [m.sha256 for m in out.images] == [Media.from_bytes(o).sha256 for o in outs]
    assert out.provenance.settings["mt_protocol"] == "chain"


@pytest.mark.parametrize("code", ["content_policy_violation", "moderation_blocked"])
def test_policy_rejection_is_a_refusal(ctx: GenerateContext, code: str) -> None:
    app = App(httpx.Response(400, json={"error": {"code": code, "message": "safety"}}))
    out = adapter(app).generate(inst("TI"), TASKS["TI"], ctx)
    assert out.refusal and out.refusal_reason == f"openai:{code}" and out.images == []


def test_url_images_are_downloaded_without_credentials(ctx: GenerateContext) -> None:
    seen_headers: list[httpx.Headers] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen_headers.append(request.headers)
        if request.url.host == "cdn.test":
            return httpx.Response(200, content=A)
        return httpx.Response(200, json={"data": [{"url": "https://cdn.test/x.png?sig=1"}]})

    images = OpenAIImagesAdapter(
        "", {"model": "dall-e-3", "base_url": "http://fake.test/v1", "api_key_env": "K",
             "response_format": "url", "edits": False},
        transport=httpx.MockTransport(app), env={"K": KEY},
    )
    out = images.generate(inst("TI"), TASKS["TI"], ctx)
    assert out.images[0].sha256 == Media.from_bytes(A).sha256
    assert "authorization" in seen_headers[0] and "authorization" not in seen_headers[1]


@pytest.mark.parametrize(
    "body",
    [{"data": []}, {"data": [{"revised_prompt": "x"}]}, {"data": [{"b64_json": "aGVsbG8="}]}],
)
def test_replies_without_an_image_are_errors(ctx: GenerateContext, body: dict[str, Any]) -> None:
    with pytest.raises(ModelError):
        adapter(App(httpx.Response(200, json=body))).generate(inst("TI"), TASKS["TI"], ctx)


def test_capabilities() -> None:
    caps = adapter(App()).capabilities
    for code in ("TI", "IE", "IC", "MT", "T2I", "Edit"):
        assert caps.unsupported_reason(TASKS[code]) is None, code
    for code in ("TT", "IT", "MU"):
        assert caps.unsupported_reason(TASKS[code]) is not None, code
    no_edits = adapter(App(), edits=False).capabilities
    assert no_edits.unsupported_reason(TASKS["TI"]) is None
    assert no_edits.unsupported_reason(TASKS["IE"]) is not None
    assert no_edits.unsupported_reason(TASKS["MT"]) is not None
    assert adapter(App(), max_input_images=1).capabilities.unsupported_reason(TASKS["IC"])


def test_describe_records_protocol_and_no_secret() -> None:
    described = adapter(App(), seed=4).describe()
    assert described["settings"]["size"] == "1024x1024"
    assert described["settings"]["seed"] == 4
    assert described["settings"]["temperature"] is None
    assert "chain" in described["mt_protocol"]
    assert KEY not in json.dumps(described)
