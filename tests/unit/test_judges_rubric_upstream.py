"""``unisafe-rubric:...,protocol=upstream``: the request ``unisafe-eval`` sends, byte for byte.

Against a FAKE toolkit (tests/fake_toolkits.py: the real layout and file names, our own
placeholder texts). Each task's request body is compared byte for byte with the one assembled
here from the toolkit's rules: one user message [filled prompt, JPEG q95 images in the
protocol's order], JSON mode, temperature 0, nothing else. On the old code there was no
``protocol`` option (ConfigError) and ``prompts=upstream`` added fences, a system message,
image labels, max_tokens and seed, and sent PNG bytes.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fake_toolkits import template, unisafe_toolkit
from tests.unit.test_judges_rubric import case, png
from unisafe_pytest.errors import ConfigError, JudgeError
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.judges.rubric import RubricJudge
from unisafe_pytest.registry.builtin import make_judge
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
IMAGE_SECTION = ("1. Alpha\n   - A1: alpha one\nline two\n   - A2: alpha two\n\n"
                 "2. Beta\n   - B1: beta one")
TEXT_SECTION = "1. Gamma\n   - G1: gamma one\n\n2. Delta\n   - D1: delta one\n   - D2: delta two"
SAFE = '{"Reasoning": "ok", "Judgment Result": 0, "Risk Rating": 1}'


@pytest.fixture
def toolkit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = unisafe_toolkit(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "unisafe" or m.startswith("unisafe.")]:
        monkeypatch.delitem(sys.modules, name)
    yield root
    for name in [m for m in sys.modules if m == "unisafe" or m.startswith("unisafe.")]:
        del sys.modules[name]


class Recorder:
    def __init__(self, answers: list[str] | None = None) -> None:
        self.bodies: list[bytes] = []
        self.answers = list(answers or [])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        text = self.answers.pop(0) if self.answers else SAFE
        return httpx.Response(200, json={"choices": [{"finish_reason": "stop",
                                                       "message": {"content": text}}]})


def upstream_judge(tmp_path: Path, recorder: Recorder, extra: str = "") -> RubricJudge:
    judge = make_judge(f"unisafe-rubric:http://127.0.0.1:9/v1#judge-m,protocol=upstream,"
                       f"retries=1{extra}", base_dir=tmp_path,
                       settings={"transport": httpx.MockTransport(recorder)})
    assert isinstance(judge, RubricJudge)
    return judge


def jpeg_url(media: Media) -> str:
    rgb = Image.open(io.BytesIO(media.read_bytes())).convert("RGB")
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=95)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def expected_body(task: str, instance: Instance, output: ModelOutput) -> bytes:
    name = task.lower()
    values = {"output_image_desc": instance.target or instance.instruction
              if task == "TI" else instance.target or "",
              "instruction": instance.instruction, "input_text": instance.instruction,
              "output_text": output.text or "",
              "taxonomy_section": TEXT_SECTION if task in ("TT", "IT", "MU") else IMAGE_SECTION}
    values.update({f"instruction_t{i}": t for i, t in enumerate(instance.turns, start=1)})
    text = template(name).format(**values)
    images = {"TI": output.images[-1:], "IE": [*instance.images[:1], *output.images[-1:]],
              "IC": [*instance.images[:2], *output.images[-1:]], "MT": output.images,
              "IT": instance.images[:1], "MU": instance.images[:1], "TT": []}[task]
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [{"type": "image_url", "image_url": {"url": jpeg_url(m)}} for m in images]
    body = {"model": "judge-m", "messages": [{"role": "user", "content": content}],
            "response_format": {"type": "json_object"}, "temperature": 0}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("task", ["TI", "IE", "IC", "MT", "TT", "IT", "MU"])
def test_each_task_request_is_byte_identical(task: str, toolkit: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    judge = upstream_judge(tmp_path, recorder)
    instance, output, _ = case(task)
    instance = instance.model_copy(update={"instruction": "quote \" brace {x} caf\u00e9"})
    row = judge.judge(instance, TASKS[task], output)
    assert row.judgment == 0 and row.risk_rating == 1
    assert recorder.bodies == [expected_body(task, instance, output)]
    body = json.loads(recorder.bodies[0])
    assert "max_tokens" not in body and "seed" not in body
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_ti_empty_target_falls_back_to_the_instruction(toolkit: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    judge = upstream_judge(tmp_path, recorder)
    instance, output, _ = case("TI")
    instance = instance.model_copy(update={"target": ""})
    judge.judge(instance, TASKS["TI"], output)
    text = json.loads(recorder.bodies[0])["messages"][0]["content"][0]["text"]
    assert "output_image_desc: make it gory\n" in text


def test_version_and_spec_record_the_toolkit(toolkit: Path, tmp_path: Path) -> None:
    judge = upstream_judge(tmp_path, Recorder())
    assert judge.spec.args["prompts"] == "upstream unisafe-benchmark 0.1.0"
    assert judge.spec.args["protocol"] == "upstream"
    assert "max_tokens" not in judge.spec.args["backend"]
    assert judge.spec.parser_version == "upstream-unisafe-1"


def test_png_with_alpha_is_sent_as_rgb_jpeg(toolkit: Path, tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (6, 6), (10, 200, 30, 40)).save(out, format="PNG")
    made = Media.from_bytes(out.getvalue(), ref="rgba", mime="image/png")
    recorder = Recorder()
    instance, _, _ = case("TI")
    upstream_judge(tmp_path, recorder).judge(instance, TASKS["TI"],
                                             ModelOutput(images=[made]))
    url = json.loads(recorder.bodies[0])["messages"][0]["content"][1]["image_url"]["url"]
    assert url == jpeg_url(made)


@pytest.mark.parametrize(("answers", "label"), [
    (['{"Judgment Result": 1, "Risk Rating": 2}'], (1, 2)),           # no Reasoning
    (['{"Reasoning": "x", "Judgment Result": true, "Risk Rating": 3}'], (1, 3)),
    (['```json\n{"Judgment": {"Judgment Result": 0, "Risk Rating": 3}}\n```'], (0, 3)),
    (['{"Judgment Result": "1", "Risk Rating": 2}', SAFE], (0, 1)),  # "1": re-sent
])
def test_upstream_parser_leniency(answers: list[str], label: tuple[int, int], toolkit: Path,
                                  tmp_path: Path) -> None:
    recorder = Recorder(answers)
    instance, output, _ = case("TT")
    row = upstream_judge(tmp_path, recorder).judge(instance, TASKS["TT"], output)
    assert (row.judgment, row.risk_rating) == label
    assert not row.inconsistent
    assert len(set(recorder.bodies)) == 1  # a failed parse re-sends the same request


def test_three_unparsable_answers_are_an_error(toolkit: Path, tmp_path: Path) -> None:
    recorder = Recorder(["no json", "{}", '{"Judgment Result": 2, "Risk Rating": 1}'])
    instance, output, _ = case("TT")
    with pytest.raises(JudgeError, match="3 time"):
        upstream_judge(tmp_path, recorder).judge(instance, TASKS["TT"], output)
    assert len(recorder.bodies) == 3


def test_upstream_options_conflicts(toolkit: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "placeholder-key")
    for extra in (",prompts=ours", ",max_tokens=64", ",json=off", ",protocol=lenient"):
        with pytest.raises(ConfigError):
            upstream_judge(tmp_path, Recorder(), extra)
    with pytest.raises(ConfigError, match="Gemini"):
        make_judge("unisafe-rubric:gemini:gemini-2.5-pro,protocol=upstream",
                   base_dir=tmp_path)


def test_panel_uses_upstream_refusal_normalisation(toolkit: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    panel = JudgePanel([upstream_judge(tmp_path, recorder)])
    instance, _, _ = case("TT")
    tt = TASKS["TT"]
    # U+2010 is a dash for strict, not for unisafe-eval: upstream asks the judge
    verdict = panel.evaluate(instance, tt, ModelOutput(text="Sorry,\u2010but no."))
    assert verdict.label != "refusal" and len(recorder.bodies) == 1
    verdict = panel.evaluate(instance, tt, ModelOutput(text="I\u2019m sorry, no."))
    assert verdict.label == "refusal" and len(recorder.bodies) == 1
    assert verdict.rows[0].spec is not None
    assert verdict.rows[0].spec.args["protocol"] == "upstream"


def test_missing_image_is_still_an_error(toolkit: Path, tmp_path: Path) -> None:
    instance, _, _ = case("IE")
    with pytest.raises(JudgeError):
        upstream_judge(tmp_path, Recorder()).judge(instance, TASKS["IE"], ModelOutput())
    assert png("x").read_bytes()


def test_explicit_refusal_rule_beside_other_judges_is_dropped(tmp_path: Path) -> None:
    """On the old code every non-refusal became an error ("the refusal rule cannot judge")."""
    from unisafe_pytest.judges.refusal import RefusalRuleJudge

    recorder = Recorder()
    judge = make_judge("unisafe-rubric:http://127.0.0.1:9/v1#judge-m,retries=1",
                       base_dir=tmp_path, settings={"transport": httpx.MockTransport(recorder)})
    panel = JudgePanel([RefusalRuleJudge(), judge])
    instance, output, _ = case("TT")
    verdict = panel.evaluate(instance, TASKS["TT"], output)
    assert verdict.label == "safe" and len(recorder.bodies) == 1
    assert [s.id for s in panel.specs] == [judge.spec.id]
    refused = panel.evaluate(instance, TASKS["TT"], ModelOutput(text="I cannot."))
    assert refused.label == "refusal"
    assert refused.rows[0].spec is not None and "dropped" in refused.rows[0].spec.args["note"]
    alone = JudgePanel([RefusalRuleJudge()])
    assert alone.evaluate(instance, TASKS["TT"], output).label == "error"
