"""The request's clips reach the judge (issue 16): for AT (a spoken request) and VT (a filmed
one) the strict rubric judge that declares the modality gets the input clip(s) after the
protocol's images and before the output's clips, each after its label (``[n] request audio
clip:``), with our text saying they are the request. A judge that cannot see a modality the
request holds is a judge error and is never called (rubric, also asked directly, and
Uni-Judger, which keeps refusing ``modalities=``: its per-part questions know text and
images only). Against the fake judge server on 127.0.0.1. On the code before this change the
judge saw only the output's clips and judged a spoken request from its text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.modalities.clips import mp4, wav
from tests.servers.fake_judge import FakeJudgeState, serve
from unisafe_pytest.errors import ConfigError, JudgeError
from unisafe_pytest.judges.judge_media import REQUEST_CLIPS
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.judges.rubric import RubricJudge
from unisafe_pytest.judges.unijudger import UniJudger
from unisafe_pytest.registry.builtin import make_judge
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import Task, TaskRegistry

TASKS = TaskRegistry()
VOICE = Task(code="AA", name="speech-to-speech", protocol="unisafe",
             inputs=frozenset({"text", "audio"}), output="audio", judge_family="TT")
SPOKEN_BENCH = Task(code="AB", name="spoken VQA", protocol="unisafebench",
                    inputs=frozenset({"text", "audio"}), output="text", judge_family="text")
ASKED, SAID = wav(0.1), wav(0.2)


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeJudgeState]]:
    url, state, stop = serve()
    yield url, state
    stop()


def clip(data: bytes, kind: str = "audio", mime: str = "audio/wav") -> Media:
    return Media.from_bytes(data, ref=f"{kind}{len(data)}", mime=mime, kind=kind)


def spoken(task: str, *media: Media) -> Instance:
    return Instance(suite="s", id="1", task=task, category="Violence", subcategory="V2",
                    instruction="", images=list(media))


def content(body: dict[str, Any]) -> list[dict[str, Any]]:
    parts = body["messages"][1]["content"]
    assert isinstance(parts, list)
    return parts


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_spoken_request_reaches_a_judge_that_hears_it(
        fake: tuple[str, FakeJudgeState], tmp_path: Path) -> None:
    url, state = fake
    judge = make_judge(f"unisafe-rubric:{url}/v1#omni,retries=1,modalities=text+image+audio",
                       base_dir=tmp_path)
    assert isinstance(judge, RubricJudge) and "request_clips_prompt" in judge.spec.args
    verdict = JudgePanel([judge]).evaluate(spoken("AT", clip(ASKED)), TASKS["AT"],
                                           ModelOutput(text="Here is how."))
    judge.close()
    assert verdict.label == "safe", verdict
    parts = content(state.requests[-1]["body"])
    assert parts[1:] == [
        {"type": "text", "text": "[1] request audio clip:"},
        {"type": "input_audio", "input_audio": {"data": b64(ASKED), "format": "wav"}}]
    assert REQUEST_CLIPS.format(clips="[1] request audio clip") in parts[0]["text"]
    assert "Here is how." in parts[0]["text"]


def test_request_clips_come_before_the_output_clips(
        fake: tuple[str, FakeJudgeState], tmp_path: Path) -> None:
    url, state = fake
    judge = make_judge(f"unisafe-rubric:{url}/v1#omni,retries=1,modalities=text+image+audio",
                       base_dir=tmp_path)
    assert isinstance(judge, RubricJudge)
    judge.judge(spoken("AA", clip(ASKED)), VOICE, ModelOutput(images=[clip(SAID)]))
    judge.close()
    parts = content(state.requests[-1]["body"])
    assert [p.get("text") or p["input_audio"]["data"] for p in parts[1:]] == [
        "[1] request audio clip:", b64(ASKED), "[2] model output audio clip:", b64(SAID)]
    prompt = parts[0]["text"]
    assert prompt.index("[1] request audio clip") < prompt.index("[2] model output audio clip")


def test_a_filmed_request_reaches_a_gemini_judge_as_inline_data(
        fake: tuple[str, FakeJudgeState], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = fake
    monkeypatch.setenv("UNISAFE_TEST_GEMINI_KEY", "g" * 12)
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "gem.toml").write_text(
        f'kind = "gemini"\nmodel = "gem"\nbase_url = "{url}/v1beta"\n'
        'api_key_env = "UNISAFE_TEST_GEMINI_KEY"\n', encoding="utf-8")
    judge = make_judge("unisafe-rubric:gem,retries=1,modalities=text+image+video",
                       base_dir=tmp_path)
    film = mp4(1.0)
    judge.judge(spoken("VT", clip(film, "video", "video/mp4")), TASKS["VT"],
                ModelOutput(text="It shows a cat."))
    judge.close()
    parts = state.requests[-1]["body"]["contents"][0]["parts"]
    assert parts[1:] == [{"text": "[1] request video clip:"},
                         {"inlineData": {"mimeType": "video/mp4", "data": b64(film)}}]


def test_a_judge_that_cannot_hear_the_request_is_a_judge_error(
        fake: tuple[str, FakeJudgeState], tmp_path: Path) -> None:
    url, state = fake
    judge = make_judge(f"unisafe-rubric:{url}/v1#vlm,retries=1", base_dir=tmp_path)
    request = spoken("AT", clip(ASKED))
    with pytest.raises(JudgeError, match="cannot see audio"):
        judge.judge(request, TASKS["AT"], ModelOutput(text="Here is how."))
    verdict = JudgePanel([judge]).evaluate(request, TASKS["AT"], ModelOutput(text="ok"))
    assert verdict.label == "error" and "cannot see audio" in str(verdict.rows[0].error)
    hears = make_judge(f"unisafe-rubric:{url}/v1#omni,retries=1,modalities=text+image+audio",
                       base_dir=tmp_path)
    with pytest.raises(JudgeError, match="cannot see video"):  # hears, but sees no film
        hears.judge(spoken("VT", clip(mp4(), "video", "video/mp4")), TASKS["VT"],
                    ModelOutput(text="It shows a cat."))
    judge.close()
    hears.close()
    assert state.requests == []


def test_unijudger_sees_no_spoken_request_and_keeps_refusing_the_option(
        fake: tuple[str, FakeJudgeState], tmp_path: Path) -> None:
    url, state = fake
    judge = make_judge(f"unijudger:{url}/v1#vlm,retries=1", base_dir=tmp_path)
    assert isinstance(judge, UniJudger)
    with pytest.raises(JudgeError, match="cannot see audio"):
        judge.judge(spoken("AB", clip(ASKED)), SPOKEN_BENCH, ModelOutput(text="Sure."))
    with pytest.raises(JudgeError, match="cannot see audio"):
        judge.judge(spoken("AB"), SPOKEN_BENCH, ModelOutput(images=[clip(SAID)]))
    judge.close()
    assert state.requests == []
    with pytest.raises(ConfigError, match="questions and labels are defined for a text part"):
        make_judge(f"unijudger:{url}/v1#m,modalities=text+image+audio", base_dir=tmp_path)
