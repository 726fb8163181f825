"""Reading the reply shapes of the chat protocols into a :class:`~.replies.Reading`.

Only parts whose meaning is known are read; every other part is listed as unreadable (an
error, see :mod:`unisafe_pytest.adapters.replies`), so nothing the model said vanishes.

A reply holds one answer: several ``choices`` or ``candidates`` are an error
(:func:`check_single`), never judged by the first.

OpenAI-compatible ``choices[0].message``:

- ``content``: a string, or a list of parts: ``text`` / ``output_text`` (a string ``text``),
  ``image_url`` / ``image`` / ``output_image`` (a URL or base64), ``refusal`` (a signal);
  a part without ``type`` is read by its ``text`` or image field;
- ``images``: image parts (OpenRouter-style image output);
- ``refusal`` (a message, not ``"false"``/``"null"``) and ``finish_reason: content_filter``
  are signals; ``tool_calls``, ``function_call`` and ``audio`` are unreadable.

Gemini ``candidates[0].content.parts``: ``text`` (``thought: true`` parts are reasoning, not
the answer, and are skipped), ``inlineData`` / ``inline_data`` with an ``image/*`` type (and
``audio/*`` when the task asked for audio: ``media_kinds``); the
metadata keys in :data:`GEMINI_PART_METADATA` carry nothing to judge; every other part
(``functionCall``, ``executableCode``, ``codeExecutionResult``, ``fileData``...) is unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unisafe_pytest.adapters.policy import (
    gemini_finish_block,
    gemini_prompt_block,
    openai_finish_refusal,
)
from unisafe_pytest.adapters.replies import Fail, Reading, is_refusal_message

OPENAI_TEXT_PARTS = frozenset({"text", "output_text"})
OPENAI_IMAGE_PARTS = frozenset({"image_url", "image", "output_image"})
OPENAI_UNREADABLE_KEYS = ("tool_calls", "function_call", "audio")
GEMINI_PART_METADATA = frozenset({
    "thought", "thoughtSignature", "thought_signature", "partMetadata", "part_metadata",
    "videoMetadata", "video_metadata", "mediaResolution", "media_resolution",
})


def check_single(items: Any, what: str, fail: Fail) -> None:
    """Raise when a reply holds more than one answer (``choices``, ``candidates``).

    Only one answer can be judged, and a harmful one could hide in any other, so a reply with
    several (``n`` / ``candidateCount`` above 1, or a server that sends them unasked) is a
    model error naming the count, never judged by its first.
    """
    if isinstance(items, list) and len(items) > 1:
        raise fail(f"the reply holds {len(items)} {what}, not one: only one answer can be "
                   f"judged and a harmful one could be any of them; ask for a single answer "
                   "(drop n / candidateCount from extra_body / generation_config, or fix the "
                   "server)", False)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def image_url(part: Mapping[str, Any]) -> str | None:
    """The URL (or a ``data:`` URL of base64 bytes) of an OpenAI-style image part."""
    value = part.get("image_url")
    if isinstance(value, Mapping):
        value = value.get("url")
    if isinstance(value, str) and value:
        return value
    b64 = part.get("b64_json") or part.get("image_base64")
    if isinstance(b64, str) and b64:
        return "data:image/png;base64," + b64
    return None


def _openai_part(part: Any, reading: Reading, urls: list[str]) -> str:
    """Read one content part; its type name, for the shape."""
    if not isinstance(part, Mapping):
        reading.unreadable.append(f"a content part that is a {_kind(part)}")
        return _kind(part)
    kind = part.get("type")
    if kind in OPENAI_TEXT_PARTS or (kind is None and "text" in part):
        text = part.get("text")
        if isinstance(text, str):
            reading.texts.append(text)
        else:
            reading.unreadable.append(f"a {kind or 'text'} part whose text is a {_kind(text)}")
    elif kind in OPENAI_IMAGE_PARTS or (kind is None and image_url(part)):
        url = image_url(part)
        if url:
            urls.append(url)
        else:
            reading.unreadable.append(f"an {kind} part with no image URL or base64 data")
    elif kind == "refusal" and isinstance(part.get("refusal"), str):
        if is_refusal_message(part["refusal"]):
            reading.signal("openai:content.refusal")
            reading.refusal_text = reading.refusal_text or part["refusal"]
    else:
        reading.unreadable.append(f"a content part of type {kind!r}")
    return str(kind) if kind is not None else "untyped"


def read_openai_message(message: Mapping[str, Any], finish_reason: Any
                        ) -> tuple[Reading, list[str]]:
    """The reading of a chat completion's message, and the image URLs to fetch."""
    reading = Reading()
    urls: list[str] = []
    content = message.get("content")
    if isinstance(content, str):
        reading.texts.append(content)
        parts = "a string"
    elif isinstance(content, list):
        parts = f"parts of types {[_openai_part(p, reading, urls) for p in content]}"
    elif content is None:
        parts = "null"
    else:
        reading.unreadable.append(f"message.content that is a {_kind(content)}")
        parts = _kind(content)
    images = message.get("images")
    if isinstance(images, list):
        for part in images:
            url = image_url(part) if isinstance(part, Mapping) else None
            if url:
                urls.append(url)
            else:
                reading.unreadable.append("an entry of message.images with no image URL")
    elif images is not None:
        reading.unreadable.append(f"message.images that is a {_kind(images)}")
    for key in OPENAI_UNREADABLE_KEYS:
        if message.get(key):
            reading.unreadable.append(f"message.{key}")
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        if is_refusal_message(refusal):
            reading.signal("openai:message.refusal")
            reading.refusal_text = refusal
    elif refusal not in (None, False):
        reading.unreadable.append(f"message.refusal that is a {_kind(refusal)}")
    finish = openai_finish_refusal(finish_reason)
    if finish is not None:
        reading.signal(finish)
    reading.shape = (f"message keys {sorted(map(str, message))}, content {parts}, "
                     f"finish_reason {finish_reason!r}")
    if finish_reason == "length":
        reading.hint = ("; the answer was cut at max_tokens: raise max_tokens in the profile "
                        "(reasoning models spend it before answering)")
    return reading, urls


def _gemini_part(part: Any, reading: Reading, inline: list[dict[str, Any]],
                 media_kinds: tuple[str, ...] = ("image",)) -> str:
    """Read one Gemini part; its kind, for the shape."""
    if not isinstance(part, Mapping):
        reading.unreadable.append(f"a part that is a {_kind(part)}")
        return _kind(part)
    keys = [k for k in part if k not in GEMINI_PART_METADATA]
    if not keys:
        return "metadata"
    for key in keys:
        value = part[key]
        if key == "text" and isinstance(value, str):
            if part.get("thought"):
                return "thought"
            reading.texts.append(value)
        elif key in ("inlineData", "inline_data") and isinstance(value, Mapping) and \
                isinstance(value.get("data"), str):
            mime = value.get("mimeType") or value.get("mime_type") or "image/png"
            if isinstance(mime, str) and mime.split("/", 1)[0].lower() in media_kinds:
                inline.append(dict(value))
            else:
                reading.unreadable.append(f"an inlineData part of type {mime!r}")
        elif key == "text":
            reading.unreadable.append(f"a text part whose text is a {_kind(value)}")
        else:
            reading.unreadable.append(f"a {key} part")
    return "+".join(keys)


def read_gemini_candidate(body: Mapping[str, Any], candidate: Any,
                          media_kinds: tuple[str, ...] = ("image",)
                          ) -> tuple[Reading, list[dict[str, Any]], list[Any]]:
    """The reading of ``candidate`` (``None`` when the reply has none), the inline media
    to decode (of the top-level MIME types in ``media_kinds``), and the parts as returned
    (for a session's history)."""
    reading = Reading()
    blocked = gemini_prompt_block(body)
    if blocked is not None:
        reading.signal(blocked)
    inline: list[dict[str, Any]] = []
    if candidate is None:
        reading.shape = f"reply keys {sorted(map(str, body))}, no candidates"
        return reading, inline, []
    if not isinstance(candidate, Mapping):
        reading.unreadable.append(f"candidates[0] that is a {_kind(candidate)}")
        reading.shape = f"reply keys {sorted(map(str, body))}"
        return reading, inline, []
    finish = candidate.get("finishReason") or ""
    block = gemini_finish_block(finish)
    if block is not None:
        reading.signal(block)
    content = candidate.get("content")
    parts: Any = content.get("parts") if isinstance(content, Mapping) else None
    if content is not None and not isinstance(content, Mapping):
        reading.unreadable.append(f"candidate content that is a {_kind(content)}")
    if parts is not None and not isinstance(parts, list):
        reading.unreadable.append(f"content.parts that is a {_kind(parts)}")
        parts = None
    kinds = [_gemini_part(p, reading, inline, media_kinds) for p in parts or []]
    shown = f"parts {kinds}" if parts else ("no parts" if content is not None else "no content")
    reading.shape = (f"candidate keys {sorted(map(str, candidate))}, {shown}, "
                     f"finishReason {finish!r}")
    if finish == "MAX_TOKENS":
        reading.hint = ("; the answer was cut at max_tokens: raise max_tokens in the profile "
                        "(thinking models spend it before answering)")
    return reading, inline, list(parts or [])
