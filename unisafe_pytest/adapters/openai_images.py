"""``openai-images``: the OpenAI-style Images API (``/images/generations``, ``/images/edits``).

- text-to-image tasks (TI, T2I) -> ``POST /images/generations`` (JSON);
- editing and composition (IE, Edit, IC) -> ``POST /images/edits`` (multipart form): one input
  image is sent as the field ``image``, several as repeated ``image[]`` fields, in instance order
  (IC: image A, then image B);
- multi-turn editing (MT) runs as a ``chain``: turn 1 is a generation, each later turn edits the
  previous turn's output (recorded in describe() as ``mt_protocol``).

The API has no temperature; ``seed`` is sent only when a profile sets it (some compatible
servers take it). Images come back as ``b64_json`` (or a ``url``, fetched without credentials)
and are saved under ``ctx.output_dir`` by sha256. Set ``edits = false`` for models without the
edits endpoint: capabilities then cover text-to-image only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.http import Deadline, Reply
from unisafe_pytest.adapters.images import b64decode, media_mime, save_image
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
from unisafe_pytest.adapters.remote import RemoteAdapter
from unisafe_pytest.schema import Instance, Media, ModelOutput
from unisafe_pytest.schema.tasks import Task

KIND = "openai-images"
GENERATION_KEYS = (
    "size", "quality", "output_format", "background", "moderation", "response_format",
    "input_fidelity", "seed",
)
KEYS = ENDPOINT_KEYS | set(GENERATION_KEYS) | {"edits", "max_input_images", "extra_body"}
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIImagesAdapter(RemoteAdapter):
    """An image model behind the OpenAI-style Images API (see the module docstring)."""

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
        self.protocols = Protocols.from_settings(s, ("chain",))
        self.generation: dict[str, Any] = {"size": s.get_str("size", "1024x1024")}
        for key in GENERATION_KEYS[1:]:
            value = s.get_int(key) if key == "seed" else s.get_str(key)
            if value is not None:
                self.generation[key] = value
        self.extra_body = s.get_table("extra_body")
        self.edits = s.get_bool("edits", True)
        max_images = s.get_int("max_input_images", 2) or 0
        self.capabilities = Capabilities(
            inputs=frozenset({"text", "image"}) if self.edits else frozenset({"text"}),
            outputs=frozenset({"image"}),
            max_input_images=max_images if self.edits else 0,
            multi_turn=self.edits,
        )

    def __repr__(self) -> str:
        return f"OpenAIImagesAdapter({self.name!r}, model={self.endpoint.model!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "name": self.name,
            **self.endpoint.describe(),
            "settings": {
                **self.generation, "n": 1, "temperature": None, "max_tokens": None,
            },
            "settings_note": "the Images API takes no temperature or max_tokens",
            "edits": self.edits,
            "edit_fields": "one input image: 'image'; several: repeated 'image[]', in order",
            "extra_body_keys": sorted(self.extra_body),
            "capabilities": describe_capabilities(self.capabilities),
            "refusal_policy": POLICY_SUMMARY,
            **self.protocols.describe(self.capabilities.multi_turn),
        }

    def _generate(self, prompt: str, deadline: Deadline) -> Reply:
        body: dict[str, Any] = {
            "model": self.endpoint.model, "prompt": prompt, "n": 1, **self.generation,
            **self.extra_body,
        }
        return self._http.post("/images/generations", json_body=body, rejection=openai_rejection,
                               deadline=deadline)

    def _edit(self, prompt: str, images: list[Media], deadline: Deadline) -> Reply:
        fields: dict[str, Any] = {
            "model": self.endpoint.model, "prompt": prompt, "n": "1",
            **{k: str(v) for k, v in self.generation.items()},
            **{k: str(v) for k, v in self.extra_body.items()},
        }
        name = "image" if len(images) == 1 else "image[]"
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        for index, media in enumerate(images):
            data = media.read_bytes()
            mime = media_mime(media, data)
            suffix = mime.rpartition("/")[2] or "png"
            files.append((name, (f"input-{index}.{suffix}", data, mime)))
        return self._http.post(
            "/images/edits", data=fields, files=files, rejection=openai_rejection,
            deadline=deadline,
        )

    def _turn(self, reply: Reply, ctx: GenerateContext, usage: Usage,
              deadline: Deadline) -> Turn:
        tokens = reply.body.get("usage")
        if not isinstance(tokens, dict):
            tokens = {}
        usage.add(reply.latency_s, tokens.get("input_tokens"), tokens.get("output_tokens"))
        if reply.rejection is not None:
            return Turn(refusal=reply.rejection)
        data = reply.body.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise self._http.error(
                f"the reply has no data[0] image (reply keys {sorted(map(str, reply.body))})")
        if len(data) != 1:
            raise self._http.error(
                f"the reply holds {len(data)} images for a request of n=1: judging one of "
                "them could miss what the others show", retryable=False)
        item = data[0]
        if isinstance(item.get("b64_json"), str) and item["b64_json"]:
            raw = b64decode(item["b64_json"], what="data[0].b64_json")
        elif isinstance(item.get("url"), str) and item["url"]:
            raw = self._http.download(item["url"], deadline)
        else:
            raise self._http.error(
                "data[0] has neither b64_json nor url, so the reply has no readable image "
                f"(data[0] keys {sorted(map(str, item))})", retryable=False)
        image = save_image(raw, ctx.output_dir)
        revised = item.get("revised_prompt")
        return Turn(text=revised if isinstance(revised, str) else None, images=[image])

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        usage = Usage()
        deadline = self.deadline(task)
        turns: list[Turn] = []
        previous: list[Media] = list(instance.images)
        for text in self.protocols.turn_texts(instance, task):
            reply = (self._edit(text, previous, deadline) if previous
                     else self._generate(text, deadline))
            turn = self._turn(reply, ctx, usage, deadline)
            turns.append(turn)
            if image_turn_refusal(task, turn) is not None:
                break
            previous = turn.images[-1:]
        settings = dict(self.generation)
        if task.turns > 1:
            settings["mt_protocol"] = self.protocols.mt
        settings["timeout_s"] = deadline.seconds
        return combine(task, turns, usage.provenance(KIND, self.endpoint.model, settings))


def make_adapter(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> OpenAIImagesAdapter:
    """Factory for ``kind = "openai-images"`` and ``--unisafe-model=openai-images:MODEL``."""
    return OpenAIImagesAdapter(spec, settings)
