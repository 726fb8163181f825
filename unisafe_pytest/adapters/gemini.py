"""``gemini``: Google Gemini ``models/{model}:generateContent`` over REST (plain httpx).

Images go in as ``inlineData`` parts (before the text) and come out the same way; set
``image_output = true`` for image models (``responseModalities = ["TEXT", "IMAGE"]``). The key
is sent in the ``x-goog-api-key`` header, never in the URL. Blocks follow the policy table in
:mod:`unisafe_pytest.adapters.policy`: ``promptFeedback.blockReason`` and safety finish reasons
are refusals when the reply holds no content (with content, the content is judged and the
signal recorded); ``OTHER`` and other unexpected finish reasons are errors. Which parts are
read: :mod:`unisafe_pytest.adapters.readers`.

Audio and video go in as ``inlineData`` parts too (with their MIME type), when the profile
allows them: ``audio_input`` and ``video_input`` default to ``vision``. ``audio_output = true``
serves tasks whose output is audio (``responseModalities = ["AUDIO"]``, the voice from
``voice``); the reply's ``audio/*`` inlineData part is saved as a clip (raw PCM,
``audio/L16;rate=...``, is wrapped into a WAV). An audio part in a reply to a task that did not
ask for audio stays unreadable (an error).

MT runs as ``chain`` by default; ``mt_protocol = "session"`` keeps one conversation, sending
the model's earlier parts back verbatim (as Google asks for multi-turn image editing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.clips import save_clip
from unisafe_pytest.adapters.http import Deadline
from unisafe_pytest.adapters.images import b64decode, b64encode, media_mime, save_image
from unisafe_pytest.adapters.policy import GEMINI_OK_FINISH, POLICY_SUMMARY
from unisafe_pytest.adapters.profiles import ENDPOINT_KEYS
from unisafe_pytest.adapters.protocols import (
    Protocols,
    Turn,
    Usage,
    combine,
    describe_capabilities,
    image_turn_refusal,
)
from unisafe_pytest.adapters.readers import check_single, read_gemini_candidate
from unisafe_pytest.adapters.remote import RemoteAdapter
from unisafe_pytest.adapters.replies import check_readable, settle
from unisafe_pytest.errors import ConfigError, ModelError
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import Task

KIND = "gemini"
KEYS = ENDPOINT_KEYS | {
    "temperature", "max_tokens", "seed", "top_p", "system_prompt", "vision", "image_output",
    "max_input_images", "aspect_ratio", "safety_settings", "generation_config", "audio_input",
    "video_input", "audio_output", "voice",
}
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


class GeminiAdapter(RemoteAdapter):
    """A Gemini model over the REST API (see the module docstring)."""

    KIND = KIND
    KEYS = KEYS
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    DEFAULT_API_KEY_ENV = "GEMINI_API_KEY"
    AUTH = "x-goog-api-key"

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
        self.model_path = self.display_model()
        self.name = str(raw.get("profile") or f"{KIND}:{self.model_path}")
        vision = s.get_bool("vision", True)
        self.image_output = s.get_bool("image_output", False)
        self.protocols = Protocols.from_settings(s, ("chain", "session"))
        self.generation: dict[str, Any] = {
            "temperature": s.get_float("temperature", 0.0),
            "max_tokens": s.get_int("max_tokens", 1024),
            "seed": s.get_int("seed", 0),
            "top_p": s.get_float("top_p"),
            "aspect_ratio": s.get_str("aspect_ratio"),
        }
        self.system_prompt = s.get_str("system_prompt")
        safety = raw.get("safety_settings", [])
        if not isinstance(safety, list):
            raise ConfigError(f"{s.where}: safety_settings must be a list of tables")
        self.safety_settings: list[Any] = safety
        self.generation_config = s.get_table("generation_config")
        max_images = s.get_int("max_input_images", 3) or 0
        audio_input = s.get_bool("audio_input", vision)
        video_input = s.get_bool("video_input", vision)
        self.audio_output = s.get_bool("audio_output", False)
        self.voice = s.get_str("voice")
        self.capabilities = Capabilities(
            inputs=frozenset({"text", *(["image"] if vision else []),
                              *(["audio"] if audio_input else []),
                              *(["video"] if video_input else [])}),
            outputs=frozenset({"text", *(["image"] if self.image_output else []),
                               *(["audio"] if self.audio_output else [])}),
            max_input_images=max_images if vision else 0,
            multi_turn=self.image_output,
        )

    def display_model(self) -> str:
        return self.endpoint.model.removeprefix("models/")

    def __repr__(self) -> str:
        return f"GeminiAdapter({self.name!r}, model={self.model_path!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "name": self.name,
            **self.endpoint.describe(),
            "settings": {k: v for k, v in self.generation.items() if v is not None},
            "response_modalities": self._modalities(),
            "text_task_modalities": ["TEXT"],
            "safety_settings": self.safety_settings,
            "system_prompt": self.system_prompt,
            "capabilities": describe_capabilities(self.capabilities),
            "refusal_policy": POLICY_SUMMARY,
            **self.protocols.describe(self.capabilities.multi_turn),
        }

    def _modalities(self, task: Task | None = None) -> list[str]:
        """What the model is asked to answer in: a text task asks for text only, so an image
        model does not return pictures its text judges would not see."""
        if task is not None and task.output == "text":
            return ["TEXT"]
        if task is not None and task.output == "audio":
            return ["AUDIO"]
        return ["TEXT", "IMAGE"] if self.image_output else ["TEXT"]

    def _body(self, contents: list[dict[str, Any]], task: Task | None = None) -> dict[str, Any]:
        g = self.generation
        config: dict[str, Any] = {"responseModalities": self._modalities(task)}
        for ours, theirs in (("temperature", "temperature"), ("max_tokens", "maxOutputTokens"),
                             ("seed", "seed"), ("top_p", "topP")):
            if g[ours] is not None:
                config[theirs] = g[ours]
        if g["aspect_ratio"]:
            config["imageConfig"] = {"aspectRatio": g["aspect_ratio"]}
        if task is not None and task.output == "audio" and self.voice:
            config["speechConfig"] = {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": self.voice}}}
        config.update(self.generation_config)
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if self.safety_settings:
            body["safetySettings"] = self.safety_settings
        if self.system_prompt:
            body["systemInstruction"] = {"parts": [{"text": self.system_prompt}]}
        return body

    def _call(
        self, contents: list[dict[str, Any]], task: Task, ctx: GenerateContext, usage: Usage,
        deadline: Deadline,
    ) -> tuple[Turn, list[Any]]:
        reply = self._http.post(
            f"/models/{self.model_path}:generateContent", json_body=self._body(contents, task),
            deadline=deadline,
        )
        body = reply.body
        meta = body.get("usageMetadata")
        if not isinstance(meta, dict):
            meta = {}
        usage.add(
            reply.latency_s,
            meta.get("promptTokenCount"),
            meta.get("candidatesTokenCount"),
            body.get("modelVersion"),
        )
        candidates = body.get("candidates")
        if candidates is not None and not isinstance(candidates, list):
            raise self._http.error("the reply's candidates is not a list")
        check_single(candidates, "candidates", self._fail)
        candidate = candidates[0] if candidates else None
        kinds = ("image", "audio") if task.output == "audio" else ("image",)
        reading, inline, parts = read_gemini_candidate(body, candidate, kinds)
        if candidate is None and not reading.signals:
            raise self._http.error("the reply has no candidates and no promptFeedback block")
        finish = candidate.get("finishReason") if isinstance(candidate, dict) else None
        finish = "" if finish is None else finish
        if candidate is not None and not reading.signals and not (
                isinstance(finish, str) and finish in GEMINI_OK_FINISH):
            raise self._http.error(
                f"the candidate stopped with finishReason {finish!r}, which is neither a "
                "completion nor a safety block", retryable=False,
            )
        check_readable(reading, self._fail)
        images = [self._save(part, ctx.output_dir) for part in inline]
        return settle(reading, images, self._fail, joiner=""), parts

    def _fail(self, message: str, retryable: bool) -> ModelError:
        return self._http.error(message, retryable=retryable)

    def _save(self, part: dict[str, Any], output_dir: Path) -> Media:
        data = b64decode(part["data"], what="an inlineData part")
        mime = str(part.get("mimeType") or part.get("mime_type") or "image/png")
        if mime.lower().startswith("audio/"):
            return save_clip(data, output_dir, "audio", mime=mime)
        return save_image(data, output_dir)

    def _user(self, text: str, images: list[Media]) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        for media in images:
            data = media.read_bytes()
            parts.append(
                {"inlineData": {"mimeType": media_mime(media, data), "data": b64encode(data)}}
            )
        parts.append({"text": text})
        return {"role": "user", "parts": parts}

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        usage = Usage()
        deadline = self.deadline(task)
        turns: list[Turn] = []
        history: list[dict[str, Any]] = []
        previous: list[Media] = list(instance.images)
        session = task.turns > 1 and self.protocols.mt == "session"
        for index, text in enumerate(self.protocols.turn_texts(instance, task)):
            if session:
                history.append(self._user(text, previous if index == 0 else []))
                turn, parts = self._call(history, task, ctx, usage, deadline)
                history.append({"role": "model", "parts": parts})
            else:
                turn, _ = self._call([self._user(text, previous)], task, ctx, usage,
                                     deadline)
            turns.append(turn)
            if image_turn_refusal(task, turn) is not None:
                break
            previous = turn.images[-1:] if task.turns > 1 else previous
        settings = {k: v for k, v in self.generation.items() if v is not None}
        settings["response_modalities"] = self._modalities(task)
        if task.turns > 1:
            settings["mt_protocol"] = self.protocols.mt
        settings["timeout_s"] = deadline.seconds
        return combine(task, turns, usage.provenance(KIND, self.model_path, settings))


def make_adapter(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> GeminiAdapter:
    """Factory for ``kind = "gemini"`` profiles and ``--unisafe-model=gemini:MODEL``."""
    return GeminiAdapter(spec, settings)
