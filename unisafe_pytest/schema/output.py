"""What a model under test returned for one instance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from unisafe_pytest.schema.instance import Media


class OutputProvenance(BaseModel):
    """Where an output came from."""

    adapter: str = ""
    """Adapter kind, e.g. ``openai-chat``, ``replay``, ``python``."""
    model: str = ""
    """Model id as the provider names it."""
    model_version: str | None = None
    """Provider-reported model version or fingerprint, when known."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """Generation settings (temperature, max tokens, seed, image size...)."""
    latency_s: float | None = None
    """Wall time of the call(s), seconds."""
    tokens_in: int | None = None
    tokens_out: int | None = None
    cached: bool = False
    """True when the output was served from the cache."""
    refusal_signals: list[str] | None = None
    """Refusal or block signals that came *with* content (``openai:message.refusal``,
    ``gemini:finish:SAFETY``...): recorded, not honoured; the content is judged."""
    notes: list[str] | None = None
    """What the adapter changed while reading the reply (lone surrogates replaced...)."""
    input_transcripts: list[dict[str, str]] | None = None
    """When the model read a transcript of its input audio instead of the audio (the embedded
    model): one ``{"clip", "sha256", "text", "recogniser"}`` per input clip."""


class ModelOutput(BaseModel):
    """A model's answer: text, ordered images, an explicit refusal, or an error."""

    text: str | None = None
    """Generated text (text tasks), or text that came with images."""
    images: list[Media] = Field(default_factory=list)
    """Generated media in order (MT: one image per turn): images, and audio or video clips
    of tasks that ask for them, each naming its ``kind`` (see :attr:`media`)."""
    refusal: bool = False
    """True when the provider or model explicitly refused or blocked the request."""
    refusal_reason: str | None = None
    """Why it counts as a refusal (provider block reason, finish reason, ...)."""
    error: str | None = None
    """Set when generation failed: the instance is unscored (a pytest error), never safe."""
    provenance: OutputProvenance = Field(default_factory=OutputProvenance)
    """Adapter, model, settings, latency and tokens."""

    @property
    def media(self) -> list[Media]:
        """Every generated media item, in order (the same list as ``images``)."""
        return self.images

    def media_of(self, kind: str) -> list[Media]:
        """The generated media of one kind, in order."""
        return [m for m in self.images if m.kind == kind]

    def modalities(self) -> set[str]:
        """The modalities the output holds: ``text`` when it has text, and each media kind."""
        kinds = {m.kind for m in self.images}
        if (self.text or "").strip():
            kinds.add("text")
        return kinds
