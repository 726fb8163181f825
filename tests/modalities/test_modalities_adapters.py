"""Audio and video through the adapters (issue 16): OpenAI-compatible ``input_audio`` parts
and audio output, Gemini inline audio/video in and audio out, per-modality capabilities and
the skip reasons, fail closed on unreadable or malformed audio (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.modalities.clips import MP4, OGG, wav
from tests.servers.reply_server import ReplyServer, chat, gemini
from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.gemini import GeminiAdapter
from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
from unisafe_pytest.errors import ModelError
from unisafe_pytest.schema import Instance, Media
from unisafe_pytest.schema.tasks import Task, TaskRegistry

TASKS = TaskRegistry()
SPEECH = Task(code="AA", name="speech-to-speech", protocol="unisafe",
              inputs=frozenset({"text", "audio"}), output="audio")
TASKS.add(SPEECH)
CLIP = wav(0.2)
SPOKEN = wav(0.3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inst(task: str, reply: str, media: list[Media]) -> Instance:
    return Instance(suite="s", id="1", task=task, category="Hate",
                    instruction=f"Answer the clip. REPLY={reply}", images=media)


def audio(data: bytes = CLIP, mime: str = "audio/wav") -> Media:
    return Media.from_bytes(data, ref="a.wav", mime=mime, kind="audio")


class Recorder:
    """An httpx transport that records request bodies and answers one scripted reply."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=self.reply)


def openai(transport: Recorder | None = None, base: str = "http://fake.test/v1",
           **settings: Any) -> OpenAIChatAdapter:
    conf = {"model": "gpt-audio", "base_url": base, "api_key_env": "K", **settings}
    return OpenAIChatAdapter("", conf, transport=httpx.MockTransport(transport)
                             if transport else None, env={"K": "sk-test-0123456789abcdef"})


def gem(transport: Recorder | None = None, base: str = "http://fake.test/v1beta",
        **settings: Any) -> GeminiAdapter:
    conf = {"model": "gemini-x", "base_url": base, "api_key_env": "G", **settings}
    return GeminiAdapter("", conf, transport=httpx.MockTransport(transport)
                         if transport else None, env={"G": "AIzaCanary0123456789abcdef"})


def test_capabilities_per_modality_and_skip_reasons() -> None:
    plain = openai()
    assert plain.capabilities.unsupported_reason(TASKS["AT"]) == (
        "model does not take audio input (task AT)")
    heard = openai(audio_input=True)
    assert heard.capabilities.unsupported_reason(TASKS["AT"]) is None
    assert heard.capabilities.unsupported_reason(SPEECH) == (
        "model does not produce audio output (task AA)")
    assert heard.capabilities.unsupported_reason(TASKS["VT"]) == (
        "model does not take video input (task VT)")
    assert openai(audio_input=True, audio_output=True).capabilities.unsupported_reason(
        SPEECH) is None
    assert gem().capabilities.unsupported_reason(TASKS["VT"]) is None
    assert gem(vision=False).capabilities.unsupported_reason(TASKS["AT"]) == (
        "model does not take audio input (task AT)")
    two = Task(code="A2", name="two clips", protocol="unisafe",
               inputs=frozenset({"text", "audio"}), output="text", input_media=(("audio", 2),))
    caps = Capabilities(inputs=frozenset({"text", "audio"}), max_input_media=(("audio", 1),))
    assert caps.unsupported_reason(two) == (
        "task A2 needs 2 input audio file(s); model takes at most 1")


def test_openai_input_audio_part(tmp_path: Path) -> None:
    app = Recorder(chat({"role": "assistant", "content": "I will not help."}))
    out = openai(app, audio_input=True).generate(
        inst("AT", "x", [audio()]), TASKS["AT"], GenerateContext(output_dir=tmp_path))
    [message] = app.bodies[0]["messages"]
    assert message["content"][0] == {"type": "input_audio",
                                      "input_audio": {"data": b64(CLIP), "format": "wav"}}
    assert message["content"][1]["type"] == "text"
    assert "modalities" not in app.bodies[0]
    assert out.text == "I will not help."


def test_openai_refuses_to_send_audio_it_cannot_encode(tmp_path: Path) -> None:
    app = Recorder(chat({"role": "assistant", "content": "x"}))
    with pytest.raises(ModelError, match="WAV or MP3 only"):
        openai(app, audio_input=True).generate(
            inst("AT", "x", [audio(OGG, "audio/ogg")]), TASKS["AT"],
            GenerateContext(output_dir=tmp_path))
    assert app.bodies == []


def test_openai_audio_output_over_http(tmp_path: Path) -> None:
    replies = {
        "spoken": chat({"role": "assistant", "content": None,
                        "audio": {"id": "a1", "data": b64(SPOKEN), "transcript": "No.",
                                  "expires_at": 1}}),
        "garbage": chat({"role": "assistant", "content": None,
                         "audio": {"id": "a1", "data": b64(b"not audio at all")}}),
        "nodata": chat({"role": "assistant", "content": None, "audio": {"id": "a1"}}),
    }
    ctx = GenerateContext(output_dir=tmp_path)
    with ReplyServer(replies) as server:
        model = openai(base=server.base_url, audio_input=True, audio_output=True)
        out = model.generate(inst("AA", "spoken", [audio()]), SPEECH, ctx)
        [clip] = out.media_of("audio")
        assert (clip.mime, clip.transcript, Path(clip.path or "").read_bytes()) == (
            "audio/wav", "No.", SPOKEN)
        assert out.modalities() == {"audio"} and not out.refusal
        for name, message in (("garbage", "not a WAV/MP3/FLAC/OGG audio clip"),
                              ("nodata", "no base64 'data' string")):
            with pytest.raises(ModelError, match=message):
                model.generate(inst("AA", name, [audio()]), SPEECH, ctx)
        text_model = openai(base=server.base_url, audio_input=True)
        try:
            with pytest.raises(ModelError, match=r"message\.audio"):  # not asked: unreadable
                text_model.generate(inst("AT", "spoken", [audio()]), TASKS["AT"], ctx)
        finally:
            text_model.close()
            model.close()


def test_openai_asks_for_audio_output() -> None:
    app = Recorder(chat({"role": "assistant", "content": None,
                         "audio": {"data": b64(SPOKEN), "transcript": "no"}}))
    openai(app, audio_input=True, audio_output=True, voice="verse").generate(
        inst("AA", "x", [audio()]), SPEECH, GenerateContext(output_dir=Path("/tmp/unused")))
    assert app.bodies[0]["modalities"] == ["text", "audio"]
    assert app.bodies[0]["audio"] == {"voice": "verse", "format": "wav"}


def test_gemini_inline_audio_and_video_in(tmp_path: Path) -> None:
    app = Recorder(gemini({"content": {"parts": [{"text": "I can't help."}]},
                           "finishReason": "STOP"}))
    video = Media.from_bytes(MP4, ref="v.mp4", mime="video/mp4", kind="video")
    out = gem(app).generate(inst("VT", "x", [video]), TASKS["VT"],
                            GenerateContext(output_dir=tmp_path))
    parts = app.bodies[0]["contents"][0]["parts"]
    assert parts[0] == {"inlineData": {"mimeType": "video/mp4", "data": b64(MP4)}}
    assert out.text == "I can't help."
    gem(app).generate(inst("AT", "x", [audio()]), TASKS["AT"],
                      GenerateContext(output_dir=tmp_path))
    assert app.bodies[1]["contents"][0]["parts"][0]["inlineData"]["mimeType"] == "audio/wav"


def test_gemini_audio_out_pcm_is_wrapped_and_unasked_audio_is_an_error(tmp_path: Path) -> None:
    pcm = b"\x01\x00" * 2400
    reply = gemini({"content": {"parts": [{"inlineData": {
        "mimeType": "audio/L16;codec=pcm;rate=24000", "data": b64(pcm)}}]},
        "finishReason": "STOP"})
    ctx = GenerateContext(output_dir=tmp_path)
    app = Recorder(reply)
    out = gem(app, audio_output=True, voice="Kore").generate(
        inst("AA", "x", [audio()]), SPEECH, ctx)
    assert app.bodies[0]["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert app.bodies[0]["generationConfig"]["speechConfig"]["voiceConfig"] == {
        "prebuiltVoiceConfig": {"voiceName": "Kore"}}
    [clip] = out.media_of("audio")
    data = Path(clip.path or "").read_bytes()
    assert (clip.mime, data[:4], data[8:12], data.endswith(pcm)) == (
        "audio/wav", b"RIFF", b"WAVE", True)
    with pytest.raises(ModelError, match="inlineData part of type 'audio/L16"):
        gem(Recorder(reply)).generate(inst("AT", "x", [audio()]), TASKS["AT"], ctx)
