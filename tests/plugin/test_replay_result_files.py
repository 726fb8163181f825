"""Issue 12: replay reads both toolkits' own prediction/result files as they write them.

Classes covered (each test failed on the old code, dd7bba9):

* Uni-SafeBench result rows (``generated_text``, ``output_image``, ``reject_image``, the
  input fields ``prompt``/``image``/``category``/``intention`` kept beside them): the old
  replay read none of the output fields, so most rows became errors;
* a VQA row's input ``image`` field was judged as an output image;
* several models' files in one folder were merged silently (one model per run: ``#MODEL``
  selects, else the error names the models found); two rows for one instance are an error;
* UniSAFE predictions as its toolkit reads them (``scenario_type`` in any case).

The fixture files are our own, shaped like the toolkits' files (same field names, folder
layout and file names).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.replay import ReplayAdapter, make_adapter
from unisafe_pytest.errors import ConfigError, ModelError
from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry

TINY = Path(__file__).with_name("tiny.png").read_bytes()
TASKS = TaskRegistry()


def jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")


def result_row(id: int, **output: Any) -> dict[str, Any]:
    """A generation script's row: the input fields, then the outputs Uni-Judger reads."""
    return {"id": id, "prompt": f"request {id}", "category": "Illegal Activities",
            "intention": "an intention", **output}


def results_folder(root: Path, model: str = "bagel") -> Path:
    out = root / "result"
    jsonl(out / "Text Generation" / f"uni_{model}.jsonl", [
        result_row(1, generated_text="Here is how.", output_image="", reject_image=False),
        result_row(2, generated_text="", output_image="", reject_image=False)])
    (out / "T2I" / model.title()).mkdir(parents=True)
    (out / "T2I" / model.title() / "1.png").write_bytes(TINY)
    jsonl(out / "T2I" / model.title() / f"uni_{model}.jsonl", [
        result_row(1, generated_text="", output_image="1.png", reject_image=False),
        result_row(2, generated_text="I will not draw that.", output_image="",
                   reject_image=True),
        result_row(3, generated_text="A description instead.", output_image="",
                   reject_image=False)])
    (out / "VQA" / "unsafety_I_safety_T").mkdir(parents=True)
    (out / "VQA" / "unsafety_I_safety_T" / "q.png").write_bytes(TINY)
    jsonl(out / "VQA" / "unsafety_I_safety_T" / f"uni_{model}.jsonl", [
        result_row(7, image="q.png", generated_text="It shows a building.",
                   output_image="", reject_image=False)])
    return out


def generate(adapter: ReplayAdapter, id: str, task: str, tmp_path: Path) -> ModelOutput:
    instance = Instance(suite="s", id=id, task=task, category="Violence", instruction="x")
    return adapter.generate(instance, TASKS[task], GenerateContext(output_dir=tmp_path))


def test_result_rows_are_read_as_the_generation_scripts_write_them(tmp_path: Path) -> None:
    adapter = ReplayAdapter(results_folder(tmp_path))
    assert adapter.name == "bagel"  # uni_bagel.jsonl, as upstream names the file
    text = generate(adapter, "1", "TextGen", tmp_path)
    assert (text.text, text.images, text.refusal) == ("Here is how.", [], False)
    empty = generate(adapter, "2", "TextGen", tmp_path)  # that benchmark's refusal rule
    assert not empty.refusal and empty.text == "" and not empty.images
    image = generate(adapter, "1", "T2I", tmp_path)
    assert [m.ref for m in image.images] == ["1.png"] and not image.refusal
    declined = generate(adapter, "2", "T2I", tmp_path)
    assert declined.refusal and "reject_image" in (declined.refusal_reason or "")
    text_only = generate(adapter, "3", "T2I", tmp_path)  # the protocol decides: text kept
    assert text_only.text == "A description instead." and not text_only.images


def test_a_vqa_rows_input_image_is_not_an_output(tmp_path: Path) -> None:
    older = tmp_path / "older"  # our earlier spelling of the text: the image is input still
    (older / "VQA" / "unsafety_I_safety_T").mkdir(parents=True)
    (older / "VQA" / "unsafety_I_safety_T" / "q.png").write_bytes(TINY)
    jsonl(older / "VQA" / "unsafety_I_safety_T" / "m.jsonl", [
        {"id": 8, "image": "q.png", "response": "A building."}])
    assert generate(ReplayAdapter(older), "8", "ImageVQA", tmp_path).images == []
    vqa = generate(ReplayAdapter(results_folder(tmp_path)), "7", "ImageVQA", tmp_path)
    assert vqa.images == [] and vqa.text == "It shows a building."


def test_a_row_without_any_output_field_is_an_error_not_a_refusal(tmp_path: Path) -> None:
    jsonl(tmp_path / "Text Generation" / "uni_m.jsonl", [{"id": 1, "prompt": "p"}])
    adapter = ReplayAdapter(tmp_path)
    with pytest.raises(ModelError, match="generated_text"):
        generate(adapter, "1", "TextGen", tmp_path)


def test_output_fields_that_disagree_are_an_error(tmp_path: Path) -> None:
    jsonl(tmp_path / "Text Generation" / "uni_m.jsonl", [
        {"id": 1, "generated_text": "no.", "response": "sure, here"}])
    with pytest.raises(ModelError, match="disagree"):
        generate(ReplayAdapter(tmp_path), "1", "TextGen", tmp_path)


def test_several_models_in_one_folder_are_never_merged(tmp_path: Path) -> None:
    results_folder(tmp_path, "bagel")
    jsonl(tmp_path / "result" / "Text Generation" / "uni_janus.jsonl", [
        result_row(1, generated_text="Sure.", output_image="", reject_image=False)])
    with pytest.raises(ConfigError, match=r"'bagel', 'janus'.*#MODEL"):
        ReplayAdapter(tmp_path / "result")
    janus = make_adapter("result#janus", base_dir=tmp_path, settings={})
    assert generate(janus, "1", "TextGen", tmp_path).text == "Sure."
    with pytest.raises(ModelError, match="no prediction"):  # bagel's rows are not janus's
        generate(janus, "1", "T2I", tmp_path)
    bagel = make_adapter("result#bagel", base_dir=tmp_path, settings={})
    assert generate(bagel, "1", "TextGen", tmp_path).text == "Here is how."
    with pytest.raises(ConfigError, match="'bagel', 'janus'"):
        make_adapter("result#qwen", base_dir=tmp_path, settings={})


def test_two_rows_for_one_instance_are_an_error_naming_both(tmp_path: Path) -> None:
    jsonl(tmp_path / "Text Generation" / "uni_m.jsonl", [
        {"id": 1, "generated_text": "Sure."}, {"id": 1, "generated_text": "No."}])
    with pytest.raises(ModelError, match=r"uni_m\.jsonl:1.*uni_m\.jsonl:2"):
        generate(ReplayAdapter(tmp_path), "1", "TextGen", tmp_path)


def test_unisafe_predictions_as_the_toolkit_reads_them(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(TINY)
    jsonl(tmp_path / "predictions.jsonl", [
        {"id": "c1", "scenario_type": "tt", "model": "my-model",
         "output_text": "A generated response."},
        {"id": "c2", "scenario_type": "TI", "model": "my-model",
         "output_image": "out/a.png", "metadata": {"seed": 1}}])
    adapter = ReplayAdapter(tmp_path / "predictions.jsonl")
    assert generate(adapter, "c1", "TT", tmp_path).text == "A generated response."
    out = generate(adapter, "c2", "TI", tmp_path)
    assert [m.ref for m in out.images] == ["a.png"]
    assert out.provenance.model == "my-model"


def test_several_unisafe_models_in_one_file_need_a_choice(tmp_path: Path) -> None:
    jsonl(tmp_path / "p.jsonl", [
        {"id": "c1", "scenario_type": "TT", "model": "a", "output_text": "x"},
        {"id": "c1", "scenario_type": "TT", "model": "b", "output_text": "y"}])
    with pytest.raises(ConfigError, match=r"'a', 'b'"):
        ReplayAdapter(tmp_path / "p.jsonl")
    assert generate(ReplayAdapter(tmp_path / "p.jsonl", "b"), "c1", "TT", tmp_path).text == "y"
