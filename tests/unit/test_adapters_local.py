"""The embedded 'local' adapter with a fake llama and fake OCR (the real model runs in e2e)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.adapters import local
from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.baselines import render_text
from unisafe_pytest.adapters.local import LocalAdapter, ModelFileMissing
from unisafe_pytest.errors import MissingDependency
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()


class FakeLlama:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "choices": [{"message": {"role": "assistant", "content": "a small answer"}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 4},
        }


def inst(code: str, images: list[Media] | None = None, instruction: str = "say hi") -> Instance:
    return Instance(suite="s", id="1", task=code, category="Violence", instruction=instruction,
                    images=images or [])


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


def test_text_task_is_deterministic_greedy(ctx: GenerateContext) -> None:
    llm = FakeLlama()
    adapter = LocalAdapter({"profile": "smollm2", "max_tokens": 32}, llm=llm, ocr=None)
    out = adapter.generate(inst("TT"), TASKS["TT"], ctx)
    assert out.text == "a small answer" and not out.refusal
    call = llm.calls[0]
    assert call["messages"] == [{"role": "user", "content": "say hi"}]
    assert (call["temperature"], call["max_tokens"], call["seed"]) == (0.0, 32, 0)
    prov = out.provenance
    assert (prov.adapter, prov.tokens_in, prov.tokens_out) == ("local", 30, 4)
    assert "image_input" not in prov.settings


def test_image_inputs_go_through_ocr_and_are_labelled(ctx: GenerateContext) -> None:
    llm = FakeLlama()
    seen: list[bytes] = []

    def ocr(data: bytes) -> str:
        seen.append(data)
        return "  HOW TO\n do x  "

    adapter = LocalAdapter({}, llm=llm, ocr=ocr)
    image = Media.from_bytes(render_text("HOW TO do x"))
    out = adapter.generate(inst("IT", [image], instruction=""), TASKS["IT"], ctx)
    prompt = llm.calls[0]["messages"][0]["content"]
    assert prompt.startswith("Text read from image 1 by OCR: HOW TO do x")
    assert prompt.endswith(adapter.protocols.it_prompt)
    assert seen == [image.read_bytes()]
    assert str(out.provenance.settings["image_input"]).startswith("ocr:tesseract")
    assert adapter.describe()["image_input"].startswith("ocr:tesseract")


def test_capabilities_skip_image_outputs_and_explain_missing_ocr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_ocr = LocalAdapter({}, llm=FakeLlama(), ocr=lambda data: "")
    assert with_ocr.capabilities.unsupported_reason(TASKS["MU"]) is None
    for code in ("TI", "IE", "IC", "MT"):
        assert with_ocr.capabilities.unsupported_reason(TASKS[code]) is not None
    monkeypatch.setattr(local, "tesseract_ocr", lambda lang: None)
    without = LocalAdapter({}, llm=FakeLlama())
    reason = without.capabilities.unsupported_reason(TASKS["IT"])
    assert reason is not None and "tesseract-ocr" in reason
    assert without.capabilities.unsupported_reason(TASKS["TT"]) is None
    assert "not supported" in without.describe()["image_input"]


def test_missing_model_file_names_the_install_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "find_gguf", lambda: None)
    with pytest.raises(ModelFileMissing, match=r"install-llama-cpp\.sh") as info:
        LocalAdapter({})
    assert isinstance(info.value, MissingDependency)
    with pytest.raises(ModelFileMissing, match="is not a file"):
        LocalAdapter({"model_path": "nowhere.gguf"}, base_dir=Path("/nonexistent"))


def test_missing_llama_cpp_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llama_cpp" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependency, match=r"unisafe-pytest\[local\]"):
        LocalAdapter({"model_path": "m.gguf"}, base_dir=tmp_path)


def test_describe_has_no_machine_paths(tmp_path: Path) -> None:
    gguf = tmp_path / "deep" / "m.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    adapter = LocalAdapter({"model_path": str(gguf)}, llm=FakeLlama(), ocr=None)
    text = json.dumps(adapter.describe())
    assert str(tmp_path) not in text and '"model_file": "m.gguf"' in text
    assert adapter.describe()["settings"] == {"temperature": 0.0, "max_tokens": 256, "seed": 0,
                                             "n_ctx": 2048}


@pytest.mark.skipif(
    shutil.which("tesseract") is None or importlib.util.find_spec("pytesseract") is None,
    reason="tesseract-ocr or pytesseract not installed (scripts/install-llama-cpp.sh)",
)
def test_real_tesseract_reads_rendered_text() -> None:
    ocr = local.tesseract_ocr("eng")
    assert ocr is not None
    text = ocr(render_text("HELLO WORLD", (400, 80)))
    assert "HELLO" in text.upper()
