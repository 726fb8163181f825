"""The cache's keys: what identifies one generation and one judgment (see ``runtime/cache.py``).

An adapter's part of an output key is its description and every setting it holds.

``describe()`` is written for people (the run protocol) and may summarise: it named only the
*keys* of an openai-chat ``extra_body`` and left Gemini's ``generation_config`` out, so a
guardrail switched on in ``extra_body`` gave a cache hit with the old, unguarded output. The
key therefore also holds the adapter's **settings fingerprint**: every public attribute of the
adapter object, walked down to plain values (dataclasses, pydantic models, mappings,
sequences, and the attributes of the project's own objects), each one digested on its own, so
a change to any setting that reaches the request, including one added to an adapter later,
is a miss, and the miss explanation names the setting. Values are digested, never stored:
a profile may hold a URL with user info, or a token inside ``extra_body``.

A few attributes are known not to shape a request (:data:`NOT_SHAPING`: how many calls run at
once); ``Secret`` values are left out (a key does not shape the answer, and must not be kept).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from unisafe_pytest.adapters.http import Secret
from unisafe_pytest.schema import Instance, JudgeSpec, ModelOutput

FORMAT = 2
"""Bumped when the key material or the entry format changes: old entries then miss.
2: the adapter's settings fingerprint in the output key; entries carry their digest."""
NOT_SHAPING = frozenset({"max_connections", "max_concurrency", "cacheable"})
"""Attribute names that change how calls are made, never what is asked."""
MAX_DEPTH = 8
_OURS = "unisafe_pytest."


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON data, deterministic across processes (no ids or addresses)."""
    if depth > MAX_DEPTH:
        return "<too deep>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Secret):
        return "<secret>"
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value) if not f.name.startswith("_")}
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [plain(v, depth + 1) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    cls = type(value)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if callable(value) and not hasattr(value, "__dict__"):
        return f"<{name}>"
    if cls.__module__.startswith(_OURS) and hasattr(value, "__dict__"):
        return {"<class>": name, **{k: plain(v, depth + 1) for k, v in vars(value).items()
                                    if not k.startswith("_")}}
    return f"<{name}>"


def _short(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def settings_fingerprint(obj: object) -> dict[str, str]:
    """One digest per setting ``obj`` holds: ``{"extra_body.guardrail": "<16 hex>", ...}``
    (mappings are opened one level, so a changed entry is named)."""
    try:
        attributes = vars(obj)
    except TypeError:
        return {}
    out: dict[str, str] = {}
    for name, value in sorted(attributes.items()):
        if name.startswith("_") or name in NOT_SHAPING:
            continue
        data = plain(value)
        if isinstance(data, dict) and data:
            for key, item in data.items():
                if key not in NOT_SHAPING:
                    out[f"{name}.{key}"] = _short(item)
            out[name] = _short(sorted(data))  # which entries there are
        else:
            out[name] = _short(data)
    return out


def adapter_description(adapter: object) -> dict[str, Any]:
    """The adapter part of an output key: ``describe()`` and the settings fingerprint."""
    describe = getattr(adapter, "describe", None)
    described = dict(describe()) if callable(describe) else {}
    return {**described, "request_settings": settings_fingerprint(adapter)}


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def digest(data: Any) -> str:
    return _sha256(canonical(data))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _request(instance: Instance) -> dict[str, Any]:
    return {
        "task": instance.task,
        "instruction": instance.instruction,
        "turns": list(instance.turns),
        "images": [m.digest() for m in instance.images],
    }


def output_material(instance: Instance, adapter: Mapping[str, Any], sample: int) -> dict[str, Any]:
    """What identifies one generation: who answers, with which settings, to which request."""
    return {"format": FORMAT, "adapter": dict(adapter), "request": _request(instance),
            "sample": sample}


class OutputKeys:
    """The output keys of one adapter, ``digest(output_material(...))``, made faster.

    The adapter's description, the bulk of the material, is encoded once instead of once per
    instance: the canonical text is assembled around it (keys in sorted order, as
    ``canonical`` writes them). ``tests/unit/test_runtime_cache_keys.py`` holds it to
    ``digest(output_material(...))``.
    """

    def __init__(self, adapter: Mapping[str, Any]):
        self.adapter = dict(adapter)
        self._head = f'{{"adapter":{canonical(self.adapter)},"format":{FORMAT},"request":'

    def key(self, instance: Instance, sample: int) -> str:
        return _sha256(f'{self._head}{canonical(_request(instance))},"sample":{sample:d}}}')

    def material(self, instance: Instance, sample: int) -> dict[str, Any]:
        return output_material(instance, self.adapter, sample)


def output_content_hash(output: ModelOutput) -> str:
    return digest({
        "text": output.text,
        "images": [m.digest() for m in output.images],
        "refusal": output.refusal,
    })


def _context(instance: Instance) -> dict[str, Any]:
    return {"category": instance.category, "subcategory": instance.subcategory,
            "target": instance.target, "intention": instance.intention}


def verdict_material(output_key: str, output: ModelOutput, judge: JudgeSpec,
                     instance: Instance) -> dict[str, Any]:
    """What identifies one judgment: the output judged, its context, and the judge."""
    return {
        "format": FORMAT,
        "output": output_key,
        "content": output_content_hash(output),
        "context": _context(instance),
        "judge": judge.model_dump(mode="json"),
    }


class VerdictKeys:
    """One judge's verdict keys, ``digest(verdict_material(...))``, with its spec encoded
    once (as :class:`OutputKeys` does for the adapter)."""

    def __init__(self, judge: JudgeSpec):
        self.judge = judge
        self._judge = canonical(judge.model_dump(mode="json"))

    def key(self, output_key: str, output: ModelOutput, instance: Instance) -> str:
        return _sha256(
            f'{{"content":{canonical(output_content_hash(output))},'
            f'"context":{canonical(_context(instance))},"format":{FORMAT},'
            f'"judge":{self._judge},"output":{canonical(output_key)}}}')

    def material(self, output_key: str, output: ModelOutput,
                 instance: Instance) -> dict[str, Any]:
        return verdict_material(output_key, output, self.judge, instance)


def instance_key(suite: str, instance: Instance, sample: int) -> str:
    return digest({"suite": suite, "id": instance.id, "task": instance.task, "sample": sample})

