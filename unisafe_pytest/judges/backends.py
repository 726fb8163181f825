"""Judge backends: the model behind an LLM judge, spoken to through the adapters' HTTP layer.

Target syntax (what follows ``unisafe-rubric:`` or ``unijudger:``, before any options)::

    PROFILE                       adapters/PROFILE.toml with kind "openai-chat" or "gemini"
    openai-chat:MODEL             api.openai.com, key from $OPENAI_API_KEY
    gemini:MODEL                  Gemini REST, key from $GEMINI_API_KEY
    http://HOST:PORT/v1#MODEL     any OpenAI-compatible server (vLLM, SGLang, llama.cpp);
                                  no key unless key_env=NAME is given

Options shared by the model judges (``TARGET,key=value,...``): ``key_env=NAME``,
``max_tokens=N``, ``json=on|off``, ``retries=N``, ``timeout_s=N`` (seconds one call may
take, 0 < N <= 3600; it wins over the judge profile's ``timeout_s``, default 120) and
``modalities=text+image[+audio][+video]`` (what the judge model accepts, see
:mod:`.judge_media`; video for Gemini-format targets only). A timeout's message names the
setting that applied: the option, the profile's key, or the default with the option to add.

Calls run at temperature 0 with bounded ``max_tokens``; OpenAI-compatible servers are asked
for JSON mode (``response_format = {"type": "json_object"}``) when the judge wants JSON and
``json_mode`` is on, Gemini for ``responseMimeType = "application/json"``. Transport
failures, 429s and 5xx are retried by :mod:`unisafe_pytest.runtime.calls` (in a run: within
the instance's retry budget, each 429 shrinking the shared concurrency limit); what still
fails becomes a ``JudgeError``. Media go in as :mod:`.judge_media` builds them (images as
``data:`` URLs / ``inlineData``, audio as ``input_audio`` / ``inlineData``), in the order
the judge gives them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from unisafe_pytest.adapters.http import Deadline, HttpEndpoint, Secret
from unisafe_pytest.adapters.profiles import Settings, resolve_endpoint
from unisafe_pytest.errors import ConfigError, InfrastructureError, JudgeError
from unisafe_pytest.judges.judge_media import (
    DEFAULT,
    declared,
    gemini_part,
    openai_part,
    parse_modalities,
)
from unisafe_pytest.judges.reading import gemini_judge_text, openai_judge_text
from unisafe_pytest.runtime.calls import retried
from unisafe_pytest.schema import Media

BackendKind = Literal["openai-chat", "gemini"]
DEFAULTS: dict[BackendKind, tuple[str, str]] = {
    "openai-chat": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY"),
}


@dataclass(frozen=True)
class Part:
    """One piece of a judge message: text, an image, or an audio/video ``clip``."""

    text: str | None = None
    image: Media | None = None
    clip: Media | None = None

    @property
    def media(self) -> Media | None:
        return self.image if self.image is not None else self.clip


@dataclass
class Message:
    role: Literal["system", "user", "assistant"]
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def text(cls, role: Literal["system", "user", "assistant"], text: str) -> Message:
        return cls(role, [Part(text=text)])


@dataclass(frozen=True)
class BackendReply:
    text: str
    model_version: str | None


class ChatBackend(Protocol):
    """What a judge needs from a model: one completion for a list of messages."""

    kind: str
    model: str

    def complete(self, messages: Sequence[Message], *, json_mode: bool) -> BackendReply: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BackendOptions:
    max_tokens: int = 1024
    json_mode: bool = True
    retry_attempts: int = 4
    retry_budget_s: float = 120.0
    timeout_s: float | None = None
    """The judge option ``timeout_s=N``: seconds one call may take (over any profile's)."""
    modalities: frozenset[str] | None = None
    """The judge option ``modalities=...`` (over the profile's ``audio_input``/``video_input``)."""


class _HttpBackend:
    kind: str = ""
    modalities: frozenset[str] = DEFAULT
    """What the judge model accepts (set by :func:`make_backend`)."""

    def __init__(self, model: str, http: HttpEndpoint, options: BackendOptions,
                 deadline: Deadline | None = None) -> None:
        self.model = model
        self.http = http
        self.options = options
        self.deadline = deadline or Deadline(http.timeout_s)
        """A call's time limit, naming the setting that applies (judge option or profile)."""

    def describe(self) -> dict[str, Any]:
        described = {"kind": self.kind, "model": self.model, "endpoint": repr(self.http),
                     "temperature": 0.0, "max_tokens": self.options.max_tokens,
                     "json_mode": self.options.json_mode}
        if self.modalities != DEFAULT:  # cache keys of text+image judges stay as they were
            described["modalities"] = sorted(self.modalities)
        return described

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            return self.http.post(path, json_body=body, deadline=self.deadline).body

        try:
            return retried(once, max_attempts=self.options.retry_attempts,
                           max_rate_limited=self.options.retry_attempts,
                           budget_s=self.options.retry_budget_s)
        except InfrastructureError as exc:
            raise JudgeError(f"judge backend failed: {exc}") from None

    def close(self) -> None:
        self.http.close()


class OpenAIChatBackend(_HttpBackend):
    kind = "openai-chat"

    def complete(self, messages: Sequence[Message], *, json_mode: bool) -> BackendReply:
        wire: list[dict[str, Any]] = []
        for m in messages:
            if all(p.media is None for p in m.parts):
                wire.append({"role": m.role, "content": "\n\n".join(p.text or "" for p in m.parts)})
                continue
            content: list[dict[str, Any]] = []
            for p in m.parts:
                if p.media is not None:
                    content.append(openai_part(p.media))
                else:
                    content.append({"type": "text", "text": p.text or ""})
            wire.append({"role": m.role, "content": content})
        body: dict[str, Any] = {"model": self.model, "messages": wire, "temperature": 0.0,
                                "max_tokens": self.options.max_tokens, "seed": 0}
        if json_mode and self.options.json_mode:
            body["response_format"] = {"type": "json_object"}
        return self.post_chat(body)

    def post_chat(self, body: dict[str, Any]) -> BackendReply:
        """POST ``body`` as it is to ``/chat/completions`` and read the answer's text
        (``protocol=upstream`` judges build the toolkit's own body); a reply that is not
        one whole, finished text answer is a ``JudgeError`` (:mod:`.reading`)."""
        reply = self._post("/chat/completions", body)
        content_out = openai_judge_text(reply, self.model)
        version = reply.get("system_fingerprint") or reply.get("model")
        return BackendReply(content_out, str(version) if version else None)


class GeminiBackend(_HttpBackend):
    kind = "gemini"

    def complete(self, messages: Sequence[Message], *, json_mode: bool) -> BackendReply:
        system = [p.text or "" for m in messages if m.role == "system" for p in m.parts]
        contents: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "system":
                continue
            parts: list[dict[str, Any]] = []
            for p in m.parts:
                if p.media is not None:
                    parts.append(gemini_part(p.media))
                else:
                    parts.append({"text": p.text or ""})
            contents.append({"role": "model" if m.role == "assistant" else "user",
                             "parts": parts})
        config: dict[str, Any] = {"temperature": 0.0,
                                  "maxOutputTokens": self.options.max_tokens}
        if json_mode and self.options.json_mode:
            config["responseMimeType"] = "application/json"
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        reply = self._post(f"/models/{self.model.removeprefix('models/')}:generateContent",
                           body)
        text = gemini_judge_text(reply, self.model)
        version = reply.get("modelVersion")
        return BackendReply(text, str(version) if version else None)


def _endpoint(kind: BackendKind, model: str, settings: Mapping[str, Any],
              env: Mapping[str, str] | None) -> tuple[str, str, Secret | None, float, int]:
    base_url, key_env = DEFAULTS[kind]
    raw = {k: v for k, v in settings.items()
           if k in ("model", "base_url", "base_url_env", "api_key_env", "timeout_s",
                    "max_connections", "profile")}
    endpoint, secret = resolve_endpoint(kind, model, Settings(kind, raw),
                                        default_base_url=base_url,
                                        default_api_key_env=key_env, env=env)
    return (endpoint.model, endpoint.base_url, secret, endpoint.deadline("text").seconds,
            endpoint.max_connections)


def make_backend(
    target: str,
    *,
    base_dir: Path,
    options: BackendOptions,
    key_env: str | None = None,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ChatBackend:
    """Resolve a judge target (see the module docstring) to a backend."""
    settings: dict[str, Any]
    if target.startswith(("http://", "https://")):
        url, _, model = target.partition("#")
        if not model:
            raise ConfigError(f"judge target {target!r} names no model; write URL#MODEL, "
                              "e.g. http://127.0.0.1:8000/v1#Qwen2.5-VL-72B-Instruct")
        kind: BackendKind = "openai-chat"
        settings = {"base_url": url, "api_key_env": key_env or ""}
        profile: Mapping[str, Any] | None = None
    elif target.partition(":")[0] in DEFAULTS and ":" in target:
        kind_str, _, model = target.partition(":")
        kind = "gemini" if kind_str == "gemini" else "openai-chat"
        settings = {"api_key_env": key_env} if key_env else {}
        profile = None
    else:
        from unisafe_pytest.registry.builtin import (
            closest,
            find_profile,
            profile_dirs,
            profile_names,
        )

        dirs = profile_dirs(base_dir)
        found = find_profile(target, dirs)
        if found is None:
            names = profile_names(dirs)
            hint = closest(target, names)
            raise ConfigError(
                f"judge target {target!r} is not a profile (adapters/{target}.toml), not "
                "openai-chat:MODEL or gemini:MODEL, and not an http(s)://...#MODEL URL"
                + (f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
                + f" Profiles: {', '.join(names) or 'none found'}.")
        path, data = found
        if data.get("kind") not in DEFAULTS:
            raise ConfigError(f"judge profile {path.name!r} has kind {data.get('kind')!r}; "
                              "a judge needs kind 'openai-chat' or 'gemini'")
        kind = "gemini" if data["kind"] == "gemini" else "openai-chat"
        model = str(data.get("model") or "")
        settings = {**data, "profile": target}
        profile = data
        if key_env:
            settings["api_key_env"] = key_env
    seen = declared(kind, _shown(target), options.modalities, profile)
    model, base_url, secret, timeout_s, connections = _endpoint(kind, model, settings, env)
    deadline = _deadline(target, settings, options, timeout_s)
    auth: Literal["bearer", "x-goog-api-key", "none"] = "none" if secret is None else (
        "x-goog-api-key" if kind == "gemini" else "bearer")
    http = HttpEndpoint(label=f"judge {kind} {model}", base_url=base_url, api_key=secret,
                        auth=auth, timeout_s=deadline.seconds, max_connections=connections,
                        transport=transport)
    cls = GeminiBackend if kind == "gemini" else OpenAIChatBackend
    backend = cls(model, http, options, deadline)
    backend.modalities = seen
    return backend


def _shown(target: str) -> str:
    """``target`` as messages show it: a URL is never repeated (it may hold credentials)."""
    return "http://HOST:PORT/v1#MODEL" if target.startswith(("http://", "https://")) else target


def _deadline(target: str, settings: Mapping[str, Any], options: BackendOptions,
              profile_s: float) -> Deadline:
    """A judge call's time limit, and the setting a timeout's message tells to raise: the
    judge option ``timeout_s=N`` when given (it wins), else the judge profile's
    ``timeout_s``, else the default, raised by adding the option."""
    shown = _shown(target)
    example = f"e.g. --unisafe-judge=unisafe-rubric:{shown},timeout_s=300"
    if options.timeout_s is not None:
        return Deadline(options.timeout_s, source=(
            f"(the judge option timeout_s={options.timeout_s:g}); raise the judge option "
            f"timeout_s ({example})"))
    if "profile" in settings and "timeout_s" in settings:
        return Deadline(profile_s, source=(
            f"(timeout_s in the judge profile {target!r}); raise timeout_s in "
            f"adapters/{target}.toml or give the judge option timeout_s=N ({example})"))
    return Deadline(profile_s, source=(
        f"(the judges' default, {profile_s:g}s); give the judge option timeout_s=N "
        f"({example})"))


OPTION_KEYS = ("prompts", "reasks", "key_env", "max_tokens", "json", "retries", "cache",
               "protocol", "upstream_dir", "timeout_s", "modalities")
MAX_TIMEOUT_S = 3600.0
"""The largest judge option ``timeout_s``, in seconds."""


def split_options(spec: str, kind: str) -> tuple[str, dict[str, str]]:
    """``TARGET[,key=value...]`` -> (TARGET, options); unknown keys are a ``ConfigError``."""
    target, *rest = spec.split(",")
    options: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in OPTION_KEYS:
            raise ConfigError(
                f"--unisafe-judge={kind}:{spec!r}: option {item!r} is not KEY=VALUE with KEY "
                f"one of {', '.join(OPTION_KEYS)}")
        options[key] = value.strip()
    if not target:
        raise ConfigError(f"--unisafe-judge={kind}: needs a target, e.g. {kind}:PROFILE or "
                          f"{kind}:http://127.0.0.1:8000/v1#MODEL")
    return target, options


def int_option(options: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"judge option {key}={value!r} is not an integer in {low}..{high}")
    return int(value)


def backend_options(options: Mapping[str, str], *, max_tokens: int) -> BackendOptions:
    json_flag = options.get("json", "on")
    if json_flag not in ("on", "off"):
        raise ConfigError(f"judge option json={json_flag!r} must be 'on' or 'off'")
    return BackendOptions(max_tokens=int_option(options, "max_tokens", max_tokens, 16, 32768),
                          json_mode=json_flag == "on",
                          retry_attempts=int_option(options, "retries", 4, 1, 10),
                          timeout_s=seconds_option(options, "timeout_s"),
                          modalities=parse_modalities(options["modalities"])
                          if "modalities" in options else None)


def seconds_option(options: Mapping[str, str], key: str) -> float | None:
    """A judge option holding seconds: a number in (0, MAX_TIMEOUT_S], or absent."""
    value = options.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= MAX_TIMEOUT_S:  # also rejects nan
        raise ConfigError(f"judge option {key}={value!r} is not a number of seconds in "
                          f"(0, {MAX_TIMEOUT_S:g}], e.g. {key}=300")
    return number


class ModelJudge:
    """Base of the judges that ask a model (the UniSAFE rubric, Uni-Judger).

    The runtime's contract: their rows may be cached (the spec names model, prompt hash and
    parser version), and their calls count against ``--unisafe-concurrency``: the backend
    takes a limiter slot per HTTP attempt (``runtime/calls.py``), so none is held while it
    waits to retry.
    """

    cacheable = True
    remote = True
    limits_own_calls = True
    modalities: frozenset[str] = DEFAULT
    """What the judge sees (``judges.base.judge_modalities``): text and images unless the
    judge model declares more (the option ``modalities=``, :mod:`.judge_media`); the panel
    makes an output holding any other modality a judge error instead of judging the rest."""
    backend: ChatBackend

    def close(self) -> None:
        self.backend.close()
