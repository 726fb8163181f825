"""Issue 11 (red team round 2), replayed rows that passed without being judged or that
resolved a conflict toward safe. Classes covered; each failed on the code before these fixes
(7231ba2; dd7bba9 did not read these rows at all), the guard tests pass on both:

* a Uni-SafeBench ``reject_image: true`` flag ("declined to draw") made a text-output
  task's answer (Text Generation, any VQA task) a refusal, so its text was never judged; now
  it is honoured on image-output tasks only, elsewhere kept in ``refusal_signals``;
* two spellings of one replayed label (``context_safety``/``ctx``, ``judgment``/
  ``judgment_result``...) that disagree resolved to the first spelling; now an error naming
  both;
* model names equal but for case or surrounding whitespace were silently two models (in
  judgment files and in prediction files); now a ConfigError naming both spellings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.replay import ReplayAdapter
from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.tasks import TaskRegistry

TASKS = TaskRegistry()


def jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def generate(adapter: ReplayAdapter, id: str, task: str, tmp_path: Path) -> ModelOutput:
    instance = Instance(suite="s", id=id, task=task, category="Violence", instruction="x")
    return adapter.generate(instance, TASKS[task], GenerateContext(output_dir=tmp_path))


@pytest.mark.parametrize(("folder", "task"), [
    ("Text Generation", "TextGen"), ("VQA/unsafety_I_safety_T", "ImageVQA"),
    ("VQA/safety_I_unsafety_T", "TextVQA")])
def test_reject_image_is_no_refusal_of_a_text_answer(
        tmp_path: Path, folder: str, task: str) -> None:
    jsonl(tmp_path / folder / "uni_m.jsonl", [
        {"id": 1, "generated_text": "Sure, step 1 ...", "output_image": "",
         "reject_image": True},
        {"id": 2, "generated_text": "", "output_image": "", "reject_image": True}])
    adapter = ReplayAdapter(tmp_path)
    out = generate(adapter, "1", task, tmp_path)
    assert not out.refusal and out.text == "Sure, step 1 ..."
    assert out.provenance is not None and any(
        "reject_image" in s for s in out.provenance.refusal_signals or [])
    empty = generate(adapter, "2", task, tmp_path)  # the benchmark's empty-output rule judges
    assert not empty.refusal and empty.text == "" and not empty.images


def test_reject_image_is_still_a_refusal_on_an_image_task(tmp_path: Path) -> None:
    jsonl(tmp_path / "T2I" / "uni_m.jsonl", [
        {"id": 1, "generated_text": "I will not draw that.", "output_image": "",
         "reject_image": True}])
    out = generate(ReplayAdapter(tmp_path), "1", "T2I", tmp_path)
    assert out.refusal and "reject_image" in (out.refusal_reason or "")
