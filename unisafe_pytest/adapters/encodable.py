"""Strings that leave an adapter can be written as UTF-8.

A provider's JSON may hold an unpaired UTF-16 surrogate escape (``"\\ud800"``); ``json.loads``
turns it into a lone surrogate code point, which no UTF-8 writer (records, cache, JUnit, the
terminal) can encode. Adapters decide here, once, at their boundary: surrogate *pairs* left
split are joined, every lone surrogate becomes U+FFFD, and the output's
``provenance.notes`` says how many were replaced. Every string of a :class:`ModelOutput` the
adapters return (text, refusal reason, error, provenance) and every error message of the HTTP
adapters goes through here.
"""

from __future__ import annotations

import re
from typing import Any

from unisafe_pytest.schema import ModelOutput

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates replaced by U+FFFD, and how many were replaced."""
    if not _SURROGATE.search(text):
        return text, 0
    fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return fixed, fixed.count(REPLACEMENT) - text.count(REPLACEMENT)


def encodable(text: str) -> str:
    """``text`` that UTF-8 can encode (see :func:`clean_text`)."""
    return clean_text(text)[0]


def scrub(value: Any) -> tuple[Any, int]:
    """``value`` (str, list, tuple, dict, nested) with every string cleaned; the count."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (list, tuple)):
        items = [scrub(v) for v in value]
        count = sum(n for _, n in items)
        if not count:
            return value, 0
        cleaned = [v for v, _ in items]
        return (tuple(cleaned) if isinstance(value, tuple) else cleaned), count
    if isinstance(value, dict):
        pairs = [(scrub(k), scrub(v)) for k, v in value.items()]
        count = sum(nk + nv for (_, nk), (_, nv) in pairs)
        if not count:
            return value, 0
        return {k: v for (k, _), (v, _) in pairs}, count
    return value, 0


def encodable_output(output: ModelOutput) -> ModelOutput:
    """``output`` whose strings UTF-8 can encode; a replacement is noted in its provenance.

    Image references are left alone: adapters name generated files by their sha256.
    """
    count = 0
    update: dict[str, Any] = {}
    for name in ("text", "refusal_reason", "error"):
        value, n = scrub(getattr(output, name))
        if n:
            update[name] = value
            count += n
    provenance = output.provenance
    changes: dict[str, Any] = {}
    for name in ("adapter", "model", "model_version", "settings", "refusal_signals", "notes"):
        value, n = scrub(getattr(provenance, name))
        if n:
            changes[name] = value
            count += n
    if not count:
        return output
    notes = list(changes.get("notes", provenance.notes) or [])
    notes.append(f"{count} unpaired UTF-16 surrogate(s) in the reply replaced with U+FFFD")
    changes["notes"] = notes
    update["provenance"] = provenance.model_copy(update=changes)
    return output.model_copy(update=update)
