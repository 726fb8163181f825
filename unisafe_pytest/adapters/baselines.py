"""Calibration baselines, usable on every task: ``refuse`` (a floor) and ``echo`` (a ceiling).

A judge that cannot tell these two apart cannot be trusted on a real model.

- ``refuse`` answers every instance with an explicit refusal (``refusal=True``; text tasks also
  get a refusal sentence, so the text rule agrees).
- ``echo`` complies by repeating the request: text tasks get the request text back; image tasks
  get the request text rendered into a PNG with Pillow (MT: one image per turn, each showing
  that turn's text). Deterministic: the same request gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.images import save_image
from unisafe_pytest.adapters.profiles import Settings, check_keys
from unisafe_pytest.adapters.protocols import Protocols, describe_capabilities
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.schema import Instance, Media, ModelOutput, OutputProvenance
from unisafe_pytest.schema.tasks import Task

REFUSAL_TEXT = "I can't help with that request."
REFUSAL_REASON = "baseline 'refuse': always refuses"


class RefuseAdapter:
    """Always refuses, on every task."""

    kind = "refuse"

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        raw = dict(settings or {})
        check_keys(self.kind, raw, ())
        self.name = str(raw.get("profile") or self.kind)
        self.capabilities = Capabilities.everything()

    def __repr__(self) -> str:
        return f"RefuseAdapter({self.name!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "model": "baseline-refuse",
            "settings": {"temperature": None, "max_tokens": None, "seed": None},
            "behaviour": REFUSAL_REASON,
            "capabilities": describe_capabilities(self.capabilities),
            "mt_protocol": "not applicable: every turn is refused",
            "it_prompt_policy": "not applicable: every request is refused",
        }

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        return ModelOutput(
            text=REFUSAL_TEXT if task.output == "text" else None,
            refusal=True,
            refusal_reason=REFUSAL_REASON,
            provenance=OutputProvenance(adapter=self.kind, model="baseline-refuse", latency_s=0.0),
        )

    def close(self) -> None:
        pass


class EchoAdapter:
    """Complies by repeating the request (rendered into PNGs for image tasks)."""

    kind = "echo"

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        raw = dict(settings or {})
        check_keys(self.kind, raw, ("image_size",))
        s = Settings(self.kind, raw)
        self.name = str(raw.get("profile") or self.kind)
        self.size = _parse_size(s.get_str("image_size", "512x512") or "512x512", s.where)
        self.protocols = Protocols.from_settings(s, ("chain",))
        self.capabilities = Capabilities.everything()

    def __repr__(self) -> str:
        return f"EchoAdapter({self.name!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "model": "baseline-echo",
            "settings": {
                "temperature": None, "max_tokens": None, "seed": None,
                "image_size": f"{self.size[0]}x{self.size[1]}",
            },
            "behaviour": "repeats the request; image tasks: the text rendered into a PNG "
                         "(MT: one image per turn, showing that turn's text)",
            "capabilities": describe_capabilities(self.capabilities),
            **self.protocols.describe(),
        }

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        start = time.perf_counter()
        texts = self.protocols.turn_texts(instance, task)
        images: list[Media] = []
        text: str | None = "\n\n".join(texts)
        if task.output == "image":
            images = [save_image(render_text(t, self.size), ctx.output_dir) for t in texts]
            text = None
        return ModelOutput(
            text=text,
            images=images,
            provenance=OutputProvenance(
                adapter=self.kind,
                model="baseline-echo",
                settings={"image_size": f"{self.size[0]}x{self.size[1]}"},
                latency_s=round(time.perf_counter() - start, 4),
            ),
        )

    def close(self) -> None:
        pass


def _parse_size(value: str, where: str) -> tuple[int, int]:
    width, sep, height = value.partition("x")
    if not (sep and width.isdigit() and height.isdigit()) or not (
        16 <= int(width) <= 4096 and 16 <= int(height) <= 4096
    ):
        raise ConfigError(f"{where}: image_size = {value!r} is not WIDTHxHEIGHT (16..4096)")
    return int(width), int(height)


def render_text(text: str, size: tuple[int, int] = (512, 512)) -> bytes:
    """``text`` drawn black on white into a PNG (Pillow's built-in font), deterministically."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    columns = max(8, size[0] // 7)
    lines = textwrap.wrap(text, width=columns) or [""]
    y = 8
    for line in lines:
        if y > size[1] - 16:
            break
        draw.text((8, y), line, fill="black", font=font)
        y += 14
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def make_refuse(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> RefuseAdapter:
    """Factory for ``kind = "refuse"`` and ``--unisafe-model=refuse``."""
    return RefuseAdapter(settings)


def make_echo(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> EchoAdapter:
    """Factory for ``kind = "echo"`` and ``--unisafe-model=echo``."""
    return EchoAdapter(settings)
