"""Server error replies whose cause is known, translated into the fix.

A provider's error text names its own internals (``can only concatenate str (not "list") to
str`` is a text-only vLLM chat template meeting an image part); the user needs the cause and
the profile key that fixes it. :func:`diagnose` reads an error reply (any status) and returns a
:class:`Diagnosis` when the cause is one of these:

==================  ==============================================  ==========================
Cause               Recognised by                                   Fix named
==================  ==============================================  ==========================
``images-refused``  the request carried image parts and the server  ``vision = false`` in the
                    says it cannot take them (a chat template that  profile (image-input
                    concatenates str and list, "not a multimodal    instances are then
                    model", "At most 0 image(s)", "image input is   skipped), or serve a
                    not supported", "image_url is only supported    vision model
                    by certain models", a content field that must
                    be a string...)
``context-length``  "maximum context length", ``context_length_     lower ``max_tokens`` in the
                    exceeded``, "exceeds the available context      profile, fewer/smaller
                    size", "prompt is too long", "too many          input images
                    tokens"...                                      (``max_input_images``), or
                                                                    a longer server context
``model-not-found``  ``model_not_found``, "model ... does not        the profile's ``model`` key
                    exist", "model ... not found", or a 404 that    (the id sent is named), or
                    names the model id sent                         ``GET <base_url>/models``
``no-such-path``    HTTP 404 that names no model (the URL path is   ``base_url`` (it includes
                    not served)                                     the ``/v1`` prefix)
==================  ==============================================  ==========================

Each of these is deterministic: the same request gets the same answer, so the error is **not
retried** (a retry would only repeat it). The provider's own words stay in the message, after
the cause; the instance is an ERROR as before (never safe, never a refusal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})
"""``type`` values of a request content part that carries a picture (OpenAI-style)."""
IMAGE_PART_KEYS = frozenset({"inline_data", "inlineData", "image_url"})
"""Keys of a request part that carries a picture (Gemini-style, or a bare image_url)."""

_IMAGES_REFUSED = re.compile(
    r"""(?ix)
    can\ only\ concatenate\ str\ \(not\ \\?"?list\\?"?\)\ to\ str
    | not\ a\ multimodal\ model | does\ not\ support\ multi-?modal
    | multi-?modal\ .{0,40}not\ (?:supported|enabled)
    | at\ most\ 0\ image
    | image(?:\ input|\ inputs|s)?\ (?:is\ |are\ )?not\ supported
    | (?:does\ not|doesn't|cannot)\ (?:support|accept|process)\ (?:image|vision)
    | image_url\ is\ only\ supported
    | (?:unknown|unsupported|invalid)\ (?:content\ )?(?:part\ )?type:?\ '?"?image
    | mmproj
    | content\ must\ be\ a\ string | expected\ (?:a\ )?string.{0,40}content
    | content.{0,60}(?:input\ should\ be\ a\ valid\ string|must\ be\ (?:of\ type\ )?str)
    | vision\ (?:is\ )?not\ (?:supported|enabled)
    """
)
_CONTEXT = re.compile(
    r"""(?ix)
    context_length_exceeded | exceed_context_size
    | maximum\ context\ length | max(?:imum)?\ model\ length | max_model_len
    | exceeds?\ (?:the\ )?(?:available\ |model'?s?\ )?context
    | context\ (?:size|window|length)\ (?:has\ been\ |was\ |is\ )?exceeded
    | prompt\ is\ too\ long | input\ is\ too\ long | too\ many\ (?:input\ )?tokens
    | reduce\ the\ length\ of\ the\ messages
    | (?:prompt|input)\ (?:\(\d+\ tokens\)\ )?is\ longer\ than
    """
)
_MODEL_MISSING = re.compile(
    r"""(?ix)
    model_not_found
    | \bmodel\b[^.;]{0,200}?
      (?:does\ not\ exist|not\ found|is\ not\ (?:found|served|available|supported))
    | (?:unknown|invalid|no\ such)\ model
    | models/\S+\ is\ not\ found
    """
)


@dataclass(frozen=True)
class Diagnosis:
    """A known cause of a server error: its name and the sentence that gives the fix."""

    cause: str
    hint: str
    retryable: bool = False


@dataclass(frozen=True)
class Sent:
    """What a request carried that the causes depend on (read from its body)."""

    model: str | None = None
    images: bool = False
    max_tokens: int | None = None
    profile: str | None = None
    """``profile 'NAME'`` or ``kind 'KIND'`` (:func:`~unisafe_pytest.adapters.profiles.
    profile_label`): where the keys named in a hint live."""
    base_url: str = ""


def carries_images(body: Any, files: Any = None) -> bool:
    """Whether a request body (JSON, any depth) or its multipart files carry a picture."""
    if files:
        return True
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("type") in IMAGE_PART_TYPES or IMAGE_PART_KEYS & set(item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def sent_from(body: Any, files: Any, *, model: str | None, profile: str | None,
              base_url: str) -> Sent:
    """The :class:`Sent` of one request."""
    mapping = body if isinstance(body, Mapping) else {}
    sent_model = mapping.get("model")
    limit: Any = None
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if isinstance(mapping.get(key), int):
            limit = mapping[key]
    config = mapping.get("generationConfig")
    if limit is None and isinstance(config, Mapping) and isinstance(
            config.get("maxOutputTokens"), int):
        limit = config["maxOutputTokens"]
    return Sent(
        model=sent_model if isinstance(sent_model, str) and sent_model else model,
        images=carries_images(body, files),
        max_tokens=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        profile=profile,
        base_url=base_url,
    )


def _in(profile: str | None) -> str:
    """`` in profile 'NAME'`` (its file is ``adapters/NAME.toml``), else `` in the profile``."""
    if profile and profile.startswith("profile "):
        return f" in {profile}"
    return " in the profile"


def diagnose(status: int, message: str, sent: Sent) -> Diagnosis | None:
    """The known cause of an error reply with ``status`` and provider ``message``, if any."""
    where = _in(sent.profile)
    if sent.images and _IMAGES_REFUSED.search(message):
        return Diagnosis(
            "images-refused",
            f"the server takes no image parts: model {sent.model!r} cannot read images, or "
            f"the server was started without its vision support. Set vision = false{where} so "
            "image-input instances are skipped, or serve a vision model",
        )
    if _CONTEXT.search(message):
        tokens = f" (max_tokens = {sent.max_tokens})" if sent.max_tokens is not None else ""
        return Diagnosis(
            "context-length",
            f"the prompt plus the reply budget{tokens} exceed model {sent.model!r}'s context "
            f"window. Lower max_tokens{where}, send fewer or smaller images "
            "(max_input_images), or serve the model with a longer context (vLLM: "
            "--max-model-len)",
        )
    model = sent.model or ""
    names_model = bool(model) and model.lower() in message.lower()
    if _MODEL_MISSING.search(message) or (status == 404 and names_model):
        listing = f"GET {sent.base_url}/models" if sent.base_url else "the server's model list"
        return Diagnosis(
            "model-not-found",
            f"the server does not serve model {model!r} (the model key{where}). Set "
            f"model = \"...\" to an id the server lists ({listing})",
        )
    if status == 404:
        return Diagnosis(
            "no-such-path",
            f"the server has no such path: check base_url{where} (it includes the /v1 "
            "prefix, e.g. http://HOST:PORT/v1)",
        )
    return None
