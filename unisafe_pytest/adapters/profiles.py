"""Model profiles (``adapters/NAME.toml``): key checking, typed settings, environment lookup.

A profile is a flat TOML table read by :func:`unisafe_pytest.registry.builtin.make_adapter`::

    kind = "openai-chat"                 # which adapter
    model = "gpt-4o"                     # the provider's model id
    base_url = "https://api.openai.com/v1"   # or base_url_env = "UNISAFE_VLLM_BASE_URL"
    api_key_env = "OPENAI_API_KEY"       # the NAME of the variable holding the key
    timeout_s = 120                      # or per output modality: { text = 60, image = 300 }
    max_reply_mb = 16                    # MiB per reply, or { text = 16, image = 64 } (default)
    temperature = 0.0                    # generation settings, per kind
    max_tokens = 512
    seed = 0

Keys are checked per kind: a misspelt key is a ``ConfigError`` naming the closest known key.
``timeout_s`` bounds each call (connection, waiting and the whole body); a table gives one
per output modality of the task (a modality it leaves out gets 120 s), so image generation
may take longer than a text answer. ``max_reply_mb`` bounds the size of one reply (and of an
image downloaded from a URL it names), in MiB, the same way: a number, or a table per output
modality; a larger reply is a model error that names the key.
The key itself is read from the environment when the adapter is made and is held as a
:class:`~unisafe_pytest.adapters.http.Secret`; only the variable's *name* is ever described.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unisafe_pytest.adapters.http import MAX_REPLY_MB, MIB, Deadline, Secret, safe_url
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.schema.tasks import Modality

ENDPOINT_KEYS = frozenset(
    {"model", "base_url", "base_url_env", "api_key_env", "timeout_s", "max_connections",
     "max_reply_mb"}
)
"""Keys every HTTP adapter accepts."""
META_KEYS = frozenset({"profile", "spec", "description", "mt_protocol", "it_prompt"})
"""Keys every adapter accepts (``profile``/``spec`` are filled in by the resolver)."""
TIMEOUT_S = 120.0
"""A call's deadline when the profile sets none (or its ``timeout_s`` table leaves one out)."""
OUTPUT_MODALITIES: tuple[Modality, ...] = ("text", "image", "audio", "video")
"""The keys of a ``timeout_s`` / ``max_reply_mb`` table; a task whose output is another
(registered) modality uses the ``image`` budget: its reply carries base64 media too."""


def profile_label(kind: str, settings: Mapping[str, Any]) -> str:
    profile = settings.get("profile")
    return f"profile {profile!r}" if isinstance(profile, str) and profile else f"kind {kind!r}"


def check_keys(kind: str, settings: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise ``ConfigError`` for a key the adapter kind does not know."""
    known = set(allowed) | META_KEYS
    for key in settings:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(
                f"model {profile_label(kind, settings)}: unknown key {key!r} for kind {kind!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" (known keys: {', '.join(sorted(known))})"
            )


class Settings:
    """Typed reads of a profile's settings; every bad value is a ``ConfigError``."""

    def __init__(self, kind: str, settings: Mapping[str, Any]) -> None:
        self.kind = kind
        self.raw = dict(settings)
        self.where = f"model {profile_label(kind, settings)}"

    def _bad(self, key: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key} = {value!r} is not {expected}")

    def get_str(self, key: str, default: str | None = None) -> str | None:
        value = self.raw.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, value, "a string")
        return value

    def get_float(self, key: str, default: float | None = None) -> float | None:
        value = self.raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(key, value, "a number")
        return float(value)

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, value, "an integer")
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, value, "true or false")
        return value

    def get_table(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping):
            raise self._bad(key, value, "a table")
        return dict(value)

    def get_choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        options = tuple(choices)
        value = self.get_str(key, default)
        if value not in options:
            raise self._bad(key, value, "one of " + ", ".join(repr(c) for c in options))
        return value


@dataclass(frozen=True)
class Endpoint:
    """Where an HTTP adapter sends requests (the key itself is held separately)."""

    model: str
    base_url: str
    api_key_env: str | None
    timeout_s: float | dict[str, float]
    """Seconds one call may take: one number, or one per output modality."""
    max_connections: int
    max_reply_mb: float | dict[str, float] = field(default_factory=lambda: dict(MAX_REPLY_MB))
    """MiB one reply may hold: one number, or one per output modality."""

    def deadline(self, output: Modality) -> Deadline:
        """The budget (time and reply size) of a call whose task outputs ``output``."""
        if output not in OUTPUT_MODALITIES:
            output = "image"
        if isinstance(self.timeout_s, dict):
            seconds, key = self.timeout_s[output], f"timeout_s.{output}"
        else:
            seconds, key = self.timeout_s, "timeout_s"
        if isinstance(self.max_reply_mb, dict):
            mib, size_key = self.max_reply_mb[output], f"max_reply_mb.{output}"
        else:
            mib, size_key = self.max_reply_mb, "max_reply_mb"
        return Deadline(seconds, key, max_bytes=int(mib * MIB), size_key=size_key)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": safe_url(self.base_url),
            "api_key_env": self.api_key_env,
            "timeout_s": self.timeout_s,
        }


def resolve_endpoint(
    kind: str,
    spec: str,
    settings: Settings,
    *,
    default_base_url: str,
    default_api_key_env: str | None,
    env: Mapping[str, str] | None = None,
) -> tuple[Endpoint, Secret | None]:
    """Model id, base URL and key from the profile (or ``kind:MODEL`` spec) and environment.

    ``api_key_env = ""`` in a profile means the server needs no key (local vLLM, llama.cpp).
    """
    environ = os.environ if env is None else env
    model = settings.get_str("model") or spec
    if not model:
        raise ConfigError(
            f"{settings.where}: no model id; set model = \"...\" in the profile "
            f"or use --unisafe-model={kind}:MODEL"
        )
    base_url = settings.get_str("base_url")
    base_url_env = settings.get_str("base_url_env")
    if base_url and base_url_env:
        raise ConfigError(f"{settings.where}: set base_url or base_url_env, not both")
    if base_url_env:
        base_url = environ.get(base_url_env, "")
        if not base_url:
            raise ConfigError(
                f"{settings.where} reads its server address from ${base_url_env}, which is "
                f"not set; export {base_url_env}=http://HOST:PORT/v1"
            )
    base_url = base_url or default_base_url
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{settings.where}: base URL {safe_url(base_url)!r} must start with http:// or https://"
        )
    key_env = settings.get_str("api_key_env", default_api_key_env)
    secret: Secret | None = None
    if key_env:
        value = environ.get(key_env, "")
        if not value:
            raise ConfigError(
                f"{settings.where} reads its API key from ${key_env}, which is not set; "
                f"export {key_env}=... (the key is never written to records or logs)"
            )
        secret = Secret(value)
    timeout = _timeouts(settings)
    connections = settings.get_int("max_connections", 8) or 8
    max_reply = _reply_limits(settings)
    return (
        Endpoint(
            model=model,
            base_url=base_url,
            api_key_env=key_env or None,
            timeout_s=timeout,
            max_connections=connections,
            max_reply_mb=max_reply,
        ),
        secret,
    )


def _per_modality(settings: Settings, key: str, value: Mapping[str, Any],
                  read: Callable[[Settings, str, Any], float], default: Callable[[str], Any],
                  table: str, example: str) -> dict[str, float]:
    """A ``{ text = ..., image = ... }`` table of ``key``: every output modality, read with
    ``read``, a modality left out taking ``default(modality)``; an unknown key is an error."""
    unknown = [name for name in value if name not in OUTPUT_MODALITIES]
    if unknown:
        raise ConfigError(
            f"{settings.where}: {key}.{unknown[0]} names no output modality; {table} has the "
            "keys " + ", ".join(OUTPUT_MODALITIES) + f", e.g. {example}")
    return {m: read(settings, f"{key}.{m}", value.get(m, default(m))) for m in OUTPUT_MODALITIES}


def _timeouts(settings: Settings) -> float | dict[str, float]:
    """``timeout_s``: a number of seconds, or a table of them per output modality."""
    value = settings.raw.get("timeout_s", TIMEOUT_S)
    if not isinstance(value, Mapping):
        return _seconds(settings, "timeout_s", value)
    return _per_modality(settings, "timeout_s", value, _seconds, lambda m: TIMEOUT_S,
                         "a timeout table", "timeout_s = { text = 60, image = 300 }")


def _seconds(settings: Settings, key: str, value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value < math.inf):
        raise ConfigError(f"{settings.where}: {key} = {value!r} is not a positive number of "
                          "seconds (e.g. timeout_s = 120, or timeout_s = "
                          "{ text = 60, image = 300 })")
    return float(value)


def _reply_limits(settings: Settings) -> float | dict[str, float]:
    """``max_reply_mb``: MiB, one number or a table per output modality (defaults fill gaps)."""
    value = settings.raw.get("max_reply_mb")
    if value is None:
        return dict(MAX_REPLY_MB)
    if not isinstance(value, Mapping):
        return _mib(settings, "max_reply_mb", value)
    return _per_modality(settings, "max_reply_mb", value, _mib, MAX_REPLY_MB.__getitem__,
                         "the table", "max_reply_mb = { text = 16, image = 64 }")


def _mib(settings: Settings, key: str, value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value <= 4096):
        raise ConfigError(f"{settings.where}: {key} = {value!r} is not a size in MiB between 0 "
                          "and 4096 (e.g. max_reply_mb = 16, or max_reply_mb = "
                          "{ text = 16, image = 64 })")
    return float(value)
