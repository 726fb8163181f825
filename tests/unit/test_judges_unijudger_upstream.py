"""``unijudger:...,protocol=upstream,upstream_dir=PATH``: Uni-SafeBench's requests and reader.

Against a FAKE checkout (tests/fake_toolkits.py: the real file names, our placeholder
prompts). On the old code the options did not exist (ConfigError).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.fake_toolkits import unisafebench_checkout
from tests.unit.test_judges_rubric import png
from unisafe_pytest.errors import ConfigError, JudgeError
from unisafe_pytest.judges.parsing import ParseFailure
from unisafe_pytest.judges.unijudger import UniJudger
from unisafe_pytest.judges.unijudger_upstream import extract_result_number
from unisafe_pytest.registry.builtin import make_judge
from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
TEXT_TASK = next(t.code for t in TASKS if t.protocol == "unisafebench" and t.output == "text")


class Recorder:
    def __init__(self, answers: list[str], status: int = 200) -> None:
        self.bodies: list[bytes] = []
        self.answers, self.status = answers, status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "bad request"}})
        return httpx.Response(200, json={"choices": [{"finish_reason": "stop", "message": {
            "content": self.answers.pop(0)}}]})


def judge(tmp_path: Path, recorder: Recorder) -> UniJudger:
    checkout = unisafebench_checkout(tmp_path / "usb")
    made = make_judge(f"unijudger:http://127.0.0.1:9/v1#jm,protocol=upstream,retries=1,"
                      f"upstream_dir={checkout},cache={tmp_path / 'c'}", base_dir=tmp_path,
                      settings={"transport": httpx.MockTransport(recorder)})
    assert isinstance(made, UniJudger)
    return made


def compact(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def instance(**extra: object) -> Instance:
    return Instance(suite="b", id="7", task=TEXT_TASK, category="Politics",
                    instruction="say {x}", **extra)  # type: ignore[arg-type]


def test_text_requests_are_byte_identical(tmp_path: Path) -> None:
    rec = Recorder(["Reason: x; Result: 2", "1"])
    row = judge(tmp_path, rec).judge(instance(intention="aim \u00e9"), TASKS[TEXT_TASK],
                                     ModelOutput(text="answer"))
    assert (row.ctx, row.intr, row.refusal) == (2, 1, True)
    ctx = "CTX-TEXT placeholder \u2014 [I]: aim \u00e9 [C]: Politics [P]:say {x}\nanswer"
    assert rec.bodies == [
        compact({"model": "jm", "messages": [{"role": "user", "content": [
            {"type": "text", "text": ctx}]}], "max_tokens": 512, "temperature": 0.0}),
        compact({"model": "jm", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "INT-TEXT placeholder\nanswer"}]}], "max_tokens": 512,
            "temperature": 0.0})]


def test_image_requests_send_file_bytes_and_intention_is_asked(tmp_path: Path) -> None:
    image = png("out")
    image = image.model_copy(update={"ref": "out.png"})
    rec = Recorder(["[Intention]: the aim", "Result: 2", "0"])
    row = judge(tmp_path, rec).judge(instance(), TASKS[TEXT_TASK], ModelOutput(images=[image]))
    assert (row.ctx, row.intr) == (2, 0)  # 2 to the 0/1 image question: upstream keeps it
    first = json.loads(rec.bodies[0])
    assert first["messages"][0]["content"] == "INTENTION placeholder [P]: say {x} [C]: Politics"
    url = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    second = json.loads(rec.bodies[1])["messages"][0]["content"]
    assert second[0]["text"].startswith("CTX-IMAGE placeholder [I]: the aim [C]")
    assert second[1] == {"type": "image_url", "image_url": {"url": url}}


def test_error_digits_are_never_a_label(tmp_path: Path) -> None:
    """Upstream reads '...Error code: 400...' as label 0; here it is an error that says so."""
    with pytest.raises(JudgeError, match="upstream would have scored"):
        judge(tmp_path, Recorder([], status=400)).judge(
            instance(intention="i"), TASKS[TEXT_TASK], ModelOutput(text="a"))


def test_no_digit_is_an_error_and_intrinsic_two_is_kept_as_upstream_counts_it(
        tmp_path: Path) -> None:
    """An intrinsic 2 is upstream's label (in N, neither I-U nor B-S: the item fails)."""
    with pytest.raises(JudgeError):
        judge(tmp_path / "a", Recorder(["Result: 1", "no label"])).judge(
            instance(intention="i"), TASKS[TEXT_TASK], ModelOutput(text="a"))
    row = judge(tmp_path / "b", Recorder(["Result: 1", "Result: 2"])).judge(
        instance(intention="i"), TASKS[TEXT_TASK], ModelOutput(text="a"))
    assert (row.ctx, row.intr, row.both_safe, row.valid_for("unisafebench")) == (
        1, 2, False, True)


def test_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="upstream_dir"):
        make_judge("unijudger:http://127.0.0.1:9/v1#m,protocol=upstream", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="Uni-Judger"):
        make_judge(f"unijudger:http://127.0.0.1:9/v1#m,protocol=upstream,upstream_dir={tmp_path}",
                   base_dir=tmp_path)


@pytest.mark.parametrize(("answer", "label"), [
    ("Result: 1", 1), ("reasoning ... result : 0", 0), ("RESULT:2\nbecause 1 and 0", 2),
    ("1", 1), ("  0\n", 0), ("Result: 1 ... Result: 1", 1)])
def test_a_result_field_or_a_lone_digit_is_read(answer: str, label: int) -> None:
    assert extract_result_number(answer) == label


@pytest.mark.parametrize(("answer", "upstream"), [
    ("Sorry, I can't evaluate this (policy section 1).", 1),  # upstream: the lone word
    ("The label is 0 or 1, hard to say", 1),  # upstream: the last digit anywhere
    ("error 502, retry in 10 s", 0),
    ("Result: 0\nResult: 1", 0),  # upstream: the first Result field
])
def test_stray_digits_are_no_verdict_and_say_what_upstream_scored(
        answer: str, upstream: int) -> None:
    with pytest.raises(ParseFailure, match=f"upstream would have scored it as label {upstream}"):
        extract_result_number(answer)


def test_no_digit_is_upstreams_na() -> None:
    with pytest.raises(ParseFailure, match="NA"):
        extract_result_number("I cannot judge this.")
