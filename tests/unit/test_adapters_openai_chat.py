"""openai-chat over httpx.MockTransport: request shape, reply parsing, refusal mapping."""

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
from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
from unisafe_pytest.adapters.policy import TEXT_ONLY_REASON
from unisafe_pytest.errors import ConfigError, ModelError, SuiteError
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
KEY = "sk-chat-canary-0123456789"


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, format="PNG")
    return out.getvalue()


RED, BLUE = png((255, 0, 0)), png((0, 0, 255))


def reply(message: dict[str, Any], finish: str = "stop", **extra: Any) -> httpx.Response:
    body = {
        "id": "c1", "model": "m", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3},
        **extra,
    }
    return httpx.Response(200, json=body)


class App:
    """A fake chat endpoint recording every request body."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        self.headers.append(request.headers)
        assert request.url.path == "/v1/chat/completions"
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


def adapter(app: App, **settings: Any) -> OpenAIChatAdapter:
    base = {"model": "m-1", "base_url": "http://fake.test/v1", "api_key_env": "K"}
    return OpenAIChatAdapter(
        "", {**base, **settings}, transport=httpx.MockTransport(app), env={"K": KEY}
    )


def inst(task: str, instruction: str = "do it", images: list[Media] | None = None,
         turns: list[str] | None = None) -> Instance:
    return Instance(suite="s", id="7", task=task, category="Violence", instruction=instruction,
                    images=images or [], turns=turns or [])


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def test_text_request_shape_and_provenance(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "hello"}))
    out = adapter(app, temperature=0.0, max_tokens=64, seed=3, system_prompt="be brief").generate(
        inst("TT"), TASKS["TT"], ctx
    )
    body = app.bodies[0]
    assert body["model"] == "m-1"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "do it"},
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 64, 3)
    assert app.headers[0]["authorization"] == f"Bearer {KEY}"
    assert out.text == "hello" and not out.refusal
    prov = out.provenance
    assert (prov.adapter, prov.model, prov.model_version) == ("openai-chat", "m-1", "fp_1")
    assert (prov.tokens_in, prov.tokens_out) == (12, 3)
    assert prov.settings == {"temperature": 0.0, "max_tokens": 64, "seed": 3, "timeout_s": 120.0}
    assert prov.latency_s is not None


def test_images_go_first_in_order_as_data_urls(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "two squares"}))
    images = [Media.from_bytes(RED, ref="a"), Media.from_bytes(BLUE, ref="b")]
    adapter(app).generate(inst("MU", images=images[:1]), TASKS["MU"], ctx)
    adapter(app).generate(inst("DualVQA", images=images[1:]), TASKS["DualVQA"], ctx)
    parts = app.bodies[0]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url == "data:image/png;base64," + base64.b64encode(RED).decode()
    assert app.bodies[1]["messages"][0]["content"][0]["image_url"]["url"].endswith(
        base64.b64encode(BLUE).decode()
    )


def test_empty_it_instruction_uses_the_recorded_prompt(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "ok"}))
    chat = adapter(app, it_prompt="Answer the image.")
    chat.generate(inst("IT", instruction="", images=[Media.from_bytes(RED)]), TASKS["IT"], ctx)
    assert app.bodies[0]["messages"][0]["content"][-1] == {"type": "text",
                                                           "text": "Answer the image."}
    assert "Answer the image." in chat.describe()["it_prompt_policy"]


def test_structured_refusal_field(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": None, "refusal": "I won't."}))
    out = adapter(app).generate(inst("TT"), TASKS["TT"], ctx)
    assert out.refusal and out.refusal_reason == "openai:message.refusal"
    assert out.text == "I won't."


def test_content_filter_finish_is_a_refusal(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": ""}, finish="content_filter"))
    out = adapter(app).generate(inst("TT"), TASKS["TT"], ctx)
    assert out.refusal and out.refusal_reason == "openai:content_filter"


def test_policy_400_is_a_refusal(ctx: GenerateContext) -> None:
    app = App(httpx.Response(400, json={"error": {"code": "content_policy_violation",
                                                  "message": "no"}}))
    out = adapter(app).generate(inst("TT"), TASKS["TT"], ctx)
    assert out.refusal and out.refusal_reason == "openai:content_policy_violation"


def test_image_parts_out_are_saved_by_sha256(ctx: GenerateContext) -> None:
    url = "data:image/png;base64," + base64.b64encode(RED).decode()
    app = App(reply({"role": "assistant", "content": [
        {"type": "text", "text": "here"}, {"type": "image_url", "image_url": {"url": url}},
    ]}))
    out = adapter(app, image_output=True).generate(inst("TI"), TASKS["TI"], ctx)
    assert not out.refusal and out.text == "here"
    assert len(out.images) == 1
    media = out.images[0]
    assert media.path is not None and Path(media.path).read_bytes() == RED
    assert media.ref == f"{media.sha256}.png" and Path(media.path).parent == ctx.output_dir


def test_message_images_field_is_read(ctx: GenerateContext) -> None:
    url = "data:image/png;base64," + base64.b64encode(BLUE).decode()
    app = App(reply({"role": "assistant", "content": "x",
                     "images": [{"type": "image_url", "image_url": {"url": url}}]}))
    out = adapter(app, image_output=True).generate(inst("TI"), TASKS["TI"], ctx)
    assert len(out.images) == 1 and out.images[0].sha256 is not None


def test_text_only_reply_to_an_image_task_is_a_refusal(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "I'd rather describe it."}))
    out = adapter(app, image_output=True).generate(inst("TI"), TASKS["TI"], ctx)
    assert out.refusal and out.refusal_reason == TEXT_ONLY_REASON
    assert out.text == "I'd rather describe it." and out.images == []


def test_mt_chain_feeds_each_output_back(ctx: GenerateContext) -> None:
    urls = ["data:image/png;base64," + base64.b64encode(png((i, i, i))).decode()
            for i in range(4)]
    app = App(*[reply({"role": "assistant", "content": "t",
                       "images": [{"image_url": {"url": u}}]}) for u in urls])
    out = adapter(app, image_output=True).generate(
        inst("MT", turns=["one", "two", "three", "four"]), TASKS["MT"], ctx
    )
    assert len(out.images) == 4 and not out.refusal
    assert app.bodies[0]["messages"] == [{"role": "user", "content": "one"}]
    second = app.bodies[1]["messages"]
    assert len(second) == 1
    assert second[0]["content"][0]["image_url"]["url"] == urls[0]
    assert second[0]["content"][1]["text"] == "two"
    assert out.provenance.settings["mt_protocol"] == "chain"
    assert out.provenance.tokens_in == 48


def test_mt_session_keeps_the_conversation(ctx: GenerateContext) -> None:
    url = "data:image/png;base64," + base64.b64encode(RED).decode()
    app = App(reply({"role": "assistant", "content": "t", "images": [{"image_url": {"url": url}}]}))
    adapter(app, image_output=True, mt_protocol="session").generate(
        inst("MT", turns=["a", "b", "c", "d"]), TASKS["MT"], ctx
    )
    last = app.bodies[3]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant"] * 3 + ["user"]
    assert last[1]["images"][0]["image_url"]["url"] == url


def test_mt_stops_at_a_refused_turn(ctx: GenerateContext) -> None:
    url = "data:image/png;base64," + base64.b64encode(RED).decode()
    ok = reply({"role": "assistant", "content": "", "images": [{"image_url": {"url": url}}]})
    refused = httpx.Response(400, json={"error": {"code": "content_policy_violation"}})
    app = App(ok, refused)
    out = adapter(app, image_output=True).generate(
        inst("MT", turns=["a", "b", "c", "d"]), TASKS["MT"], ctx
    )
    assert len(app.bodies) == 2
    assert out.refusal and out.refusal_reason == "turn 2: openai:content_policy_violation"
    assert len(out.images) == 1


def test_mt_with_wrong_turn_count_is_an_input_error(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "x"}))
    with pytest.raises(SuiteError, match="needs exactly 4"):
        adapter(app, image_output=True).generate(inst("MT", turns=["a"]), TASKS["MT"], ctx)


@pytest.mark.parametrize(
    "body", [{"choices": []}, {"choices": [{"message": "x"}]}, {"nothing": 1}]
)
def test_malformed_replies_are_errors(ctx: GenerateContext, body: dict[str, Any]) -> None:
    app = App(httpx.Response(200, json=body))
    with pytest.raises(ModelError):
        adapter(app).generate(inst("TT"), TASKS["TT"], ctx)


def test_capabilities_follow_settings() -> None:
    app = App(reply({}))
    text_only = adapter(app, vision=False)
    assert text_only.capabilities.unsupported_reason(TASKS["MU"]) is not None
    assert text_only.capabilities.unsupported_reason(TASKS["TT"]) is None
    assert adapter(app).capabilities.unsupported_reason(TASKS["TI"]) is not None
    assert adapter(app, image_output=True).capabilities.unsupported_reason(TASKS["MT"]) is None
    assert adapter(app, image_output=True).capabilities.unsupported_reason(TASKS["IC"]) is None


def test_describe_has_settings_and_no_secret() -> None:
    chat = adapter(App(reply({})), temperature=0.2, max_tokens=99, seed=5)
    described = chat.describe()
    assert described["settings"] == {"temperature": 0.2, "max_tokens": 99, "seed": 5}
    assert described["api_key_env"] == "K"
    assert KEY not in json.dumps(described) and KEY not in repr(chat)
    assert described["mt_protocol"].startswith("not applicable")
    assert adapter(App(reply({})), image_output=True).describe()["mt_protocol"].startswith("chain")


def test_llama_cpp_path_model_names_are_shortened(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "x"}, model="/opt/m/smol.gguf",
                    system_fingerprint=None))
    out = adapter(app).generate(inst("TT"), TASKS["TT"], ctx)
    assert out.provenance.model_version == "smol.gguf"


def test_missing_key_and_bad_keys_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"\$NOPE, which is not set"):
        OpenAIChatAdapter("m", {"api_key_env": "NOPE"}, env={})
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        OpenAIChatAdapter("m", {"temprature": 1, "api_key_env": ""}, env={})
    with pytest.raises(ConfigError, match="is not a number"):
        OpenAIChatAdapter("m", {"temperature": "hot", "api_key_env": ""}, env={})
    with pytest.raises(ConfigError, match="no model id"):
        OpenAIChatAdapter("", {"api_key_env": ""}, env={})
    with pytest.raises(ConfigError, match="UNISAFE_X"):
        OpenAIChatAdapter("m", {"base_url_env": "UNISAFE_X", "api_key_env": ""}, env={})


def test_no_key_server_sends_no_authorization(ctx: GenerateContext) -> None:
    app = App(reply({"role": "assistant", "content": "x"}))
    chat = OpenAIChatAdapter(
        "", {"model": "m", "base_url_env": "VLLM", "api_key_env": ""},
        transport=httpx.MockTransport(app), env={"VLLM": "http://vllm.test:8000/v1"},
    )
    chat.generate(inst("TT"), TASKS["TT"], ctx)
    assert "authorization" not in app.headers[0]
    assert chat.describe()["base_url"] == "http://vllm.test:8000/v1"
