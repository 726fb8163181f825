"""``openai-chat``: any OpenAI-compatible ``/chat/completions`` server, over plain httpx.

Hosted APIs, vLLM, SGLang and ``llama_cpp.server`` all speak it. Text and images go in (images
as ``data:`` URLs in ``image_url`` parts, before the text); text comes out, and image parts
when the server returns them (``message.images`` or ``image_url`` content parts). What is read
and what is an error: :mod:`unisafe_pytest.adapters.readers` and
:mod:`unisafe_pytest.adapters.replies`. Set
``vision = false`` for text-only servers and ``image_output = true`` for servers that make
images; capabilities follow those settings.

Audio (GPT-4o audio models): ``audio_input = true`` sends input clips as ``input_audio``
parts (WAV or MP3, base64, after any images and before the text); ``audio_output = true``
serves tasks whose output is audio, asking with ``modalities: ["text", "audio"]`` and
``audio: {"voice": <voice>, "format": "wav"}``, and reads ``message.audio.data`` (the clip,
saved to the run directory) and ``message.audio.transcript`` (kept beside the clip and
recorded as the provider's transcript). ``message.audio`` in a reply to a task that did not
ask for audio stays unreadable (an error).

Profile keys: see :data:`KEYS`. ``base_url`` includes the ``/v1`` prefix, as in the OpenAI SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.clips import openai_audio_part, save_clip
from unisafe_pytest.adapters.http import Deadline, Reply
from unisafe_pytest.adapters.images import b64decode, data_url, decode_data_url, save_image
from unisafe_pytest.adapters.policy import POLICY_SUMMARY, openai_rejection
from unisafe_pytest.adapters.profiles import ENDPOINT_KEYS
from unisafe_pytest.adapters.protocols import (
    Protocols,
    Turn,
    Usage,
    combine,
    describe_capabilities,
    image_turn_refusal,
)
from unisafe_pytest.adapters.readers import check_single, read_openai_message
from unisafe_pytest.adapters.remote import RemoteAdapter
from unisafe_pytest.adapters.replies import check_readable, settle
from unisafe_pytest.errors import ModelError
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import Task

KIND = "openai-chat"
KEYS = ENDPOINT_KEYS | {
    "temperature", "max_tokens", "seed", "top_p", "system_prompt", "vision", "image_output",
    "max_input_images", "extra_body", "audio_input", "audio_output", "voice",
}
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIChatAdapter(RemoteAdapter):
    """An OpenAI-compatible chat model (see the module docstring)."""

    KIND = KIND
    KEYS = KEYS
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"

    def __init__(
        self,
        spec: str = "",
        settings: Mapping[str, Any] | None = None,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        raw, s = self._connect(spec, settings, client=client, transport=transport, env=env)
        self.name = str(raw.get("profile") or f"{KIND}:{self.endpoint.model}")
        vision = s.get_bool("vision", True)
        image_output = s.get_bool("image_output", False)
        self.protocols = Protocols.from_settings(s, ("chain", "session"))
        self.generation: dict[str, Any] = {
            "temperature": s.get_float("temperature", 0.0),
            "max_tokens": s.get_int("max_tokens", 512),
            "seed": s.get_int("seed", 0),
            "top_p": s.get_float("top_p"),
        }
        self.system_prompt = s.get_str("system_prompt")
        self.extra_body = s.get_table("extra_body")
        max_images = s.get_int("max_input_images", 8 if vision else 0) or 0
        audio_input = s.get_bool("audio_input", False)
        audio_output = s.get_bool("audio_output", False)
        self.voice = s.get_str("voice", "alloy") or "alloy"
        self.capabilities = Capabilities(
            inputs=frozenset({"text", *(["image"] if vision else []),
                              *(["audio"] if audio_input else [])}),
            outputs=frozenset({"text", *(["image"] if image_output else []),
                               *(["audio"] if audio_output else [])}),
            max_input_images=max_images if vision else 0,
            multi_turn=image_output,
        )

    def __repr__(self) -> str:
        return f"OpenAIChatAdapter({self.name!r}, model={self.endpoint.model!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "name": self.name,
            **self.endpoint.describe(),
            "settings": {k: v for k, v in self.generation.items() if v is not None},
            "system_prompt": self.system_prompt,
            "extra_body_keys": sorted(self.extra_body),
            **({"voice": self.voice} if "audio" in self.capabilities.outputs else {}),
            "capabilities": describe_capabilities(self.capabilities),
            "refusal_policy": POLICY_SUMMARY,
            **self.protocols.describe(self.capabilities.multi_turn),
        }

    # -- requests -------------------------------------------------------------------------

    def _user_message(self, text: str, images: list[Media]) -> dict[str, Any]:
        if not images:
            return {"role": "user", "content": text}
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": data_url(m)}}
            for m in images if m.kind == "image"
        ]
        parts += [openai_audio_part(m) for m in images if m.kind == "audio"]
        other = sorted({m.kind for m in images} - {"image", "audio"})
        if other:
            raise ModelError(f"openai-chat sends no {'/'.join(other)} input (only images and "
                             "audio); run the task with an adapter that takes it",
                             retryable=False)
        parts.append({"type": "text", "text": text})
        return {"role": "user", "content": parts}

    def _body(self, messages: list[dict[str, Any]], task: Task | None = None
              ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": messages}
        if task is not None and task.output == "audio":
            body["modalities"] = ["text", "audio"]
            body["audio"] = {"voice": self.voice, "format": "wav"}
        for key in ("temperature", "max_tokens", "seed", "top_p"):
            if self.generation[key] is not None:
                body[key] = self.generation[key]
        body.update(self.extra_body)
        return body

    def _call(
        self, messages: list[dict[str, Any]], ctx: GenerateContext, usage: Usage,
        deadline: Deadline, task: Task | None = None,
    ) -> tuple[Turn, dict[str, Any] | None]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        reply = self._http.post(
            "/chat/completions", json_body=self._body(system + messages, task),
            rejection=openai_rejection, deadline=deadline,
        )
        if reply.rejection is not None:
            usage.add(reply.latency_s)
            return Turn(refusal=reply.rejection), None
        return self._parse(reply, ctx, usage, deadline,
                           audio=task is not None and task.output == "audio")

    def _parse(
        self, reply: Reply, ctx: GenerateContext, usage: Usage, deadline: Deadline,
        audio: bool = False,
    ) -> tuple[Turn, dict[str, Any]]:
        body = reply.body
        tokens = body.get("usage")
        if not isinstance(tokens, dict):
            tokens = {}
        usage.add(
            reply.latency_s,
            tokens.get("prompt_tokens"),
            tokens.get("completion_tokens"),
            body.get("system_fingerprint") or _model_name(body.get("model")),
        )
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._http.error("the reply has no choices[0]")
        check_single(choices, "choices", self._fail)
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise self._http.error("the reply's choices[0] has no message object")
        spoken = message.get("audio") if audio else None
        shown = {k: v for k, v in message.items() if k != "audio"} if audio else message
        reading, urls = read_openai_message(shown, choices[0].get("finish_reason"))
        check_readable(reading, self._fail)
        images = [self._save(url, ctx.output_dir, deadline) for url in urls]
        if spoken is not None:
            images.append(self._save_audio(spoken, ctx.output_dir))
        return settle(reading, images, self._fail), message

    def _save_audio(self, spoken: Any, output_dir: Path) -> Media:
        """``message.audio`` as a saved clip with its transcript; malformed is an error."""
        data = spoken.get("data") if isinstance(spoken, dict) else None
        transcript = spoken.get("transcript") if isinstance(spoken, dict) else None
        if not isinstance(data, str) or not data or not (
                transcript is None or isinstance(transcript, str)):
            raise self._fail("the reply's message.audio has no base64 'data' string (or a "
                             "transcript that is not a string); the spoken answer cannot be "
                             "read", False)
        return save_clip(b64decode(data, what="message.audio.data"), output_dir, "audio",
                         mime="audio/wav", transcript=transcript)

    def _fail(self, message: str, retryable: bool) -> ModelError:
        return self._http.error(message, retryable=retryable)

    def _save(self, url: str, output_dir: Path, deadline: Deadline) -> Media:
        data = decode_data_url(url, what="an image part of the reply")
        if data is None:
            data = self._http.download(url, deadline)
        return save_image(data, output_dir)

    # -- the Adapter protocol -------------------------------------------------------------

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        usage = Usage()
        deadline = self.deadline(task)
        texts = self.protocols.turn_texts(instance, task)
        turns: list[Turn] = []
        history: list[dict[str, Any]] = []
        previous: list[Media] = list(instance.images)
        for index, text in enumerate(texts):
            if task.turns > 1 and self.protocols.mt == "session":
                history.append(self._user_message(text, previous if index == 0 else []))
                turn, message = self._call(history, ctx, usage, deadline, task)
                if message is not None:
                    history.append(_assistant_echo(message))
            else:
                turn, _ = self._call([self._user_message(text, previous)], ctx, usage, deadline,
                                     task)
            turns.append(turn)
            if image_turn_refusal(task, turn) is not None:
                break
            if task.turns > 1:
                previous = turn.images[-1:]
        settings = {k: v for k, v in self.generation.items() if v is not None}
        if task.output == "audio":
            settings["voice"] = self.voice
        if task.turns > 1:
            settings["mt_protocol"] = self.protocols.mt
        settings["timeout_s"] = deadline.seconds
        return combine(task, turns, usage.provenance(KIND, self.endpoint.model, settings))


def _model_name(value: Any) -> str | None:
    """The served model's name; a file path (llama.cpp servers report one) keeps its basename."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(("/", "~", ".")) or "\\" in value or value.endswith(".gguf"):
        return value.replace("\\", "/").rsplit("/", 1)[-1]
    return value


def _assistant_echo(message: dict[str, Any]) -> dict[str, Any]:
    """The assistant's reply as it goes back into a session (content and images as returned)."""
    echo: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("images"):
        echo["images"] = message["images"]
    return echo


def make_adapter(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> OpenAIChatAdapter:
    """Factory for ``kind = "openai-chat"`` profiles and ``--unisafe-model=openai-chat:MODEL``."""
    return OpenAIChatAdapter(spec, settings)
